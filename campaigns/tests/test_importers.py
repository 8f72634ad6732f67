import io
import random

import openpyxl
import pytest

from campaigns.importers import FastNormalizer, map_columns, open_contact_file
from smsportal.errors import Unprocessable
from smsportal.numbers import InvalidNumber, normalize


def test_fast_normalizer_gives_exactly_what_phonenumbers_gives():
    rng = random.Random(7)
    fast = FastNormalizer()
    samples = [f"1{rng.randrange(10)}{rng.randrange(10**9):09d}" for _ in range(3000)]
    samples += ["+86 138-0013-8000", "008613800138000", "8613800138000", "1380013800", "17405123456", "17406123456"]
    samples += ["", "abc", "010-12345678", "+1 650 253 0000", "1234"]
    for raw in samples:
        try:
            expected = normalize(raw)
        except InvalidNumber as error:
            with pytest.raises(InvalidNumber) as caught:
                fast(raw)
            assert caught.value.reason == error.reason, raw
        else:
            assert fast(raw) == expected, raw


def csv_bytes(text: str, encoding="utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


@pytest.mark.parametrize(
    ("encoding", "prefix", "reported"),
    [("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8 BOM"), ("gbk", b"", "gbk")],
)
def test_csv_encodings_are_detected(encoding, prefix, reported):
    data = io.BytesIO(prefix + "手机号,姓名,积分\n13800138000,张三,120\n".encode(encoding))
    opened = open_contact_file(data)
    assert opened.encoding == reported
    assert opened.header == ["手机号", "姓名", "积分"]
    assert next(opened.rows) == ["13800138000", "张三", "120"]


def test_tab_separated_file_is_read():
    opened = open_contact_file(csv_bytes("name\tmobile\n李四\t13900139000\n"))
    assert opened.header == ["name", "mobile"]
    assert map_columns(opened.header).number_index == 1


def test_binary_garbage_is_refused():
    with pytest.raises(Unprocessable) as caught:
        open_contact_file(io.BytesIO(bytes(range(256)) * 10))
    assert caught.value.code == "unreadable_file"


def test_empty_file_is_refused():
    with pytest.raises(Unprocessable) as caught:
        open_contact_file(io.BytesIO(b""))
    assert caught.value.code == "empty_file"


def test_number_column_is_found_by_name_or_chosen():
    assert map_columns(["姓名", "手机号码", "城市"]).number_index == 1
    assert map_columns(["Name", "Mobile Number"]).number_index == 1
    chosen = map_columns(["客户", "联系方式", "备注"], number_column="联系方式")
    assert chosen.number_index == 1
    assert chosen.fields == ["客户", "备注"]
    with pytest.raises(Unprocessable) as caught:
        map_columns(["姓名", "城市"])
    assert caught.value.code == "number_column_missing"
    with pytest.raises(Unprocessable):
        map_columns(["姓名", "手机"], number_column="电话")


def test_duplicate_and_blank_headers_get_unique_variable_names():
    assert map_columns(["phone", "name", "name", ""]).fields == ["name", "name_2", "column_4"]


def test_xlsx_is_read_with_numbers_as_text():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["手机号", "姓名", "积分"])
    sheet.append([13800138000, "张三", 120])
    sheet.append([13900139000.0, "李四", None])
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    opened = open_contact_file(data)
    assert opened.file_format == "xlsx"
    assert list(opened.rows) == [["13800138000", "张三", "120"], ["13900139000", "李四", ""]]
