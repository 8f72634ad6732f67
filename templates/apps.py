from django.apps import AppConfig


class TemplatesConfig(AppConfig):
    # Message templates (not HTML templates): signatures, versions, rendering, segments.
    name = "templates"
    label = "templates"
    verbose_name = "Message templates"
