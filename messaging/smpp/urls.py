"""Included from messaging/staff_urls.py (namespace `messaging_staff`)."""

from django.urls import path

from messaging.smpp import views

urlpatterns = [
    path("smpp/reviews/", views.reviews, name="smpp_reviews"),
    path("smpp/reviews/resolve/", views.reviews_resolve, name="smpp_reviews_resolve"),
]
