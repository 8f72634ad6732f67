from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WatchConfig(AppConfig):
    # A sub-app of messaging with its own migrations, so it can grow independently.
    name = "messaging.watch"
    label = "watch"
    verbose_name = _("Channel watch")

    def ready(self):
        # Registers the "http" channel adapter in every process (web and lane workers); its
        # raw-code mapping table lives in this app.
        import messaging.adapters.http  # noqa: F401
