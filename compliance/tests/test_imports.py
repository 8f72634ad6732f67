import io
from datetime import datetime

import pytest
from django.conf import settings
from openpyxl import Workbook

from compliance import imports
from compliance.gates import blocked_numbers
from compliance.imports import consent_import_create, consent_import_start_apply
from compliance.models import AuditEvent, ConsentImport, ConsentRecord
from smsportal.errors import Unprocessable
from smsportal.factories.compliance import ConsentRecordFactory

HEADER = "手机号,用途,同意时间,来源,凭证\n"


def create(member, text: str | bytes, *, filename="consents.csv", purpose="marketing", evidence=""):
    content = text.encode("utf-8") if isinstance(text, str) else text
    return consent_import_create(
        tenant=member.tenant,
        actor=member.user,
        filename=filename,
        content=content,
        purpose=purpose,
        evidence_text=evidence,
    )


GOOD_AND_BAD = (
    HEADER
    + "13800138001,营销,2026-05-01 10:00,网页表单,会员注册勾选\n"
    + "13001300001,marketing,2026-05-02,paper,纸质同意书第12号\n"
    + "1380013,营销,,,\n"
    + "02161234567,营销,,,凭证\n"
    + "13800138001,营销,,,重复\n"
    + "18912345678,广告,,,凭证\n"
    + "18912345679,营销,not a date,,凭证\n"
)


def test_preview_reports_every_bad_row_with_its_reason(member):
    job = create(member, GOOD_AND_BAD)
    assert job.status == ConsentImport.Status.READY
    assert (job.total_rows, job.valid_rows, job.error_rows) == (7, 2, 5)
    by_row = {e["row"]: (e["field"], e["code"]) for e in job.errors}
    assert by_row == {
        4: ("number", "too_short"),
        5: ("number", "not_mobile"),
        6: ("number", "duplicate"),
        7: ("purpose", "unknown_purpose"),
        8: ("occurred_at", "invalid_time"),
    }
    assert [p["number"] for p in job.preview] == ["138****8001", "130****0001"]
    assert not ConsentRecord.objects.for_tenant(member.tenant).exists()  # a preview writes nothing


def test_partial_applies_the_valid_rows(member):
    job = create(member, GOOD_AND_BAD)
    job = consent_import_start_apply(tenant=member.tenant, actor=member.user, import_id=job.pk, mode="partial")
    assert job.status == ConsentImport.Status.DONE and job.applied_rows == 2
    records = ConsentRecord.objects.for_tenant(member.tenant).order_by("number")
    assert [(r.number, r.source) for r in records] == [("+8613001300001", "paper"), ("+8613800138001", "web_form")]
    assert records[1].occurred_at == datetime.fromisoformat("2026-05-01T10:00:00+08:00")
    assert blocked_numbers(tenant=member.tenant, numbers=["+8613800138001"], message_class="marketing") == {}
    assert AuditEvent.objects.filter(tenant=member.tenant, action="consent.imported").count() == 1


def test_all_or_nothing_applies_nothing_when_a_row_is_wrong(member):
    job = create(member, GOOD_AND_BAD)
    job = consent_import_start_apply(tenant=member.tenant, actor=member.user, import_id=job.pk, mode="all_or_nothing")
    assert job.status == ConsentImport.Status.REFUSED and job.applied_rows == 0
    assert not ConsentRecord.objects.for_tenant(member.tenant).exists()


def test_all_or_nothing_applies_a_clean_file(member):
    job = create(member, HEADER + "13800138001,营销,,,勾选\n13001300001,通知,,,勾选\n")
    job = consent_import_start_apply(tenant=member.tenant, actor=member.user, import_id=job.pk, mode="all_or_nothing")
    assert job.status == ConsentImport.Status.DONE
    assert ConsentRecord.objects.for_tenant(member.tenant).count() == 2


def test_gbk_file(member):
    job = create(member, (HEADER + "13800138001,营销,,,门店纸质登记\n").encode("gbk"))
    assert job.valid_rows == 1 and job.error_rows == 0


