from django.apps import AppConfig


class WatchConfig(AppConfig):
    # A sub-app of messaging with its own migrations, so it can grow independently.
    name = "messaging.watch"
    label = "watch"
