from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    # A sub-app of messaging with its own migrations, so it can grow independently.
    name = "messaging.webhooks"
    label = "webhooks"
