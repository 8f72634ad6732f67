"""Writes of the campaigns app: contact lists and their imports (campaign services live in
campaigns/campaign_services.py, the fan-out in campaigns/fanout.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.importers import MAX_ROWS, FastNormalizer, map_columns, open_contact_file
from campaigns.models import Campaign, CampaignSettings, ContactImport, ContactList
from compliance.audit import audit_record
from messaging.services import sends_hold, sends_release
from smsportal.errors import Conflict, PaymentRequired, ServiceError, Unprocessable
from smsportal.numbers import InvalidNumber
from tenants.models import Tenant

log = logging.getLogger(__name__)

IMPORT_CHUNK_ROWS = 20_000
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def contact_list_create(*, tenant: Tenant, actor, name: str, description: str = "") -> ContactList:
    name = (name or "").strip()
    if not name:
        raise Unprocessable("invalid", _("Give the list a name."), field="name")
    if ContactList.objects.for_tenant(tenant).filter(name=name).exists():
        raise Conflict("duplicate_name", _("A list with this name already exists."), field="name")
    try:
        with transaction.atomic():
            contact_list = ContactList.objects.create(
                tenant=tenant, name=name, description=description.strip(), created_by=_user(actor)
            )
            audit_record(tenant=tenant, actor=actor, action="contact_list.created", obj=contact_list)
    except IntegrityError:
        raise Conflict("duplicate_name", _("A list with this name already exists."), field="name") from None
    return contact_list


def contact_list_delete(*, tenant: Tenant, actor, contact_list: ContactList) -> None:
    if contact_list.tenant_id != tenant.pk:
        raise ServiceError("not_found", _("Not found."), status=404)
    if contact_list.campaigns.exclude(status__in=["completed", "cancelled", "draft"]).exists():
        raise Conflict("list_in_use", _("A scheduled or running campaign uses this list."))
    with transaction.atomic():
        audit_record(
            tenant=tenant,
            actor=actor,
            action="contact_list.deleted",
            obj=contact_list,
            before={"name": contact_list.name, "contacts": contact_list.contact_count},
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM campaigns_contact WHERE tenant_id = %s AND contact_list_id = %s",
                [tenant.pk, contact_list.pk],
            )
        contact_list.delete()


def contact_import_start(
    *,
    tenant: Tenant,
    actor,
    upload: UploadedFile,
    contact_list: ContactList | None = None,
    new_list_name: str = "",
    number_column: str = "",
) -> ContactImport:
    """Check the file's header and first rows now (so a bad file is refused before anything is
    created), store it, and import it in the background on the bulk lane."""
    if upload is None:
        raise Unprocessable("invalid", _("Choose a file."), field="file")
    if upload.size > MAX_UPLOAD_BYTES:
        raise Unprocessable("file_too_large", _("The file is larger than 512 MB."), field="file")
    name = os.path.basename(upload.name or "contacts.csv")
    if not name.lower().endswith((".csv", ".txt", ".xlsx")):
        raise Unprocessable("unsupported_file", _("Upload a CSV or XLSX file."), field="file")
    upload.seek(0)
    try:
        opened = open_contact_file(upload)
        columns = map_columns(opened.header, number_column)
        first = next((row for row in opened.rows if any(cell.strip() for cell in row)), None)
    except UnicodeDecodeError:
        raise Unprocessable(
            "unreadable_encoding",
            _("The file's text encoding could not be read; save it as UTF-8 or GBK."),
            field="file",
        ) from None
    except ServiceError as error:
        if not error.fields:
            error.fields["file"] = [error.message]
        raise
    if first is None:
        raise Unprocessable("empty_file", _("The file has a header row but no contacts."), field="file")
    opened.close()
    upload.seek(0)
    with transaction.atomic():
        if contact_list is None:
            contact_list = contact_list_create(tenant=tenant, actor=actor, name=new_list_name)
        elif contact_list.tenant_id != tenant.pk:
            raise ServiceError("not_found", _("Not found."), status=404)
        if contact_list.imports.filter(
            status__in=[ContactImport.Status.PENDING, ContactImport.Status.RUNNING]
        ).exists():
            raise Conflict("import_running", _("An import into this list is still running."))
        contact_import = ContactImport(
            tenant=tenant,
            contact_list=contact_list,
            original_name=name[:200],
            file_format=opened.file_format,
            encoding=opened.encoding,
            number_column=opened.header[columns.number_index],
            columns=[h[:100] for h in opened.header],
            size_bytes=upload.size or 0,
            created_by=_user(actor),
        )
        contact_import.file.save(name, upload, save=False)
        contact_import.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="contact_list.import_started",
            obj=contact_list,
            after={"import": contact_import.pk, "file": name},
        )
        transaction.on_commit(lambda: _enqueue_import(contact_import.pk))
    return contact_import


def _enqueue_import(import_id: int) -> None:
    from django_q.tasks import async_task

    async_task("campaigns.tasks.contact_import_run", import_id, cluster="bulk", task_name=f"contact-import-{import_id}")


def contact_import_run(*, contact_import_id: int) -> ContactImport:
    """Stream the file into a session-local staging table with COPY (progress committed as it
    goes), then merge it into the list with one INSERT … SELECT … ON CONFLICT. A failure
    leaves the list as it was."""
    contact_import = ContactImport.objects.select_related("contact_list", "tenant").get(pk=contact_import_id)
    if contact_import.status == ContactImport.Status.DONE:
        return contact_import
    ContactImport.objects.filter(pk=contact_import.pk).update(
        status=ContactImport.Status.RUNNING, started_at=timezone.now(), error_code="", error_message=""
    )
    contact_import.rejections.all().delete()
    staging = f"contact_staging_{contact_import.pk}"
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {staging}")
            cursor.execute(
                f"CREATE TEMP TABLE {staging} (row_number integer, number text, carrier text, province text,"
                " attributes jsonb)"
            )
        stats = _stream_into_staging(contact_import, staging)
        with transaction.atomic():
            contact_list = ContactList.objects.select_for_update().get(pk=contact_import.contact_list_id)
            summary = _merge_staging(contact_import, staging)
            contact_list.fields = sorted(set(contact_list.fields) | set(stats["fields"]))
            contact_list.contact_count = contact_list.contacts.count()
            contact_list.save(update_fields=["fields", "contact_count", "updated_at"])
            ContactImport.objects.filter(pk=contact_import.pk).update(
                status=ContactImport.Status.DONE,
                rows_read=stats["rows"],
                bytes_read=contact_import.size_bytes,
                imported=summary["imported"],
                duplicates=stats["valid"] - summary["imported"],
                invalid=stats["invalid"],
                carrier_counts=summary["carriers"],
                province_counts=summary["provinces"],
                finished_at=timezone.now(),
            )
            audit_record(
                tenant=contact_import.tenant,
                actor=contact_import.created_by,
                action="contact_list.imported",
                obj=contact_list,
                after={"import": contact_import.pk, "imported": summary["imported"], "invalid": stats["invalid"]},
            )
    except ServiceError as error:
        _fail_import(contact_import, error.code, error.message)
    except UnicodeDecodeError as error:
        _fail_import(
            contact_import,
            "unreadable_encoding",
            _("The file's text encoding changes part-way (at byte %(position)s); save it as UTF-8 or GBK.")
            % {"position": error.start},
        )
    except Exception:
        log.exception("contact import %s failed", contact_import.pk)
        _fail_import(contact_import, "import_failed", _("The import failed; please try again."))
        raise
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {staging}")
    contact_import.refresh_from_db()
    return contact_import


def _fail_import(contact_import: ContactImport, code: str, message: str) -> None:
    contact_import.rejections.all().delete()
    ContactImport.objects.filter(pk=contact_import.pk).update(
        status=ContactImport.Status.FAILED,
        error_code=code,
        error_message=str(message)[:500],
        finished_at=timezone.now(),
    )


def _stream_into_staging(contact_import: ContactImport, staging: str) -> dict:
    normalizer = FastNormalizer()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    rows = valid = invalid = 0
    with contact_import.file.open("rb") as binary:
        opened = open_contact_file(binary)
        columns = map_columns(opened.header, contact_import.number_column)
        number_index, attribute_columns = columns.number_index, columns.attributes
        width = max([number_index] + [index for index, _ in attribute_columns]) + 1
        good: list[tuple] = []
        bad: list[tuple] = []
        row_number = 1  # the header is row 1, as a spreadsheet shows it
        try:
            for row in opened.rows:
                row_number += 1
                if len(row) < width:
                    if not any(row):
                        continue
                    row = row + [""] * (width - len(row))
                raw = row[number_index]
                rows += 1
                try:
                    number = normalizer(raw)
                except InvalidNumber as error:
                    if not raw.strip() and not any(row):
                        rows -= 1
                        continue
                    bad.append((row_number, raw[:64], error.reason))
                    invalid += 1
                else:
                    attributes = {name: row[index].strip() for index, name in attribute_columns}
                    good.append((row_number, number.e164, number.carrier, number.province, dumps(attributes)))
                    valid += 1
                if rows > MAX_ROWS:
                    raise Unprocessable(
                        "too_many_rows", _("A list file may hold at most %(max)s rows.") % {"max": f"{MAX_ROWS:,}"}
                    )
                if len(good) + len(bad) >= IMPORT_CHUNK_ROWS:
                    _copy_chunk(contact_import, staging, good, bad)
                    good, bad = [], []
                    ContactImport.objects.filter(pk=contact_import.pk).update(
                        rows_read=rows, bytes_read=opened.position()
                    )
            _copy_chunk(contact_import, staging, good, bad)
        finally:
            opened.close()
    if rows == 0:
        raise Unprocessable("empty_file", _("The file has a header row but no contacts."))
    return {"rows": rows, "valid": valid, "invalid": invalid, "fields": columns.fields}


def _copy_chunk(contact_import: ContactImport, staging: str, good: list[tuple], bad: list[tuple]) -> None:
    with connection.cursor() as cursor:
        if good:
            with cursor.copy(f"COPY {staging} (row_number, number, carrier, province, attributes) FROM STDIN") as copy:
                for item in good:
                    copy.write_row(item)
        if bad:
            now = timezone.now()
            with cursor.copy(
                "COPY campaigns_importrejection (tenant_id, contact_import_id, row_number, raw_number, reason,"
                " created_at, updated_at) FROM STDIN"
            ) as copy:
                for row_number, raw, reason in bad:
                    copy.write_row((contact_import.tenant_id, contact_import.pk, row_number, raw, reason, now, now))


def _merge_staging(contact_import: ContactImport, staging: str) -> dict:
    with connection.cursor() as cursor:
        # Deduplicating a million staged rows sorts in memory instead of spilling to disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM campaigns_contact WHERE tenant_id = %s AND contact_list_id = %s)",
            [contact_import.tenant_id, contact_import.contact_list_id],
        )
        # Into an empty list a plain INSERT does (about 1.7x faster than ON CONFLICT's
        # speculative insertion); the import lock on the list keeps it empty meanwhile.
        on_conflict = (
            """ON CONFLICT (tenant_id, contact_list_id, number) DO UPDATE
                SET attributes = campaigns_contact.attributes || EXCLUDED.attributes,
                    updated_at = EXCLUDED.updated_at"""
            if cursor.fetchone()[0]
            else ""
        )
        cursor.execute(
            # The staging name is built from the import's integer id, never from input.
            f"""
            WITH merged AS (
                INSERT INTO campaigns_contact
                    (tenant_id, contact_list_id, number, carrier, province, attributes, created_at, updated_at)
                SELECT DISTINCT ON (number) %(tenant)s, %(list)s, number, carrier, province, attributes, now(), now()
                FROM {staging}
                ORDER BY number, row_number DESC
                {on_conflict}
                RETURNING (xmax = 0) AS inserted, carrier, province
            )
            SELECT inserted, carrier, province, count(*) FROM merged GROUP BY 1, 2, 3
            """,  # noqa: S608
            {"tenant": contact_import.tenant_id, "list": contact_import.contact_list_id},
        )
        imported, carriers, provinces = 0, {}, {}
        for inserted, carrier, province, count in cursor.fetchall():
            if inserted:
                imported += count
            carriers[carrier] = carriers.get(carrier, 0) + count
            provinces[province or "?"] = provinces.get(province or "?", 0) + count
    return {"imported": imported, "carriers": carriers, "provinces": provinces}


def campaign_settings_for(*, tenant: Tenant) -> CampaignSettings:
    from smsportal.enums import MessageClass

    settings, _created = CampaignSettings.objects.get_or_create(
        tenant=tenant, defaults={"quiet_classes": [MessageClass.MARKETING]}
    )
    return settings


def campaign_settings_update(
    *, tenant: Tenant, actor, send_window_start, send_window_end, quiet_classes
) -> CampaignSettings:
    with transaction.atomic():
        settings = campaign_settings_for(tenant=tenant)
        before = {
            "start": str(settings.send_window_start),
            "end": str(settings.send_window_end),
            "classes": settings.quiet_classes,
        }
        settings.send_window_start = send_window_start
        settings.send_window_end = send_window_end
        settings.quiet_classes = list(quiet_classes)
        settings.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="campaign_settings.updated",
            obj=settings,
            before=before,
            after={"start": str(send_window_start), "end": str(send_window_end), "classes": list(quiet_classes)},
        )
    return settings


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) and not getattr(actor, "is_api_client", False) else None


# --- Campaigns ----------------------------------------------------------------------------
RECIPIENT_CHUNK = 20_000
MAX_TEST_NUMBERS = 5


def _check_send_at(send_at):
    if send_at is not None and send_at < timezone.now() - dt.timedelta(seconds=30):
        raise Unprocessable("schedule_in_past", _("The scheduled time is in the past."), field="send_at")
    return send_at


def _variable_errors(*, version, campaign_fields: set[str], variables: dict, link_variable: str) -> dict:
    errors: dict[str, list[str]] = {}
    declared = {spec["name"] for spec in version.variables or []}
    for name, source in (variables or {}).items():
        if name not in declared:
            errors.setdefault("variables", []).append(
                _("“%(name)s” is not a variable of this template.") % {"name": name}
            )
        elif not isinstance(source, dict) or not ({"column", "value"} & set(source)):
            errors.setdefault("variables", []).append(
                _("“%(name)s”: choose a column or a fixed value.") % {"name": name}
            )
        elif "column" in source and source["column"] not in campaign_fields:
            errors.setdefault("variables", []).append(
                _("“%(name)s”: the lists have no column “%(column)s”.") % {"name": name, "column": source["column"]}
            )
    if link_variable and link_variable not in declared:
        errors.setdefault("link_variable", []).append(_("This template has no such variable."))
    for name in declared:
        if name == link_variable or name in (variables or {}) or name in campaign_fields:
            continue
        errors.setdefault("variables", []).append(
            _("“%(name)s” has no value: map it to a column or give a fixed value.") % {"name": name}
        )
    return errors


def campaign_save(
    *,
    tenant: Tenant,
    actor,
    campaign: Campaign | None = None,
    name: str,
    template_id: int,
    list_ids: list[int],
    audience_filter: dict | None = None,
    variables: dict | None = None,
    link_variable: str = "",
    link_url: str = "",
    send_at=None,
    respect_quiet_hours: bool = True,
    rate_per_minute: int = 0,
) -> Campaign:
    """Create a draft (campaign=None) or change a draft/scheduled campaign. Everything is
    checked first: an approved template, the tenant's own lists, a valid filter, every
    template variable covered, a schedule not in the past."""
    from campaigns.selectors import Audience, audience_validate
    from templates.selectors import template_for_sending

    if not (name or "").strip():
        raise Unprocessable("invalid", _("Give the campaign a name."), field="name")
    if campaign is not None and not campaign.is_editable:
        raise Conflict("not_editable", _("Only a draft or scheduled campaign can be changed."))
    version = template_for_sending(tenant=tenant, template_id=template_id)
    lists = list(ContactList.objects.for_tenant(tenant).filter(pk__in=[int(i) for i in list_ids or []]))
    if not lists or len(lists) != len({int(i) for i in list_ids}):
        raise Unprocessable("invalid_lists", _("Choose one or more of your contact lists."), field="list_ids")
    audience = Audience(list_ids=[cl.pk for cl in lists], **_audience_kwargs(audience_filter))
    audience_validate(audience)
    if link_variable and not link_url:
        raise Unprocessable("invalid", _("Give the link's target address."), field="link_url")
    fields = {f for cl in lists for f in cl.fields}
    errors = _variable_errors(
        version=version, campaign_fields=fields, variables=variables or {}, link_variable=link_variable
    )
    if errors:
        raise Unprocessable("invalid_variables", _("Some template variables are not covered."), fields=errors)
    _check_send_at(send_at)
    if rate_per_minute is not None and int(rate_per_minute) < 0:
        raise Unprocessable("invalid", _("The rate cap cannot be negative."), field="rate_per_minute")
    with transaction.atomic():
        creating = campaign is None
        if creating:
            campaign = Campaign(tenant=tenant, created_by=_user(actor))
        campaign.name = name.strip()[:120]
        campaign.template_id = version.template_id
        campaign.template_version_id = version.pk
        campaign.message_class = version.template.kind
        campaign.audience_filter = audience.as_filter()
        campaign.variables = variables or {}
        campaign.link_variable = link_variable or ""
        campaign.link_url = link_url or ""
        campaign.send_at = send_at
        campaign.respect_quiet_hours = bool(respect_quiet_hours)
        campaign.rate_per_minute = int(rate_per_minute or 0)
        campaign.status = Campaign.Status.DRAFT
        campaign.review = {}
        campaign.save()
        campaign.contact_lists.set(lists)
        audit_record(
            tenant=tenant,
            actor=actor,
            action="campaign.created" if creating else "campaign.changed",
            obj=campaign,
            after={"name": campaign.name, "template": campaign.template_id, "lists": [cl.pk for cl in lists]},
        )
    return campaign


def _audience_kwargs(spec: dict | None) -> dict:
    spec = spec or {}
    return {
        "carriers": list(spec.get("carriers") or []),
        "provinces": list(spec.get("provinces") or []),
        "conditions": list(spec.get("conditions") or []),
        "consent": spec.get("consent") or "any",
    }


REVIEW_INLINE_LIMIT = 50_000


def campaign_review_request(*, tenant: Tenant, actor, campaign: Campaign) -> bool:
    """Review now when the audience is small; a large one (a Double-11 of millions) is
    reviewed by a bulk-lane worker while the page polls. Returns True when it was queued."""
    from campaigns.selectors import Audience, audience_count
    from templates.selectors import template_for_sending

    if not campaign.is_editable:
        raise Conflict("not_editable", _("Only a draft or scheduled campaign can be reviewed."))
    template_for_sending(tenant=tenant, template_id=campaign.template_id)
    if audience_count(tenant=tenant, audience=Audience.of(campaign)) <= REVIEW_INLINE_LIMIT:
        campaign_review(tenant=tenant, actor=actor, campaign=campaign)
        return False
    Campaign.objects.filter(pk=campaign.pk).update(review={"pending": True}, updated_at=timezone.now())
    actor_id = actor.pk if _user(actor) else None

    def enqueue():
        from django_q.tasks import async_task

        async_task("campaigns.tasks.campaign_review_run", campaign.pk, actor_id, cluster="bulk")

    transaction.on_commit(enqueue)
    return True


def campaign_review(*, tenant: Tenant, actor, campaign: Campaign) -> dict:
    """Materialise the audience (one INSERT … SELECT, deduplicated by number) and work out
    what the send would be: numbers removed by each rule (the compliance gates, per chunk of
    numbers), segments, expected cost at the tenant's tier, the reserve needed and any
    shortfall, compliance findings. Stored on the campaign; start uses it."""
    from billing.pricing import estimate
    from billing.selectors import account_balance, shortfall
    from campaigns import fanout
    from campaigns.selectors import Audience, audience_sql
    from compliance import gates
    from templates.selectors import template_for_sending

    if not campaign.is_editable:
        raise Conflict("not_editable", _("Only a draft or scheduled campaign can be reviewed."))
    version = template_for_sending(tenant=tenant, template_id=campaign.template_id)
    audience = Audience.of(campaign)
    sql, params = audience_sql(tenant=tenant, audience=audience)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            "DELETE FROM campaigns_campaignrecipient WHERE tenant_id = %s AND campaign_id = %s",
            [tenant.pk, campaign.pk],
        )
        cursor.execute(
            "INSERT INTO campaigns_campaignrecipient (tenant_id, campaign_id, contact_id, number, clicks,"  # noqa: S608
            f" created_at, updated_at) SELECT %s, %s, a.id, a.number, 0, now(), now() FROM ({sql}) a",
            [tenant.pk, campaign.pk, *params],
        )
        size = cursor.rowcount
    if size == 0:
        raise Unprocessable("empty_audience", _("No contact matches this audience."), field="list_ids")
    removed: dict[str, int] = {}
    segments_total = messages = 0
    segment_mix: dict[int, int] = {}
    plan = fanout.Renderer(campaign=campaign, version=version)
    for chunk in fanout.recipient_chunks(campaign, after=0, size=RECIPIENT_CHUNK):
        numbers = [row[1] for row in chunk]
        refused = gates.blocked_numbers(tenant=tenant, numbers=numbers, message_class=campaign.message_class)
        free = [n for n in numbers if n not in refused]
        capped = set()
        if free:
            capped = gates.frequency_capped(
                tenant=tenant, numbers=free, message_class=campaign.message_class, template_id=campaign.template_id
            )
        for reason in refused.values():
            removed[reason] = removed.get(reason, 0) + 1
        if capped:
            removed["rate_limited"] = removed.get("rate_limited", 0) + len(capped)
        for recipient_id, number, _carrier, _province, attributes in chunk:
            if number in refused or number in capped:
                continue
            rendered = plan.render(recipient_id, attributes)
            if rendered is None:
                removed["invalid_variables"] = removed.get("invalid_variables", 0) + 1
                continue
            segments = rendered[1]
            segments_total += segments
            segment_mix[segments] = segment_mix.get(segments, 0) + 1
            messages += 1
    expected = sum(
        (
            estimate(tenant=tenant, message_class=campaign.message_class, segments=s, count=n)
            for s, n in segment_mix.items()
        ),
        start=estimate(tenant=tenant, message_class=campaign.message_class, segments=0, count=0),
    )
    reserve = sum(
        (
            estimate(tenant=tenant, message_class=campaign.message_class, segments=s, count=n, basis="reserve")
            for s, n in segment_mix.items()
        ),
        start=expected * 0,
    )
    findings = []
    if campaign.message_class == "marketing" and gates.marketing_paused(tenant=tenant):
        findings.append({"level": "bad", "text": str(_("Marketing is paused for this account because of complaints."))})
    if removed.get("no_consent"):
        findings.append(
            {
                "level": "warn",
                "text": str(_("%(count)s numbers have no marketing consent and will be skipped."))
                % {"count": removed["no_consent"]},
            }
        )
    if campaign.message_class == "marketing" and "退订" not in version.body and "回T" not in version.body.upper():
        findings.append({"level": "warn", "text": str(_("Marketing text should tell how to unsubscribe (回T退订)."))})
    window = None
    from campaigns.schedule import window_for

    window = window_for(tenant=tenant, message_class=campaign.message_class, respect=campaign.respect_quiet_hours)
    if window:
        findings.append(
            {
                "level": "ok",
                "text": str(
                    _("Sent only between %(start)s and %(end)s (%(zone)s); the rest waits for the next window.")
                )
                % {
                    "start": window.start.strftime("%H:%M"),
                    "end": window.end.strftime("%H:%M"),
                    "zone": tenant.timezone,
                },
            }
        )
    short = shortfall(tenant=tenant, amount=reserve)
    review = {
        "reviewed_at": timezone.now().isoformat(),
        "template_version_id": version.pk,
        "audience": size,
        "removed": removed,
        "messages": messages,
        "segments": segments_total,
        "segment_mix": {str(k): v for k, v in sorted(segment_mix.items())},
        "expected_cost": str(expected),
        "reserve": str(reserve),
        "balance": str(account_balance(tenant=tenant)),
        "shortfall": str(short),
        "findings": findings,
        "sample": plan.sample,
    }
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(
            review=review,
            audience_size=size,
            excluded_count=size - messages,
            template_version_id=version.pk,
            updated_at=timezone.now(),
        )
        audit_record(tenant=tenant, actor=actor, action="campaign.reviewed", obj=campaign, after={"messages": messages})
    campaign.refresh_from_db()
    return review


def campaign_start(*, tenant: Tenant, actor, campaign: Campaign) -> Campaign:
    """Start now (or schedule, when send_at is in the future). Refused without a review,
    with a template no longer approved, or when the balance cannot cover the reserve."""
    from billing.selectors import shortfall
    from templates.selectors import template_for_sending

    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise Conflict("not_startable", _("This campaign has already started or ended."))
    review = campaign.review or {}
    if not review.get("messages"):
        raise Conflict("not_reviewed", _("Review the campaign before starting it."))
    version = template_for_sending(tenant=tenant, template_id=campaign.template_id)
    if version.pk != review.get("template_version_id"):
        raise Conflict("review_outdated", _("The template changed since the review; review again."))
    _check_send_at(campaign.send_at)
    short = shortfall(tenant=tenant, amount=Decimal(review["reserve"]))
    if short > 0:
        raise PaymentRequired(
            "insufficient_balance",
            _("The balance does not cover this campaign: top up at least ¥%(short)s.") % {"short": short},
        )
    scheduled = campaign.send_at is not None and campaign.send_at > timezone.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            raise Conflict("not_startable", _("This campaign has already started or ended."))
        locked.status = Campaign.Status.SCHEDULED if scheduled else Campaign.Status.RUNNING
        if not scheduled:
            locked.started_at = timezone.now()
            locked.fanout_status = Campaign.Fanout.RUNNING
        locked.save(update_fields=["status", "started_at", "fanout_status", "updated_at"])
        audit_record(tenant=tenant, actor=actor, action=f"campaign.{locked.status}", obj=locked)
        if not scheduled:
            transaction.on_commit(lambda: _enqueue_fanout(locked.pk))
    return locked


def _enqueue_fanout(campaign_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "campaigns.tasks.campaign_fanout_run", campaign_id, cluster="bulk", task_name=f"campaign-fanout-{campaign_id}"
    )


def campaign_pause(*, tenant: Tenant, actor, campaign: Campaign) -> Campaign:
    """Stop sending within seconds: the fan-out stops at its next chunk, and queued messages
    are held (their send_at moves to the far future, which the dispatcher's claim respects) —
    the next ones in line first, in a small fast statement."""

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk, tenant=tenant)
        if locked.status not in (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED):
            raise Conflict("not_running", _("Only a running or scheduled campaign can be paused."))
        locked.status = Campaign.Status.PAUSED
        locked.paused_at = timezone.now()
        locked.save(update_fields=["status", "paused_at", "updated_at"])
        sends_hold(tenant=tenant, campaign_id=locked.pk)  # effective for every dispatcher at commit
        audit_record(tenant=tenant, actor=actor, action="campaign.paused", obj=locked)
        transaction.on_commit(lambda: _enqueue_hold_rest(locked.pk))
    return locked


def _enqueue_hold_rest(campaign_id: int) -> None:
    from django_q.tasks import async_task

    async_task("campaigns.tasks.campaign_hold_rest", campaign_id, cluster="bulk")


def campaign_hold_rest(*, campaign_id: int) -> int:
    """After a pause: park the campaign's queued messages (send_at far ahead), so that resuming
    can re-pace them. Background work — the pause itself took effect with the send hold; a
    campaign resumed meanwhile is left alone."""
    from campaigns import fanout

    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.PAUSED:
            return 0
        return fanout.hold_queued(campaign)


def campaign_resume(*, tenant: Tenant, actor, campaign: Campaign) -> Campaign:
    from campaigns import fanout

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk, tenant=tenant)
        if locked.status != Campaign.Status.PAUSED:
            raise Conflict("not_paused", _("Only a paused campaign can be resumed."))
        locked.status = (
            Campaign.Status.SCHEDULED
            if locked.started_at is None and locked.send_at and locked.send_at > timezone.now()
            else Campaign.Status.RUNNING
        )
        if locked.status == Campaign.Status.RUNNING and locked.started_at is None:
            locked.started_at = timezone.now()
        locked.paused_at = None
        restart_fanout = locked.status == Campaign.Status.RUNNING and locked.fanout_status != Campaign.Fanout.DONE
        if restart_fanout:
            locked.fanout_status = Campaign.Fanout.RUNNING
        locked.save(update_fields=["status", "paused_at", "started_at", "fanout_status", "updated_at"])
        audit_record(tenant=tenant, actor=actor, action="campaign.resumed", obj=locked)
        if locked.status == Campaign.Status.RUNNING:
            fanout.hold_queued(locked)  # whatever the background parking has not reached yet
            fanout.release_held(locked)  # re-paced from now, at the rate cap
        sends_release(tenant=tenant, campaign_id=locked.pk)
        if restart_fanout:
            transaction.on_commit(lambda: _enqueue_fanout(locked.pk))
    return locked


def campaign_cancel(*, tenant: Tenant, actor, campaign: Campaign) -> Campaign:
    """End the campaign: messages not yet handed to a channel are cancelled and their
    reserves released (in chunks, set-based)."""
    from campaigns import fanout

    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk, tenant=tenant)
        if locked.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
            raise Conflict("finished", _("This campaign has already ended."))
        locked.status = Campaign.Status.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at", "updated_at"])
        sends_hold(tenant=tenant, campaign_id=locked.pk)  # nothing more is sent, from the commit on
        audit_record(tenant=tenant, actor=actor, action="campaign.cancelled", obj=locked)
    cancelled = fanout.cancel_queued(locked)
    audit_record(
        tenant=tenant, actor=actor, action="campaign.cancel_released", obj=locked, after={"cancelled": cancelled}
    )
    return locked


def campaign_test_send(*, tenant: Tenant, actor, campaign: Campaign, numbers: list[str]) -> list:
    """Send the campaign's text to a few numbers first (normal accept path, not counted in
    the campaign), with the first contact's values."""
    from campaigns import fanout
    from messaging.services import message_accept_batch
    from templates.selectors import template_for_sending

    numbers = [n.strip() for n in numbers if n and n.strip()]
    if not numbers:
        raise Unprocessable("invalid", _("Give at least one number."), field="numbers")
    if len(numbers) > MAX_TEST_NUMBERS:
        raise Unprocessable("invalid", _("At most %(max)s test numbers.") % {"max": MAX_TEST_NUMBERS}, field="numbers")
    version = template_for_sending(tenant=tenant, template_id=campaign.template_id)
    variables = fanout.Renderer(campaign=campaign, version=version).sample_variables(tenant=tenant)
    return message_accept_batch(
        tenant=tenant,
        actor=actor,
        template_id=campaign.template_id,
        recipients=[{"number": n, "variables": variables} for n in numbers],
        client_ref=f"campaign-{campaign.pk}-test",
    )


def campaigns_tick(*, now=None) -> dict:
    """Every minute on the bulk lane: start scheduled campaigns that are due, hold the
    backlog of campaigns whose send window just closed, finish campaigns with nothing left."""
    from campaigns import fanout

    now = now or timezone.now()
    started = completed = held = 0
    for campaign in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, send_at__lte=now).select_related(
        "tenant"
    ):
        with transaction.atomic():
            locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if locked.status != Campaign.Status.SCHEDULED:
                continue
            locked.status, locked.started_at = Campaign.Status.RUNNING, now
            locked.fanout_status = Campaign.Fanout.RUNNING
            locked.save(update_fields=["status", "started_at", "fanout_status", "updated_at"])
            transaction.on_commit(lambda pk=locked.pk: _enqueue_fanout(pk))
            started += 1
    for campaign in Campaign.objects.filter(status=Campaign.Status.RUNNING).select_related("tenant"):
        held += fanout.hold_outside_window(campaign, now=now)
        if campaign.fanout_status == Campaign.Fanout.DONE and not fanout.has_unsent(campaign):
            Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).update(
                status=Campaign.Status.COMPLETED, finished_at=now, updated_at=now
            )
            completed += 1
    return {"started": started, "completed": completed, "held": held}
