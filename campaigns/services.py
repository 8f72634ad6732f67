"""Writes of the campaigns app: contact lists and their imports (campaign services live in
campaigns/campaign_services.py, the fan-out in campaigns/fanout.py)."""

from __future__ import annotations

import json
import logging
import os

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.importers import MAX_ROWS, FastNormalizer, map_columns, open_contact_file
from campaigns.models import CampaignSettings, ContactImport, ContactList
from compliance.audit import audit_record
from smsportal.errors import Conflict, ServiceError, Unprocessable
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