def test_xlsx_file(member):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["number", "purpose", "granted_at", "evidence"])
    sheet.append([13800138001, "marketing", datetime(2026, 3, 1, 9, 30), "app 勾选"])
    sheet.append(["abc", "marketing", None, "x"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = create(member, buffer.getvalue(), filename="consents.xlsx")
    assert (job.valid_rows, job.error_rows) == (1, 1)
    assert job.errors[0]["code"] == "not_a_number"


def test_already_consented_rows_are_unchanged_not_errors(member):
    ConsentRecordFactory(tenant=member.tenant, number="+8613800138001")
    job = create(member, HEADER + "13800138001,营销,,,勾选\n")
    assert (job.valid_rows, job.unchanged_rows, job.error_rows) == (0, 1, 0)


def test_revocation_without_consent_is_a_row_error(member):
    job = create(member, "number,action,evidence\n13800138001,revoke,电话要求\n")
    assert job.errors[0]["code"] == "no_consent_to_revoke"


def test_revocation_rows_revoke(member):
    ConsentRecordFactory(tenant=member.tenant, number="+8613800138001")
    job = create(member, "number,action\n13800138001,撤回\n")
    consent_import_start_apply(tenant=member.tenant, actor=member.user, import_id=job.pk, mode="partial")
    assert blocked_numbers(tenant=member.tenant, numbers=["+8613800138001"], message_class="marketing") == {
        "+8613800138001": "no_consent"
    }


def test_default_evidence_from_the_form(member):
    job = create(member, "number\n13800138001\n", evidence="2025 年会员大会纸质登记表")
    assert job.valid_rows == 1
    job = create(member, "number\n13001300001\n")
    assert job.errors[0]["code"] == "evidence_required"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_file"),
        (b"name,email\nx,y\n", "no_number_column"),
        (b"\xff\xfe\x00\x00\x81", "bad_encoding"),
    ],
)
def test_unreadable_files_are_refused_on_the_form(member, content, code):
    with pytest.raises(Unprocessable) as error:
        create(member, content)
    assert error.value.code == code
    assert not ConsentImport.objects.for_tenant(member.tenant).exists()


@pytest.mark.skipif(
    bool(settings.REDIS_URL), reason="reads the ORM broker's queue table; with REDIS_URL tasks queue in Redis"
)
def test_large_file_runs_on_the_bulk_lane(member, django_capture_on_commit_callbacks, monkeypatch):
    from django_q.models import OrmQ

    from compliance.tasks import consent_import_apply_task, consent_import_validate_task

    monkeypatch.setattr(imports, "SYNC_MAX_BYTES", 10)
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    lines = [f"1380013{8000 + i:04d},营销,,,勾选" for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        job = create(member, HEADER + "\n".join(lines) + "\n")
    assert job.status == ConsentImport.Status.VALIDATING and job.progress_percent == 0
    assert OrmQ.objects.count() == 1  # queued for a bulk worker
    consent_import_validate_task(job.pk)  # what the worker runs
    job.refresh_from_db()
    assert job.status == ConsentImport.Status.READY and job.progress_percent == 100
    job = consent_import_start_apply(tenant=member.tenant, actor=member.user, import_id=job.pk, mode="partial")
    assert job.status == ConsentImport.Status.APPLYING
    consent_import_apply_task(job.pk)
    job.refresh_from_db()
    assert job.status == ConsentImport.Status.DONE and job.applied_rows == 5


def test_applying_twice_is_refused(member):
    job = create(member, HEADER + "13800138001,营销,,,勾选\n")
    consent_import_start_apply(tenant=member.tenant, actor=member.user, import_id=job.pk, mode="partial")
    with pytest.raises(Exception) as error:
        consent_import_start_apply(tenant=member.tenant, actor=member.user, import_id=job.pk, mode="partial")
    assert error.value.code == "not_ready"
    assert ConsentRecord.objects.for_tenant(member.tenant).count() == 1


def test_another_tenants_import_is_not_found(member, outsider):
    job = create(member, HEADER + "13800138001,营销,,,勾选\n")
    with pytest.raises(Exception) as error:
        consent_import_start_apply(tenant=outsider.tenant, actor=outsider.user, import_id=job.pk, mode="partial")
    assert error.value.code == "not_found"
