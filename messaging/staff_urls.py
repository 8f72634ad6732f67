from django.urls import path  # noqa: F401

app_name = "messaging_staff"

urlpatterns: list = []
