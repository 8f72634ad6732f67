from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmppConfig(AppConfig):
    name = "messaging.smpp"
    label = "smpp"
    verbose_name = _("SMPP channels")
    default_auto_field = "django.db.models.BigAutoField"
