"""Retention: after the tenant's retention period, personal data goes; the proof stays.

- Message bodies and numbers, and inbound replies: anonymised. The rows stay (status, class,
  carrier, province, segments, times) so statements, rollups and reports keep adding up; the
  number becomes its masked form (138****8000), which no longer identifies a person.
- Campaign contact lists: a contact not imported (again) within the period is deleted and
  its list's count follows; a list left empty and untouched for the whole period goes too,
  with its imports. Lists of a scheduled, running or paused campaign (or of a draft edited
  within the period), and lists an import is filling, are left alone. Uploaded contact files
  and their per-row rejections older than the period are deleted. Finished campaigns'
  recipients lose their number (an opaque `#<id>` keeps the row; click counts stay).
- Tenant status webhooks: events older than the period (their payloads carry numbers and
  reply texts) and their attempt log (response excerpts) are deleted, unless an event is
  still pending delivery within its retry window.
- Kept: consent records, suppressions and complaints (the proof the law asks for) and the
  audit log.

Set-based: one statement per batch of rows (LIMIT), each batch its own short transaction, so
a large backlog never holds long locks; nothing is read or written row by row (only the
files of old uploads are removed one by one from storage, one per upload).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from compliance.audit import audit_record
from compliance.models import RETENTION_MINIMUM_DAYS, TenantComplianceSettings
from compliance.selectors import message_model

log = logging.getLogger(__name__)

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
    contacts: int = 0
    contact_lists: int = 0
    contact_files: int = 0
    import_rejections: int = 0
    campaign_recipients: int = 0
    webhook_events: int = 0
    webhook_attempts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def anything(self) -> bool:
        return any(self.as_dict().values())


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


def _batches(sql: str, params: dict, *, batch_size: int, prepare=None) -> int:
    """Run `sql` (named parameters; `%(limit)s` is the batch size; it returns one row: the
    number of rows it changed) until a batch comes back short, each batch in its own
    transaction. `prepare(cursor)` runs first inside each batch's transaction and returns
    more parameters, or None to stop (e.g. nothing could be locked)."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            extra = prepare(cursor) if prepare is not None else {}
            if extra is None:
                return total
            cursor.execute(sql, {**params, **extra, "limit": batch_size})
            changed = int(cursor.fetchone()[0] or 0)
        total += changed
        if changed < batch_size:
            return total


