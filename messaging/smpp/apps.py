from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmppConfig(AppConfig):
    name = "messaging.smpp"
    label = "smpp"
    verbose_name = _("SMPP channels")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from messaging.smpp import adapter  # noqa: F401  registers the "smpp" channel adapter
