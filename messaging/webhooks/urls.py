"""Included from messaging/urls.py (namespace `messaging`) under webhooks/."""

from django.urls import path

from messaging.webhooks import views

urlpatterns = [
    path("", views.webhook_settings, name="webhooks"),
    path("rotate/", views.webhook_secret_rotate, name="webhook_rotate"),
    path("rotate/finish/", views.webhook_rotation_finish, name="webhook_rotation_finish"),
    path("test/", views.webhook_test, name="webhook_test"),
    path("resend-failed/", views.webhook_resend_failed, name="webhook_resend_failed"),
    path("events/<int:event_id>/", views.webhook_event_detail, name="webhook_event"),
    path("events/<int:event_id>/resend/", views.webhook_event_resend, name="webhook_event_resend"),
]
