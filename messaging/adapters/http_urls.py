"""The generic HTTP provider's receipt callback, included from messaging/api_urls.py."""

from django.urls import path

from messaging.adapters.http import receipt_callback

urlpatterns = [
    path("channels/<int:channel_id>/receipts", receipt_callback, name="api-messaging-channel-receipts"),
]
