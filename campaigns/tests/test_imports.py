import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import Contact, ContactImport, ContactList
from campaigns.services import contact_import_run, contact_import_start, contact_list_create
from smsportal.errors import Conflict, Unprocessable


def upload(text: str, name="contacts.csv", encoding="utf-8", prefix=b"") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, prefix + text.encode(encoding), content_type="text/csv")


def run_import(member, file, **kwargs):
    started = contact_import_start(tenant=member.tenant, actor=member.user, upload=file, **kwargs)
    return contact_import_run(contact_import_id=started.pk)


@pytest.fixture
def contact_list(member):
    return contact_list_create(tenant=member.tenant, actor=member.user, name="会员")


CSV = """手机号,姓名,积分
13800138000,张三,120
+86 139-0013-9000,李四,80
13800138000,张三丰,130
12345,王五,1
,空号,0
18912345678,赵六,5
"""


@pytest.mark.django_db
def test_csv_import_merges_duplicates_and_reports_invalid_rows(member, contact_list):
    done = run_import(member, upload(CSV), contact_list=contact_list)
    assert done.status == ContactImport.Status.DONE
    assert (done.rows_read, done.imported, done.duplicates, done.invalid) == (6, 3, 1, 2)
    assert done.carrier_counts == {"mobile": 2, "telecom": 1}
    assert sum(done.province_counts.values()) == 3
    rejections = {(r.row_number, r.reason) for r in done.rejections.all()}
    assert rejections == {(5, "too_short"), (6, "empty")}
    zhang = Contact.objects.get(contact_list=contact_list, number="+8613800138000")
    assert zhang.attributes == {"姓名": "张三丰", "积分": "130"}  # the later row wins
    contact_list.refresh_from_db()
    assert contact_list.contact_count == 3
    assert contact_list.fields == ["姓名", "积分"]


@pytest.mark.django_db
def test_second_import_merges_into_existing_contacts(member, contact_list):
    run_import(member, upload(CSV), contact_list=contact_list)
    again = run_import(member, upload("phone,city\n13800138000,上海\n13700137000,北京\n"), contact_list=contact_list)
    assert (again.imported, again.duplicates) == (1, 1)
    zhang = Contact.objects.get(contact_list=contact_list, number="+8613800138000")
    assert zhang.attributes == {"姓名": "张三丰", "积分": "130", "city": "上海"}
    contact_list.refresh_from_db()
    assert contact_list.contact_count == 4


@pytest.mark.django_db
@pytest.mark.parametrize(("encoding", "prefix"), [("gbk", b""), ("utf-8", b"\xef\xbb\xbf")])
def test_gbk_and_bom_files_keep_chinese_attributes(member, encoding, prefix):
    done = run_import(
        member, upload("手机,姓名\n13800138000,张三\n", encoding=encoding, prefix=prefix), new_list_name="A"
    )
    assert done.status == ContactImport.Status.DONE
    assert Contact.objects.get(contact_list=done.contact_list).attributes == {"姓名": "张三"}


@pytest.mark.django_db
def test_xlsx_import(member):
    workbook = openpyxl.Workbook()
    workbook.active.append(["mobile", "name"])
    workbook.active.append([13800138000, "Ann"])
    workbook.active.append(["139 0013 9000", "Bob"])
    data = io.BytesIO()
    workbook.save(data)
    file = SimpleUploadedFile("list.xlsx", data.getvalue())
    done = run_import(member, file, new_list_name="Excel")
    assert (done.status, done.imported, done.file_format) == ("done", 2, "xlsx")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("姓名,城市\n张三,北京\n", "number_column_missing"),
        ("手机号,姓名\n", "empty_file"),
        ("", "empty_file"),
    ],
)
def test_bad_files_are_refused_before_anything_is_created(member, content, code):
    with pytest.raises(Unprocessable) as caught:
        contact_import_start(tenant=member.tenant, actor=member.user, upload=upload(content), new_list_name="New")
    assert caught.value.code == code
    assert caught.value.fields  # shown on the form field
    assert not ContactList.objects.filter(tenant=member.tenant).exists()
    assert not ContactImport.objects.exists()


@pytest.mark.django_db
def test_wrong_encoding_is_refused(member):
    latin = SimpleUploadedFile("x.csv", b"phone,name\n13800138000," + bytes([0x80, 0xFF, 0xFE, 0x81]) * 3 + b"\n")
    with pytest.raises(Unprocessable) as caught:
        contact_import_start(tenant=member.tenant, actor=member.user, upload=latin, new_list_name="L")
    assert caught.value.code in ("unreadable_encoding", "unreadable_file")


@pytest.mark.django_db
def test_encoding_change_mid_file_fails_without_touching_the_list(member, contact_list, monkeypatch):
    monkeypatch.setattr("campaigns.services.IMPORT_CHUNK_ROWS", 500)
    good = "phone,name\n" + "".join(f"1380013{i:04d},张\n" for i in range(5000))
    body = good.encode() + b"13900139000," + "李四".encode("gbk") + b"\n"
    started = contact_import_start(
        tenant=member.tenant, actor=member.user, upload=SimpleUploadedFile("x.csv", body), contact_list=contact_list
    )
    done = contact_import_run(contact_import_id=started.pk)
    assert done.status == ContactImport.Status.FAILED
    assert done.error_code == "unreadable_encoding"
    assert not Contact.objects.filter(contact_list=contact_list).exists()


@pytest.mark.django_db
def test_duplicate_list_name_is_a_conflict(member, contact_list):
    with pytest.raises(Conflict):
        contact_list_create(tenant=member.tenant, actor=member.user, name="会员")
