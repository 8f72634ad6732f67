"""Included from messaging/api_urls.py under /api/v1/."""

from django.urls import path

from messaging.webhooks import api

urlpatterns = [
    path("webhook", api.WebhookEndpointView.as_view(), name="api-webhook"),
    path("webhook/rotate-secret", api.WebhookSecretRotate.as_view(), name="api-webhook-rotate"),
    path("webhook/rotate-secret/finish", api.WebhookRotationFinish.as_view(), name="api-webhook-rotation-finish"),
    path("webhook/test", api.WebhookTestEvent.as_view(), name="api-webhook-test"),
    path("webhook/events", api.WebhookEventList.as_view(), name="api-webhook-events"),
    path("webhook/events/<int:event_pk>", api.WebhookEventDetail.as_view(), name="api-webhook-event"),
    path("webhook/events/<int:event_pk>/resend", api.WebhookEventResend.as_view(), name="api-webhook-event-resend"),
    path("webhook/attempts", api.WebhookAttemptList.as_view(), name="api-webhook-attempts"),
]