def retention_purge_tenant(*, tenant, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> PurgeResult:
    """Purge or anonymise everything of `tenant` older than now − retention days."""
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
    if apps.is_installed("campaigns"):
        _purge_contacts(tenant_id=tenant.pk, cutoff=cutoff, batch_size=batch_size, result=result)
        _purge_campaign_recipients(tenant_id=tenant.pk, cutoff=cutoff, batch_size=batch_size, result=result)
    if apps.is_installed("messaging.webhooks"):
        _purge_webhooks(tenant_id=tenant.pk, now=now, cutoff=cutoff, batch_size=batch_size, result=result)
    with transaction.atomic():
        TenantComplianceSettings.objects.filter(pk=row.pk).update(purged_before=cutoff, last_purged_at=now)
        if result.anything:
            audit_record(
                tenant=tenant,
                actor=None,
                actor_label="system",
                action="retention.purged",
                after={**result.as_dict(), "before": cutoff.isoformat(), "retention_days": days},
            )
    return result


# --- Campaign contact lists -------------------------------------------------------------


def _campaign_tables() -> dict[str, str]:
    from campaigns.models import Campaign, CampaignRecipient, Contact, ContactImport, ContactList, ImportRejection

    return {
        "contact": Contact._meta.db_table,
        "list": ContactList._meta.db_table,
        "campaign": Campaign._meta.db_table,
        "link": Campaign.contact_lists.through._meta.db_table,
        "recipient": CampaignRecipient._meta.db_table,
        "import": ContactImport._meta.db_table,
        "rejection": ImportRejection._meta.db_table,
    }


def _list_params(tenant_id: int, cutoff) -> dict:
    from campaigns.models import Campaign, ContactImport

    return {
        "tenant": tenant_id,
        "cutoff": cutoff,
        "active": [Campaign.Status.SCHEDULED.value, Campaign.Status.RUNNING.value, Campaign.Status.PAUSED.value],
        "draft": Campaign.Status.DRAFT.value,
        "importing": [ContactImport.Status.PENDING.value, ContactImport.Status.RUNNING.value],
    }


def _list_in_use(t: dict[str, str]) -> str:
    """SQL: the list `l` is used by a campaign that may still send, or an import is filling it."""
    return f"""(
        EXISTS (SELECT 1 FROM {t["link"]} x JOIN {t["campaign"]} c ON c.id = x.campaign_id
                 WHERE x.contactlist_id = l.id AND c.tenant_id = l.tenant_id
                   AND (c.status = ANY(%(active)s) OR (c.status = %(draft)s AND c.updated_at >= %(cutoff)s)))
        OR EXISTS (SELECT 1 FROM {t["import"]} i
                    WHERE i.tenant_id = l.tenant_id AND i.contact_list_id = l.id AND i.status = ANY(%(importing)s))
    )"""  # noqa: S608 (our table names; values are bound)


def _purge_contacts(*, tenant_id: int, cutoff, batch_size: int, result: PurgeResult) -> None:
    t = _campaign_tables()
    params = _list_params(tenant_id, cutoff)
    in_use = _list_in_use(t)

    def lock_lists(cursor):
        # The importer locks its list before merging into it: take the lists' locks first
        # (same order, no deadlock) and leave a busy list for the next night.
        cursor.execute(
            f"""SELECT l.id FROM {t["list"]} l WHERE l.tenant_id = %(tenant)s AND NOT {in_use}
                 ORDER BY l.id FOR UPDATE SKIP LOCKED""",  # noqa: S608
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
        return {"lists": ids} if ids else None

    # A contact's updated_at is refreshed whenever an import brings the number again.
    result.contacts = _batches(
        f"""WITH gone AS (
                DELETE FROM {t["contact"]} WHERE id = ANY(ARRAY(
                    SELECT id FROM {t["contact"]}
                     WHERE tenant_id = %(tenant)s AND contact_list_id = ANY(%(lists)s) AND updated_at < %(cutoff)s
                     LIMIT %(limit)s FOR UPDATE SKIP LOCKED))
                RETURNING contact_list_id),
            per_list AS (SELECT contact_list_id, count(*) AS n FROM gone GROUP BY contact_list_id),
            counted AS (
                UPDATE {t["list"]} l SET contact_count = greatest(l.contact_count - p.n, 0)
                  FROM per_list p WHERE l.tenant_id = %(tenant)s AND l.id = p.contact_list_id
                RETURNING p.n)
            SELECT coalesce(sum(n), 0)::bigint FROM counted""",  # noqa: S608
        params,
        batch_size=batch_size,
        prepare=lock_lists,
    )

    # Lists now empty and untouched for the whole period.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT l.id FROM {t["list"]} l
                 WHERE l.tenant_id = %(tenant)s AND l.updated_at < %(cutoff)s AND NOT {in_use}
                   AND NOT EXISTS (SELECT 1 FROM {t["contact"]} k
                                    WHERE k.tenant_id = l.tenant_id AND k.contact_list_id = l.id)""",  # noqa: S608
            params,
        )
        stale = [row[0] for row in cursor.fetchall()]
    params["stale"] = stale

    # Uploaded files older than the period (and every file of a stale list) leave storage.
    result.contact_files = _delete_upload_files(tenant_id=tenant_id, cutoff=cutoff, stale_lists=stale)
    result.import_rejections = _batches(
        f"""WITH gone AS (
                DELETE FROM {t["rejection"]} WHERE id IN (
                    SELECT r.id FROM {t["rejection"]} r JOIN {t["import"]} i ON i.id = r.contact_import_id
                     WHERE r.tenant_id = %(tenant)s AND i.tenant_id = %(tenant)s
                       AND NOT i.status = ANY(%(importing)s)
                       AND (r.created_at < %(cutoff)s OR i.contact_list_id = ANY(%(stale)s))
                     LIMIT %(limit)s)
                RETURNING 1)
            SELECT count(*) FROM gone""",  # noqa: S608
        params,
        batch_size=batch_size,
    )
    if not stale:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT l.id FROM {t["list"]} l
                 WHERE l.tenant_id = %(tenant)s AND l.id = ANY(%(stale)s) AND l.updated_at < %(cutoff)s
                   AND NOT {in_use}
                   AND NOT EXISTS (SELECT 1 FROM {t["contact"]} k
                                    WHERE k.tenant_id = l.tenant_id AND k.contact_list_id = l.id)
                 FOR UPDATE SKIP LOCKED""",  # noqa: S608
            params,
        )
        doomed = {"tenant": tenant_id, "ids": [row[0] for row in cursor.fetchall()]}
        # Table names are ours; values are bound.
        rejections = f"""DELETE FROM {t["rejection"]} WHERE tenant_id = %(tenant)s AND contact_import_id IN (
                SELECT id FROM {t["import"]} WHERE tenant_id = %(tenant)s AND contact_list_id = ANY(%(ids)s))"""  # noqa: S608
        imports = f"DELETE FROM {t['import']} WHERE tenant_id = %(tenant)s AND contact_list_id = ANY(%(ids)s)"  # noqa: S608
        links = f"DELETE FROM {t['link']} WHERE contactlist_id = ANY(%(ids)s)"  # noqa: S608
        lists = f"DELETE FROM {t['list']} WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s)"  # noqa: S608
        for statement in (rejections, imports, links, lists):
            cursor.execute(statement, doomed)
        result.contact_lists = cursor.rowcount


def _delete_upload_files(*, tenant_id: int, cutoff, stale_lists: list[int]) -> int:
    """Remove old contact uploads from storage and blank their file field (one UPDATE)."""
    from django.db.models import Q

    from campaigns.models import ContactImport

    old = (
        ContactImport.objects.filter(tenant_id=tenant_id)
        .exclude(file="")
        .exclude(status__in=[ContactImport.Status.PENDING, ContactImport.Status.RUNNING])
        .filter(Q(created_at__lt=cutoff) | Q(contact_list_id__in=stale_lists))
    )
    rows = list(old.values_list("pk", "file"))
    if not rows:
        return 0
    storage = ContactImport._meta.get_field("file").storage
    for _pk, name in rows:
        try:
            storage.delete(name)
        except OSError:  # already gone, or storage down: the row is blanked anyway; log it
            log.warning("retention: could not delete contact upload %s", name, exc_info=True)
    return ContactImport.objects.filter(pk__in=[pk for pk, _name in rows]).update(file="")


def _purge_campaign_recipients(*, tenant_id: int, cutoff, batch_size: int, result: PurgeResult) -> None:
    """A campaign finished before the cutoff keeps its recipients' rows (clicks, counts) but
    not their numbers; the contact link goes too (the contact may be deleted already)."""
    from campaigns.models import Campaign

    t = _campaign_tables()
    result.campaign_recipients = _batches(
        f"""WITH gone AS (
                UPDATE {t["recipient"]} SET number = '#' || id::text, contact_id = NULL
                 WHERE id IN (
                    SELECT r.id FROM {t["recipient"]} r JOIN {t["campaign"]} c ON c.id = r.campaign_id
                     WHERE r.tenant_id = %(tenant)s AND c.tenant_id = %(tenant)s AND c.status = ANY(%(finished)s)
                       AND coalesce(c.finished_at, c.updated_at) < %(cutoff)s AND left(r.number, 1) <> '#'
                     LIMIT %(limit)s)
                RETURNING 1)
            SELECT count(*) FROM gone""",  # noqa: S608
        {
            "tenant": tenant_id,
            "cutoff": cutoff,
            "finished": [Campaign.Status.COMPLETED.value, Campaign.Status.CANCELLED.value],
        },
        batch_size=batch_size,
    )


# --- Tenant status webhooks -------------------------------------------------------------


def _purge_webhooks(*, tenant_id: int, now, cutoff, batch_size: int, result: PurgeResult) -> None:
    """Events created before the cutoff go with their attempts, batch by batch. A pending event
    still inside its retry window is left to the delivery worker (it gives up within a day)."""
    from messaging.webhooks.models import WebhookAttempt, WebhookEvent

    events, attempts = WebhookEvent._meta.db_table, WebhookAttempt._meta.db_table
    sql = f"""
        WITH doomed AS (
            SELECT id FROM {events}
             WHERE tenant_id = %(tenant)s AND created_at < %(cutoff)s
               AND (status <> %(pending)s OR give_up_at < %(now)s)
             ORDER BY id LIMIT %(limit)s
               FOR UPDATE SKIP LOCKED),
        gone_attempts AS (
            DELETE FROM {attempts} WHERE tenant_id = %(tenant)s AND event_id IN (SELECT id FROM doomed)
            RETURNING 1),
        gone AS (DELETE FROM {events} WHERE id IN (SELECT id FROM doomed) RETURNING 1)
        SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM gone_attempts)
    """  # noqa: S608 (our table names; values are bound)
    params = {"tenant": tenant_id, "cutoff": cutoff, "now": now, "pending": WebhookEvent.Status.PENDING.value}
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {**params, "limit": batch_size})
            gone, gone_attempts = cursor.fetchone()
        result.webhook_events += gone
        result.webhook_attempts += gone_attempts
        if gone < batch_size:
            return


def retention_purge_all(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[int, PurgeResult]:
    from tenants.models import Tenant

    return {
        tenant.pk: retention_purge_tenant(tenant=tenant, now=now, batch_size=batch_size)
        for tenant in Tenant.objects.order_by("pk")
    }
