"""Template variable types and value validation (pure Python; shared by the rule engine and
by rendering). Messages come in Chinese and English; callers pick one."""

from __future__ import annotations

import re
from dataclasses import dataclass

VARIABLE_PATTERN = re.compile(r"\$\{([^{}]*)\}")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,29}$")

# Links written as fixed text in a body, or (wrongly) slipped into a variable's value.
LINK_PATTERN = re.compile(
    r"(?:https?://[A-Za-z0-9\-._~:/?#\[\]@!&'()*+,;=%]+)"
    r"|(?:(?<![A-Za-z0-9.\-@])(?:www\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\."
    r"(?:com|cn|net|org|top|xyz|info|cc|io|me|vip|shop|club|site|ltd|biz|tv|app|link|ink|wang)(?![A-Za-z0-9-])"
    r"(?:[/?#][A-Za-z0-9\-._~/?#@!$&'()*+,;=%]*)?)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VariableType:
    id: str
    label_zh: str
    label_en: str
    default_max_length: int
    ceiling: int  # the largest max_length a tenant may declare
    pattern: re.Pattern
    hint_zh: str
    hint_en: str


VARIABLE_TYPES: dict[str, VariableType] = {
    t.id: t
    for t in (
        VariableType(
            "code",
            "验证码",
            "Code",
            6,
            6,
            re.compile(r"^[A-Za-z0-9]{4,6}$"),
            "4–6 位数字或字母",
            "4–6 digits or letters",
        ),
        VariableType("number", "数字", "Number", 10, 20, re.compile(r"^\d+(?:\.\d+)?$"), "仅数字", "digits only"),
        VariableType(
            "amount",
            "金额",
            "Amount",
            12,
            15,
            re.compile(r"^-?\d{1,12}(?:\.\d{1,2})?$"),
            "金额，最多两位小数",
            "an amount with at most 2 decimals",
        ),
        VariableType(
            "datetime",
            "日期时间",
            "Date/time",
            20,
            25,
            re.compile(r"^(?=.*\d)[0-9年月日时分秒点号:：\-/. ]+$"),
            "日期或时间，如 2026-05-01 12:00",
            "a date or time, e.g. 2026-05-01 12:00",
        ),
        VariableType(
            "name",
            "姓名",
            "Name",
            15,
            20,
            re.compile(r"^[^\d@/\\:<>{}]+$"),
            "姓名，不含数字或符号",
            "a name without digits or symbols",
        ),
        VariableType("text", "短文本", "Short text", 20, 35, re.compile(r"^.+$", re.S), "短文本", "short text"),
        VariableType(
            "link",
            "链接后缀",
            "Link path",
            50,
            100,
            re.compile(r"^[A-Za-z0-9\-._~/?=&%#+]+$"),
            "固定域名之后的路径，如 o/8Hx2",
            "the path after a fixed domain, e.g. o/8Hx2",
        ),
    )
}


@dataclass(frozen=True)
class Problem:
    code: str
    zh: str
    en: str


def value_error(type_id: str, value: str, max_length: int | None) -> Problem | None:
    """Why `value` is not acceptable for a variable of this type (None when it is fine)."""
    vtype = VARIABLE_TYPES.get(type_id)
    if vtype is None:
        return Problem("unknown_type", f"未知的变量类型 {type_id}", f"unknown variable type {type_id}")
    if value == "":
        return Problem("empty", "不能为空", "must not be empty")
    limit = max_length or vtype.default_max_length
    if len(value) > limit:
        return Problem("too_long", f"最多 {limit} 个字符", f"at most {limit} characters")
    if not vtype.pattern.match(value):
        return Problem("wrong_type", f"应为{vtype.hint_zh}", f"must be {vtype.hint_en}")
    if type_id == "link":
        if "//" in value or value.lower().startswith("www."):
            return Problem(
                "link_host",
                "链接变量只能是路径，域名须写在模板正文中",
                "a link variable holds only the path; the domain is fixed text",
            )
    elif LINK_PATTERN.search(value):
        return Problem("link_in_value", "变量值中不能包含链接", "a variable's value must not contain a link")
    return None


def spec_errors(spec: dict) -> list[Problem]:
    """Problems with one variable declaration {name, type, max_length, example}."""
    errors = []
    name = str(spec.get("name", ""))
    if not VARIABLE_NAME.match(name):
        errors.append(
            Problem(
                "bad_name",
                "变量名须以字母开头，仅含字母、数字、下划线",
                "a variable name starts with a letter: letters, digits, _",
            )
        )
    vtype = VARIABLE_TYPES.get(str(spec.get("type", "")))
    if vtype is None:
        errors.append(Problem("unknown_type", "未知的变量类型", "unknown variable type"))
        return errors
    max_length = spec.get("max_length") or vtype.default_max_length
    if not isinstance(max_length, int) or max_length < 1 or max_length > vtype.ceiling:
        errors.append(
            Problem(
                "bad_max_length", f"最大长度须在 1–{vtype.ceiling} 之间", f"maximum length must be 1–{vtype.ceiling}"
            )
        )
        max_length = vtype.ceiling
    example = str(spec.get("example", "") or "")
    problem = value_error(vtype.id, example, max_length)
    if problem:
        errors.append(Problem("bad_example", f"示例：{problem.zh}", f"example: {problem.en}"))
    return errors


def used_variables(body: str) -> list[str]:
    return [match.group(1) for match in VARIABLE_PATTERN.finditer(body)]
