from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    # A sub-app of messaging with its own migrations, so it can grow independently.
    name = "messaging.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from messaging.events import register_status_listener
        from messaging.webhooks.listeners import on_status_changes

        register_status_listener(on_status_changes)
