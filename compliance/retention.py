"""Retention: after the tenant's retention period, message bodies and numbers are anonymised.

The rows stay (status, class, carrier, province, segments, times) so statements, rollups
and reports keep adding up; only the content and the number go. The number becomes its
masked form (138****8000), which no longer identifies a person. Consent records,
suppressions and complaints are kept: they are the proof the law asks for.

Set-based: one UPDATE per batch of ids (LIMIT), each batch its own short transaction, so a
large backlog never holds long locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from compliance.audit import audit_record
from compliance.models import RETENTION_MINIMUM_DAYS, TenantComplianceSettings
from compliance.selectors import message_model

BATCH_SIZE = 5000

# smsportal.numbers.mask, in SQL: +8613800138000 → 138****8000; others keep 3 + last 4.
_MASK_SQL = """
    CASE WHEN length(national) <= 7 THEN left(national, 2) || '****'
         ELSE left(national, 3) || '****' || right(national, 4) END
"""


def _national(column: str) -> str:
    return f"(CASE WHEN {column} LIKE '+86%%' THEN substr({column}, 4) ELSE {column} END)"


def _masked(column: str) -> str:
    return _MASK_SQL.replace("national", _national(column))


@dataclass
class PurgeResult:
    messages: int = 0
    replies: int = 0


def _purge_table(*, table: str, time_column: str, text_column: str, tenant_id: int, since, before, batch_size) -> int:
    """Anonymise rows of one tenant with since <= time < before, batch by batch."""
    lower = f"AND {time_column} >= %s" if since else ""
    sql = f"""
        UPDATE {table} SET {text_column} = '', number = {_masked("number")}
         WHERE id IN (
            SELECT id FROM {table}
             WHERE tenant_id = %s AND {time_column} < %s {lower}
               AND ({text_column} <> '' OR strpos(number, '*') = 0)
             ORDER BY id LIMIT %s)
    """  # noqa: S608 (table and column names are ours; values are bound)
    params = [tenant_id, before] + ([since] if since else []) + [batch_size]
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            changed = cursor.rowcount
        total += changed
        if changed < batch_size:
            return total


def retention_purge_tenant(*, tenant, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> PurgeResult:
    """Anonymise everything of `tenant` accepted before now − retention days."""
    Message = message_model()
    now = now or timezone.now()
    row, _created = TenantComplianceSettings.objects.get_or_create(tenant=tenant)
    days = max(row.retention_days, RETENTION_MINIMUM_DAYS)
    cutoff = now - timedelta(days=days)
    # Rows before the last cutoff were anonymised already; a day's overlap covers late inserts.
    since = row.purged_before - timedelta(days=1) if row.purged_before else None
    result = PurgeResult()
    if Message is not None:
        from messaging.models import InboundMessage

        result.messages = _purge_table(
            table=Message._meta.db_table,
            time_column="accepted_at",
            text_column="body",
            tenant_id=tenant.pk,
            since=since,
            before=cutoff,
            batch_size=batch_size,
        )
        result.replies = _purge_table(
            table=InboundMessage._meta.db_table,
            time_column="received_at",
            text_column="text",
            tenant_id=tenant.pk,
            since=since,
            before=cutoff,
            batch_size=batch_size,
        )
    with transaction.atomic():
        TenantComplianceSettings.objects.filter(pk=row.pk).update(purged_before=cutoff, last_purged_at=now)
        if result.messages or result.replies:
            audit_record(
                tenant=tenant,
                actor=None,
                actor_label="system",
                action="retention.purged",
                after={
                    "messages": result.messages,
                    "replies": result.replies,
                    "before": cutoff.isoformat(),
                    "retention_days": days,
                },
            )
    return result


def retention_purge_all(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[int, PurgeResult]:
    from tenants.models import Tenant

    return {
        tenant.pk: retention_purge_tenant(tenant=tenant, now=now, batch_size=batch_size)
        for tenant in Tenant.objects.order_by("pk")
    }
