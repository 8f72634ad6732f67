"""Reading contact files: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) and XLSX, streamed row by
row, with the number column found by name; and number normalisation fast enough for millions
of rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import phonenumbers
from django.utils.translation import gettext as _
from phonenumbers import carrier as carrier_names
from phonenumbers import carrierdata, geocoder, geodata

from smsportal.errors import Unprocessable
from smsportal.numbers import _CARRIER_BY_NAME, _PROVINCE, InvalidNumber, Number, normalize

SNIFF_BYTES = 64 * 1024
NUMBER_HEADERS = {
    "手机号",
    "手机号码",
    "手机",
    "电话",
    "电话号码",
    "号码",
    "联系电话",
    "移动电话",
    "phone",
    "phonenumber",
    "mobile",
    "mobilenumber",
    "mobilephone",
    "number",
    "msisdn",
    "tel",
    "telephone",
    "cellphone",
    "cell",
}
MAX_ROWS = 2_000_000
_HEADER_NOISE = re.compile(r"[\s_\-.:：]+")


def _header_key(name: str) -> str:
    return _HEADER_NOISE.sub("", name).casefold()


# --- Numbers ------------------------------------------------------------------------------
# phonenumbers costs ~65 µs a number; a million numbers would take a minute. For an 11-digit
# Chinese mobile number (1[1-9] + 9 digits) every answer normalize() gives depends only on
# the first 7 digits: the CN mobile pattern looks at 6 digits and the length, no fixed-line
# or other pattern starts with 1[1-9], and carrier/geocoding data use prefixes of at most
# 9 digits including the country code. So the result phonenumbers computes for one number
# of a 7-digit block is memoised and reused for the block (verified in the tests). A block
# seen for the first time is answered with phonenumbers' own CN mobile pattern and its
# carrier/geocoder lookups for valid numbers (half the cost of a full parse); anything the
# mobile pattern refuses goes through normalize() for its exact reason.
_PREFIX_MEMO_SAFE = carrierdata.CARRIER_LONGEST_PREFIX <= 9 and geodata.GEOCODE_LONGEST_PREFIX <= 9
_CN_MOBILE = re.compile(r"^(?:\+86|0086|86)?(1[1-9]\d{9})$")
_CN_MOBILE_PATTERN = re.compile(phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern)


def _block_answer(national: str) -> Number | str:
    if _CN_MOBILE_PATTERN.fullmatch(national):
        parsed = phonenumbers.PhoneNumber(country_code=86, national_number=int(national))
        carrier_code = _CARRIER_BY_NAME.get(carrier_names.name_for_valid_number(parsed, "en"))
        if carrier_code is not None:
            place = _PROVINCE.match(geocoder.description_for_valid_number(parsed, "zh") or "")
            return Number(e164="+86" + national, carrier=str(carrier_code), province=place.group(1) if place else "")
    try:
        return normalize(national)
    except InvalidNumber as error:
        return error.reason


_SEPARATORS = str.maketrans("", "", " -()\u3000\t")


class FastNormalizer:
    def __init__(self):
        self._memo: dict[str, Number | str] = {}

    def __call__(self, raw: str) -> Number:
        text = raw.strip().translate(_SEPARATORS) if raw else ""
        match = _CN_MOBILE.match(text) if _PREFIX_MEMO_SAFE else None
        if match is None:
            return normalize(raw)
        national = match.group(1)
        block = national[:7]
        known = self._memo.get(block)
        if known is None:
            known = self._memo[block] = _block_answer(national)
        if isinstance(known, str):
            raise InvalidNumber(known)
        return Number(e164="+86" + national, carrier=known.carrier, province=known.province)


# --- Files --------------------------------------------------------------------------------
@dataclass
class ContactFile:
    """An opened contact file: its header and a row iterator (raw cell strings)."""

    file_format: str
    encoding: str
    header: list[str]
    rows: Iterator[list[str]]
    position: callable = field(default=lambda: 0)  # bytes consumed so far, for progress
    closers: list = field(default_factory=list)

    def close(self):
        for close in self.closers:
            close()


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise Unprocessable("unreadable_file", _("This is not a CSV text file or an Excel (XLSX) workbook."))
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise Unprocessable(
        "unreadable_encoding", _("The file's text encoding could not be read; save it as UTF-8 or GBK.")
    )


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def open_contact_file(binary) -> ContactFile:
    """`binary` is a seekable binary file object positioned at its start."""
    sample = binary.read(SNIFF_BYTES)
    binary.seek(0)
    if not sample:
        raise Unprocessable("empty_file", _("The file is empty."))
    if sample.startswith(b"PK\x03\x04"):
        return _open_xlsx(binary)
    encoding = detect_encoding(sample)
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    first_line = sample.decode(encoding if encoding != "utf-8-sig" else "utf-8-sig", errors="ignore").splitlines()
    dialect = csv.excel
    if first_line:
        delimiters = {d: first_line[0].count(d) for d in (",", "\t", ";", "|")}
        best = max(delimiters, key=delimiters.get)
        if delimiters[best]:

            class dialect(csv.excel):
                delimiter = best

    reader = csv.reader(text, dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise Unprocessable("empty_file", _("The file is empty.")) from None
    except UnicodeDecodeError:
        raise Unprocessable("unreadable_encoding", _("The file's text encoding could not be read.")) from None
    return ContactFile(
        file_format="csv",
        encoding="gbk" if encoding == "gb18030" else encoding.replace("-sig", " BOM"),
        header=[h.strip() for h in header],
        rows=reader,
        position=binary.tell,
        closers=[text.detach],
    )


def _open_xlsx(binary) -> ContactFile:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise Unprocessable("unreadable_file", _("This Excel file could not be opened; save it as XLSX.")) from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        header = [_cell(value) for value in next(rows)]
    except StopIteration:
        workbook.close()
        raise Unprocessable("empty_file", _("The file is empty.")) from None
    total = max(sheet.max_row or 1, 1)
    size = binary.seek(0, io.SEEK_END)
    state = {"rows": 0}

    def cells() -> Iterator[list[str]]:
        for row in rows:
            state["rows"] += 1
            yield [_cell(value) for value in row]

    return ContactFile(
        file_format="xlsx",
        encoding="",
        header=header,
        rows=cells(),
        position=lambda: int(size * min(1.0, state["rows"] / total)),
        closers=[workbook.close],
    )


@dataclass
class ColumnMap:
    number_index: int
    attributes: list[tuple[int, str]]  # (column index, variable name)

    @property
    def fields(self) -> list[str]:
        return [name for _, name in self.attributes]


def map_columns(header: list[str], number_column: str = "") -> ColumnMap:
    if not any(header):
        raise Unprocessable("missing_header", _("The first row must name the columns."))
    number_index = None
    if number_column:
        wanted = _header_key(number_column)
        for index, name in enumerate(header):
            if _header_key(name) == wanted:
                number_index = index
                break
        if number_index is None:
            raise Unprocessable(
                "number_column_missing",
                _("The file has no column named “%(column)s”.") % {"column": number_column},
                field="number_column",
            )
    else:
        for index, name in enumerate(header):
            if _header_key(name) in NUMBER_HEADERS:
                number_index = index
                break
        if number_index is None:
            raise Unprocessable(
                "number_column_missing",
                _("No phone number column found (columns: %(columns)s). Name it 手机号 or phone, or choose it.")
                % {"columns": "、".join(h for h in header if h) or "—"},
                field="number_column",
            )
    attributes, seen = [], set()
    for index, name in enumerate(header):
        if index == number_index:
            continue
        name = name or f"column_{index + 1}"
        unique, suffix = name, 2
        while unique in seen:
            unique, suffix = f"{name}_{suffix}", suffix + 1
        seen.add(unique)
        attributes.append((index, unique[:64]))
    return ColumnMap(number_index=number_index, attributes=attributes)
