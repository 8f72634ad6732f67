"""Run one dispatch lane's work loop in the foreground (what the lane's Schedule runs inside
django-q2). Useful to drain a lane by hand, in benchmarks and in crash tests."""

from django.core.management.base import BaseCommand

from messaging.lanes import lane_loop


class Command(BaseCommand):
    help = "Runs the dispatch loop of one lane (urgent or bulk) for N seconds."

    def add_arguments(self, parser):
        parser.add_argument("lane", choices=["urgent", "bulk"])
        parser.add_argument("--seconds", type=float, default=55.0)

    def handle(self, *args, lane, seconds, **options):
        lane_loop(lane, seconds=seconds)
