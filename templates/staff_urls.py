from django.urls import path  # noqa: F401

app_name = "templates_staff"

urlpatterns: list = []
