from django.urls import include, path

app_name = "messaging"

urlpatterns: list = [
    path("webhooks/", include("messaging.webhooks.urls")),  # tenant status webhooks (messaging.webhooks)
]
