"""Consent import from CSV (UTF-8 or GBK) or XLSX: check every row, show a preview with
per-row errors, then apply as the user chose — the valid rows ("partial") or nothing at all
when any row is wrong ("all_or_nothing"). Writing is one transaction: never half-imported.

Small files are checked and applied inside the request; large ones run as django-q2 tasks on
the `bulk` lane while the page polls the import row's progress.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from compliance.gates import latest_consent_actions
from compliance.models import ConsentAction, ConsentImport, ConsentRecord, ConsentSource, Purpose
from smsportal.errors import Unprocessable
from smsportal.numbers import InvalidNumber, mask, normalize

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
SYNC_MAX_BYTES = 64 * 1024  # above this the work goes to the bulk lane
KEPT_ERRORS = 1000  # all errors are counted; the first ones are kept to show
PREVIEW_ROWS = 20
PROGRESS_EVERY = 1000

COLUMN_ALIASES = {
    "number": {"number", "phone", "mobile", "msisdn", "手机号", "手机号码", "号码", "手机", "电话"},
    "purpose": {"purpose", "用途", "类型"},
    "action": {"action", "操作", "动作"},
    "occurred_at": {"granted_at", "occurred_at", "time", "date", "同意时间", "时间", "日期"},
    "source": {"source", "来源", "渠道"},
    "evidence": {"evidence", "evidence_text", "凭证", "证据", "备注"},
    "evidence_url": {"evidence_url", "url", "链接", "凭证链接"},
}
PURPOSE_ALIASES = {
    "marketing": "marketing",
    "营销": "marketing",
    "notification": "notification",
    "通知": "notification",
}
ACTION_ALIASES = {
    "": ConsentAction.GRANT,
    "grant": ConsentAction.GRANT,
    "同意": ConsentAction.GRANT,
    "revoke": ConsentAction.REVOKE,
    "撤回": ConsentAction.REVOKE,
    "退订": ConsentAction.REVOKE,
}
SOURCE_ALIASES = {
    "web_form": "web_form",
    "web": "web_form",
    "网页": "web_form",
    "网页表单": "web_form",
    "paper": "paper",
    "纸质": "paper",
    "纸质表单": "paper",
    "app": "app",
    "api": "api",
    "import": "import",
    "导入": "import",
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")


@dataclass
class ValidRow:
    row: int
    number: str
    carrier: str
    province: str
    purpose: str
    action: str
    occurred_at: datetime
    source: str
    evidence_text: str
    evidence_url: str

    def preview(self) -> dict:
        return {
            "row": self.row,
            "number": mask(self.number),
            "purpose": self.purpose,
            "action": self.action,
            "occurred_at": self.occurred_at.isoformat(),
            "source": self.source,
        }


@dataclass
class CheckResult:
    total: int
    valid: list[ValidRow]
    unchanged: int
    error_count: int
    errors: list[dict]


class ImportFileError(Unprocessable):
    pass


# --- Reading --------------------------------------------------------------------------


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 is a superset of GBK
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("bad_encoding", _("The file is neither UTF-8 nor GBK text."), field="file")


def read_rows(content: bytes, filename: str) -> list[list]:
    """All rows of the first sheet / the CSV, header included."""
    if content[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many types for a damaged file
            raise ImportFileError("bad_file", _("This is not a readable XLSX file."), field="file") from None
        sheet = workbook.worksheets[0]
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        workbook.close()
        return rows
    text = _decode(content)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text), dialect))


def _columns(header: list) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        key = str(name or "").strip().lower()
        for column, aliases in COLUMN_ALIASES.items():
            if key in aliases and column not in found:
                found[column] = index
    if "number" not in found:
        raise ImportFileError(
            "no_number_column",
            _("The first row must name the columns, one of them the phone number (number / 手机号)."),
            field="file",
        )
    return found


def _cell(row: list, columns: dict[str, int], name: str):
    index = columns.get(name)
    if index is None or index >= len(row):
        return None
    return row[index]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # numbers typed into Excel arrive as floats
    return str(value).strip()


def _parse_when(value, tz) -> datetime | None:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    text = _text(value)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=tz)


# --- Checking -------------------------------------------------------------------------


def check_rows(job: ConsentImport, *, progress: bool = False) -> CheckResult:
    """Validate every row; counts and the first errors. Never writes consent."""
    rows = read_rows(bytes(job.content), job.filename)
    if not rows:
        raise ImportFileError("empty_file", _("The file is empty."), field="file")
    columns = _columns(rows[0])
    body = rows[1:]
    if len(body) > MAX_ROWS:
        raise ImportFileError(
            "too_many_rows", _("At most %(n)s rows per import.") % {"n": f"{MAX_ROWS:,}"}, field="file"
        )
    if progress:
        ConsentImport.objects.filter(pk=job.pk).update(total_rows=len(body), processed_rows=0)
    tz = ZoneInfo(job.tenant.timezone or "Asia/Shanghai")
    now = timezone.now()
    errors: list[dict] = []
    error_count = 0
    candidates: list[ValidRow] = []
    first_seen: dict[tuple[str, str], int] = {}

    def error(row_no: int, field: str, code: str, message: str, value="") -> None:
        nonlocal error_count
        error_count += 1
        if len(errors) < KEPT_ERRORS:
            errors.append({"row": row_no, "field": field, "code": code, "message": str(message), "value": value})

    for offset, row in enumerate(body):
        row_no = offset + 2  # as the spreadsheet numbers it, header being row 1
        if progress and offset and offset % PROGRESS_EVERY == 0:
            ConsentImport.objects.filter(pk=job.pk).update(processed_rows=offset)
        if not any(_text(cell) for cell in row):
            continue
        raw_number = _text(_cell(row, columns, "number"))
        shown = mask(raw_number) if raw_number.startswith("+") else raw_number[:3] + "…" if raw_number else ""
        try:
            parsed = normalize(raw_number)
        except InvalidNumber as invalid:
            error(row_no, "number", invalid.reason, invalid.message, shown)
            continue
        raw_purpose = _text(_cell(row, columns, "purpose")).lower()
        purpose = PURPOSE_ALIASES.get(raw_purpose) if raw_purpose else job.purpose
        if purpose is None:
            error(
                row_no, "purpose", "unknown_purpose", _("Unknown purpose: use marketing or notification."), raw_purpose
            )
            continue
        raw_action = _text(_cell(row, columns, "action")).lower()
        action = ACTION_ALIASES.get(raw_action)
        if action is None:
            error(row_no, "action", "unknown_action", _("Unknown action: use grant or revoke."), raw_action)
            continue
        raw_when = _cell(row, columns, "occurred_at")
        if _text(raw_when):
            when = _parse_when(raw_when, tz)
            if when is None:
                error(row_no, "occurred_at", "invalid_time", _("Not a date (use 2026-05-01 14:30)."), _text(raw_when))
                continue
            if when > now:
                error(row_no, "occurred_at", "time_in_future", _("This time is in the future."), _text(raw_when))
                continue
        else:
            when = now
        raw_source = _text(_cell(row, columns, "source")).lower()
        source = SOURCE_ALIASES.get(raw_source) if raw_source else job.source
        if source is None:
            error(row_no, "source", "unknown_source", _("Unknown source."), raw_source)
            continue
        evidence = _text(_cell(row, columns, "evidence")) or job.evidence_text
        evidence_url = _text(_cell(row, columns, "evidence_url"))
        if action == ConsentAction.GRANT and not (evidence or evidence_url):
            error(row_no, "evidence", "evidence_required", _("No evidence of consent for this row."))
            continue
        key = (parsed.e164, purpose)
        if key in first_seen:
            error(
                row_no,
                "number",
                "duplicate",
                _("Same number and purpose as row %(row)s.") % {"row": first_seen[key]},
                mask(parsed.e164),
            )
            continue
        first_seen[key] = row_no
        candidates.append(
            ValidRow(
                row=row_no,
                number=parsed.e164,
                carrier=parsed.carrier,
                province=parsed.province,
                purpose=purpose,
                action=action,
                occurred_at=when,
                source=source,
                evidence_text=evidence[:2000],
                evidence_url=evidence_url[:500],
            )
        )

    # Compare with what is on record, set-based: one query per purpose and chunk.
    latest: dict[tuple[str, str], str] = {}
    for purpose in Purpose.values:
        numbers = [c.number for c in candidates if c.purpose == purpose]
        for start in range(0, len(numbers), 10_000):
            chunk = numbers[start : start + 10_000]
            for number, action in latest_consent_actions(tenant=job.tenant, numbers=chunk, purpose=purpose).items():
                latest[(number, purpose)] = action
    valid: list[ValidRow] = []
    unchanged = 0
    for candidate in candidates:
        current = latest.get((candidate.number, candidate.purpose))
        if candidate.action == ConsentAction.GRANT:
            if current == ConsentAction.GRANT:
                unchanged += 1  # already consented: nothing to add, not an error
                continue
        elif current != ConsentAction.GRANT:
            error(
                candidate.row,
                "action",
                "no_consent_to_revoke",
                _("There is no consent in force for this number to revoke."),
                mask(candidate.number),
            )
            continue
        valid.append(candidate)
    errors.sort(key=lambda e: e["row"])
    return CheckResult(total=len(body), valid=valid, unchanged=unchanged, error_count=error_count, errors=errors)


# --- The workflow ---------------------------------------------------------------------


def consent_import_create(
    *,
    tenant,
    actor,
    filename: str,
    content: bytes,
    purpose: str,
    source: str = ConsentSource.IMPORT,
    evidence_text: str = "",
    mode: str = ConsentImport.Mode.PARTIAL,
) -> ConsentImport:
    """Store the upload and check it: now when small, on the bulk lane when large."""
    if not content:
        raise ImportFileError("empty_file", _("The file is empty."), field="file")
    if len(content) > MAX_FILE_BYTES:
        raise ImportFileError("file_too_large", _("The file is larger than 20 MB."), field="file")
    if purpose not in Purpose.values:
        raise Unprocessable("unknown_purpose", _("Unknown purpose."), field="purpose")
    if source not in ConsentSource.values:
        raise Unprocessable("unknown_source", _("Unknown source."), field="source")
    small = len(content) <= SYNC_MAX_BYTES
    if small:  # an unreadable small file is refused at once, on the form
        rows = read_rows(content, filename)
        if not rows:
            raise ImportFileError("empty_file", _("The file is empty."), field="file")
        _columns(rows[0])
    job = ConsentImport.objects.create(
        tenant=tenant,
        filename=filename[:200],
        content=content,
        purpose=purpose,
        source=source,
        evidence_text=evidence_text,
        mode=mode,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    if small:
        consent_import_validate(import_id=job.pk)
        job.refresh_from_db()
    else:
        from django_q.tasks import async_task

        transaction.on_commit(
            lambda: async_task(
                "compliance.tasks.consent_import_validate_task",
                job.pk,
                cluster="bulk",
                task_name=f"consent-import-check-{job.pk}",
            )
        )
    return job


def consent_import_validate(*, import_id: int) -> None:
    job = ConsentImport.objects.select_related("tenant").get(pk=import_id)
    if job.status != ConsentImport.Status.VALIDATING:
        return
    try:
        result = check_rows(job, progress=True)
    except Unprocessable as problem:
        ConsentImport.objects.filter(pk=job.pk).update(
            status=ConsentImport.Status.FAILED, failure=str(problem.message)[:300], finished_at=timezone.now()
        )
        return
    ConsentImport.objects.filter(pk=job.pk).update(
        status=ConsentImport.Status.READY,
        total_rows=result.total,
        processed_rows=result.total,
        valid_rows=len(result.valid),
        error_rows=result.error_count,
        unchanged_rows=result.unchanged,
        errors=result.errors,
        preview=[row.preview() for row in result.valid[:PREVIEW_ROWS]],
    )


def consent_import_start_apply(*, tenant, actor, import_id: int, mode: str) -> ConsentImport:
    """The user's choice after the preview. Small imports are applied now."""
    if mode not in ConsentImport.Mode.values:
        raise Unprocessable("unknown_mode", _("Choose how to apply the import."), field="mode")
    with transaction.atomic():
        job = ConsentImport.objects.for_tenant(tenant).select_for_update().filter(pk=import_id).first()
        if job is None:
            from smsportal.errors import NotFound

            raise NotFound("not_found", _("No such import."))
        if job.status != ConsentImport.Status.READY:
            from smsportal.errors import Conflict

            raise Conflict("not_ready", _("This import is not waiting to be applied."))
        job.mode = mode
        job.status = ConsentImport.Status.APPLYING
        job.processed_rows = 0
        job.save(update_fields=["mode", "status", "processed_rows", "updated_at"])
    if len(job.content) <= SYNC_MAX_BYTES:
        consent_import_apply(import_id=job.pk, actor=actor)
    else:
        from django_q.tasks import async_task

        async_task(
            "compliance.tasks.consent_import_apply_task",
            job.pk,
            cluster="bulk",
            task_name=f"consent-import-apply-{job.pk}",
        )
    job.refresh_from_db()
    return job


