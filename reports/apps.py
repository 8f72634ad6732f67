from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from messaging.events import register_status_listener
        from reports.rollups import on_status_changes

        register_status_listener(on_status_changes)
