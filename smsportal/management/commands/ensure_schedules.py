"""Creates or updates every django-q2 Schedule the product needs, idempotently.

Each app that has periodic work exposes `<app>.tasks.ensure_schedules()`; this command calls
them all. `make migrate` (and so `make demo`/`make test`) runs it after migrating.
"""

import importlib

from django.core.management.base import BaseCommand

APPS_WITH_SCHEDULES = [
    "templates",
    "compliance",
    "billing",
    "messaging",
    "messaging.webhooks",
    "messaging.watch",
    "campaigns",
    "reports",
]


def ensure_all() -> list[str]:
    done = []
    for app in APPS_WITH_SCHEDULES:
        try:
            module = importlib.import_module(f"{app}.tasks")
        except ModuleNotFoundError as error:
            if error.name != f"{app}.tasks":
                raise
            continue
        if hasattr(module, "ensure_schedules"):
            module.ensure_schedules()
            done.append(app)
    return done


class Command(BaseCommand):
    help = "Creates or updates the django-q2 schedules of every app (idempotent)."

    def handle(self, *args, **options):
        done = ensure_all()
        if options["verbosity"] > 0:
            self.stdout.write("Schedules ensured for: " + (", ".join(done) or "no app"))
