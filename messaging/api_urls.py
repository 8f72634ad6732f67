from django.urls import include, path

from messaging import api

urlpatterns: list = [
    path("messages", api.MessageListCreate.as_view(), name="api-messaging-messages"),
    path("messages/batch", api.MessageBatch.as_view(), name="api-messaging-batch"),
    path("messages/<int:message_id>", api.MessageDetail.as_view(), name="api-messaging-message"),
    path("", include("messaging.webhooks.api_urls")),  # the tenant's status-webhook endpoint
    path("", include("messaging.adapters.http_urls")),  # HTTP provider receipt callbacks (hooks)
]