def consent_import_apply(*, import_id: int, actor=None) -> None:
    """Re-check (the records may have changed since the preview) and write in one transaction."""
    job = ConsentImport.objects.select_related("tenant", "created_by").get(pk=import_id)
    if job.status != ConsentImport.Status.APPLYING:
        return
    actor = actor or job.created_by
    try:
        result = check_rows(job, progress=True)
    except Unprocessable as problem:
        ConsentImport.objects.filter(pk=job.pk).update(
            status=ConsentImport.Status.FAILED, failure=str(problem.message)[:300], finished_at=timezone.now()
        )
        return
    summary = {
        "total_rows": result.total,
        "processed_rows": result.total,
        "valid_rows": len(result.valid),
        "error_rows": result.error_count,
        "unchanged_rows": result.unchanged,
        "errors": result.errors,
        "finished_at": timezone.now(),
    }
    if job.mode == ConsentImport.Mode.ALL_OR_NOTHING and result.error_count:
        ConsentImport.objects.filter(pk=job.pk).update(status=ConsentImport.Status.REFUSED, applied_rows=0, **summary)
        return
    label = (getattr(actor, "email", "") or "system")[:200]
    with transaction.atomic():
        ConsentRecord.objects.bulk_create(
            [
                ConsentRecord(
                    tenant=job.tenant,
                    number=row.number,
                    carrier=row.carrier,
                    province=row.province,
                    purpose=row.purpose,
                    action=row.action,
                    occurred_at=row.occurred_at,
                    source=row.source,
                    evidence_text=row.evidence_text,
                    evidence_url=row.evidence_url,
                    recorded_by=actor if getattr(actor, "pk", None) else None,
                    recorded_by_label=label,
                    import_job=job,
                )
                for row in result.valid
            ],
            batch_size=2000,
        )
        ConsentImport.objects.filter(pk=job.pk).update(
            status=ConsentImport.Status.DONE, applied_rows=len(result.valid), **summary
        )
        audit_record(
            tenant=job.tenant,
            actor=actor,
            action="consent.imported",
            obj=job,
            after={
                "file": job.filename,
                "applied": len(result.valid),
                "errors": result.error_count,
                "unchanged": result.unchanged,
                "mode": job.mode,
            },
        )
