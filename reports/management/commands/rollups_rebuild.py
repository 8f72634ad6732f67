"""Recompute the message rollups from the raw tables for a period (all tenants, or one).

    python manage.py rollups_rebuild --from 2026-10-01 --to 2026-10-31 [--tenant acme]

Days are whole days in the platform's time zone, both ends included. The numbers equal what
the incremental refresh keeps (both run the same statement), so a rebuild is always safe:
after restoring data, after a bug, or to fill history at once after an upgrade instead of
waiting for the one-minute refresh to work through the hours queued for it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.rollups import rollup_rebuild
from tenants.models import Tenant

MAX_DAYS = 731


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option}: expected a date as YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = "Recomputes the message rollups from raw data for a period (both days included)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--tenant", help="only this tenant (its short name); default: every tenant")

    def handle(self, *args, first, last, tenant=None, **options):
        first_day, last_day = _day(first, "--from"), _day(last, "--to")
        if last_day < first_day:
            raise CommandError("--to is before --from")
        if (last_day - first_day).days >= MAX_DAYS:
            raise CommandError(f"at most {MAX_DAYS} days per run; split the period")
        tenant_ids = None
        if tenant:
            found = Tenant.objects.filter(slug=tenant).values_list("id", flat=True).first()
            if found is None:
                raise CommandError(f"no tenant with short name {tenant!r}")
            tenant_ids = [found]
        zone = ZoneInfo(settings.TIME_ZONE)
        start = datetime.combine(first_day, time.min, zone)
        end = datetime.combine(last_day + timedelta(days=1), time.min, zone)
        pairs = rollup_rebuild(start=start, end=end, tenant_ids=tenant_ids)
        self.stdout.write(f"Rebuilt {pairs:,} tenant-hours from {first_day} to {last_day}.")
