"""Demo: rollups over the seeded month of traffic, and last month's quality report."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from reports.monthly import previous_month
from reports.rollups import rollup_rebuild
from reports.services import quality_report_generate


def seed(ctx) -> None:
    now = timezone.now()
    tenant_ids = [tenant.pk for tenant in ctx.tenants.values()]
    rollup_rebuild(start=now - timedelta(days=62), end=now + timedelta(hours=1), tenant_ids=tenant_ids)
    last_month = previous_month(timezone.localdate().replace(day=1))
    for tenant in ctx.tenants.values():
        quality_report_generate(tenant=tenant, year=last_month.year, month=last_month.month)
