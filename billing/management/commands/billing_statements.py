"""Generate (or regenerate) monthly statements from the command line, e.g. after fixing data:
`manage.py billing_statements 2026-10 [--tenant huamei-retail] [--email]`."""

import re

from django.core.management.base import BaseCommand, CommandError

from billing import services
from smsportal.errors import ServiceError
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Generates the statement of a closed month for one tenant or all active tenants."

    def add_arguments(self, parser):
        parser.add_argument("month", help="YYYY-MM")
        parser.add_argument("--tenant", help="tenant slug (default: every active tenant)")
        parser.add_argument("--email", action="store_true", help="email each statement to finance members and owners")

    def handle(self, *args, month, tenant=None, email=False, **options):
        match = re.fullmatch(r"(\d{4})-(\d{1,2})", month)
        if not match:
            raise CommandError("month must be YYYY-MM")
        year, number = int(match.group(1)), int(match.group(2))
        tenants = Tenant.objects.filter(slug=tenant) if tenant else Tenant.objects.filter(status=Tenant.Status.ACTIVE)
        if tenant and not tenants.exists():
            raise CommandError(f"no tenant {tenant!r}")
        for each in tenants.order_by("pk"):
            try:
                statement = services.statement_generate(tenant=each, year=year, month=number)
            except ServiceError as error:
                raise CommandError(f"{each.slug}: {error.message}") from error
            if email:
                services.statement_email(statement=statement)
            self.stdout.write(f"{each.slug}: {statement.period:%Y-%m} revision {statement.revision}")
