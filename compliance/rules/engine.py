"""The template rule engine: plain data in, findings out (no Django, no database).

Each rule has a stable id, a severity (`block` stops a submission, `warn` informs), a message
in Chinese and English, highlighted spans in the body where it applies, and — where a safe
mechanical change exists — a one-click fix: the complete corrected body (and variables).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from compliance.rules import wordlists as words
from compliance.rules.sensitive import find_words
from compliance.rules.variables import LINK_PATTERN, VARIABLE_PATTERN, VARIABLE_TYPES, spec_errors, used_variables
from templates.segments import count_segments

BLOCK = "block"
WARN = "warn"
KINDS = ("verification", "notification", "marketing", "alert")
MAX_LENGTH = 500
ALERT_SHORT_LIMIT = 70  # one UCS-2 segment, signature included


@dataclass(frozen=True)
class CheckInput:
    kind: str
    body: str
    signature: str = ""
    variables: Sequence[dict] = ()
    registered_domains: Sequence[str] = ()
    tenant_verified: bool = False
    marketing_allowed: bool = False
    tenant_sensitive_words: Sequence[str] = ()
    platform_sensitive_words: Sequence[str] | None = None  # None → the built-in platform list


@dataclass(frozen=True)
class Fix:
    label_zh: str
    label_en: str
    body: str
    variables: list[dict] | None = None  # None: leave the declarations as they are

    def as_dict(self) -> dict:
        return {"label": {"zh": self.label_zh, "en": self.label_en}, "body": self.body, "variables": self.variables}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message_zh: str
    message_en: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    detail_zh: str = ""
    detail_en: str = ""
    fix: Fix | None = None

    def message(self, language: str = "zh") -> str:
        return self.message_zh if language.lower().startswith("zh") else self.message_en

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": {"zh": self.message_zh, "en": self.message_en},
            "detail": {"zh": self.detail_zh, "en": self.detail_en},
            "spans": [list(span) for span in self.spans],
            "fix": self.fix.as_dict() if self.fix else None,
        }


@dataclass(frozen=True)
class Hit:
    spans: list[tuple[int, int]] = field(default_factory=list)
    fix: Fix | None = None
    detail_zh: str = ""
    detail_en: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    message_zh: str
    message_en: str
    kinds: frozenset[str]
    check: Callable[[CheckInput], Hit | None]


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: str, zh: str, en: str, kinds: Sequence[str] = KINDS):
    def register(func: Callable[[CheckInput], Hit | None]):
        RULES[rule_id] = Rule(rule_id, severity, zh, en, frozenset(kinds), func)
        return func

    return register


def check(data: CheckInput) -> list[Finding]:
    """Every finding for this draft, blocks first, in rule order."""
    findings = []
    for item in RULES.values():
        if data.kind not in item.kinds:
            continue
        hit = item.check(data)
        if hit is None:
            continue
        findings.append(
            Finding(
                rule=item.id,
                severity=item.severity,
                message_zh=item.message_zh,
                message_en=item.message_en,
                spans=hit.spans,
                detail_zh=hit.detail_zh,
                detail_en=hit.detail_en,
                fix=hit.fix,
            )
        )
    findings.sort(key=lambda f: f.severity != BLOCK)
    return findings


def has_blocks(findings: Sequence[Finding]) -> bool:
    return any(f.severity == BLOCK for f in findings)


# --- helpers ---------------------------------------------------------------------------------


def _spans(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def _remove_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        last = end
    out.append(text[last:])
    return re.sub(r"[，,]\s*([，,。])", r"\1", "".join(out)).strip()


def _word_pattern(items: Sequence[str]) -> re.Pattern:
    escaped = sorted((re.escape(w) for w in items), key=len, reverse=True)
    return re.compile("|".join(escaped), re.IGNORECASE)


_MARKETING = _word_pattern(words.MARKETING_WORDS)
_BANNED = _word_pattern(words.BANNED_INDUSTRY_WORDS)


def _fixed_text_spans(body: str, pattern: re.Pattern) -> list[tuple[int, int]]:
    """Matches of `pattern` outside ${variables}."""
    holes = [m.span() for m in VARIABLE_PATTERN.finditer(body)]
    return [span for span in _spans(pattern, body) if not any(h[0] < span[1] and span[0] < h[1] for h in holes)]


def _links(body: str) -> list[re.Match]:
    holes = [m.span() for m in VARIABLE_PATTERN.finditer(body)]
    return [m for m in LINK_PATTERN.finditer(body) if not any(h[0] < m.end() and m.start() < h[1] for h in holes)]


def _host(link: str) -> str:
    text = re.sub(r"^[a-z]+://", "", link.lower())
    return re.split(r"[/?#:]", text, maxsplit=1)[0]


def _on_domains(host: str, domains: Sequence[str]) -> bool:
    host = host.removeprefix("www.")
    for domain in domains:
        domain = domain.strip().lower().removeprefix("www.")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def _declared(data: CheckInput) -> dict[str, dict]:
    return {str(spec.get("name")): spec for spec in data.variables or [] if isinstance(spec, dict)}


def _longest_text(data: CheckInput) -> str:
    declared = _declared(data)

    def widest(match: re.Match) -> str:
        spec = declared.get(match.group(1))
        if spec is None:
            return match.group(0)
        vtype = VARIABLE_TYPES.get(str(spec.get("type")))
        limit = spec.get("max_length") or (vtype.default_max_length if vtype else 20)
        return "字" * int(limit if isinstance(limit, int) else 20)

    return f"【{data.signature}】" + VARIABLE_PATTERN.sub(widest, data.body)


def _end_with_full_stop(text: str) -> str:
    text = text.rstrip()
    return text if not text or text[-1] in "。！？!?.…" else text + "。"


# --- body ------------------------------------------------------------------------------------

_BRACKETS = re.compile(r"[【】〖〗]")


@rule(
    "body.brackets",
    BLOCK,
    "正文中不能出现【】，签名由平台自动添加。",
    "No 【】 in the body: the platform adds the signature.",
)
def _body_brackets(data: CheckInput) -> Hit | None:
    spans = _spans(_BRACKETS, data.body)
    if not spans:
        return None
    fixed = re.sub(r"【[^【】]{0,12}】", "", data.body)
    fixed = _BRACKETS.sub("", fixed).strip()
    return Hit(spans, Fix("删除【】及其中的签名", "Remove the 【】 and the signature inside", fixed))


@rule(
    "body.length",
    BLOCK,
    f"含签名的正文长度须在 1–{MAX_LENGTH} 个字符之间（变量按最大长度计）。",
    f"The body with its signature must be 1–{MAX_LENGTH} characters (variables at their maximum length).",
)
def _body_length(data: CheckInput) -> Hit | None:
    if not data.body.strip():
        return Hit(detail_zh="正文为空。", detail_en="The body is empty.")
    length = len(_longest_text(data))
    if length > MAX_LENGTH:
        return Hit(
            [(0, len(data.body))],
            detail_zh=f"最长可达 {length} 个字符。",
            detail_en=f"Up to {length} characters.",
        )
    return None


# --- variables -------------------------------------------------------------------------------


@rule("var.undeclared", BLOCK, "正文使用了未声明的变量。", "The body uses a variable that is not declared.")
def _var_undeclared(data: CheckInput) -> Hit | None:
    declared = _declared(data)
    missing = [m for m in VARIABLE_PATTERN.finditer(data.body) if m.group(1) not in declared]
    if not missing:
        return None
    names = list(dict.fromkeys(m.group(1) for m in missing))
    variables = list(data.variables or [])
    fixable = [n for n in names if re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,29}$", n)]
    fix = None
    if fixable:
        variables += [{"name": n, "type": "text", "max_length": 20, "example": "示例"} for n in fixable]
        fix = Fix("声明为短文本变量", "Declare as short-text variables", data.body, variables)
    return Hit(
        [m.span() for m in missing],
        fix,
        detail_zh="未声明：" + "、".join(names),
        detail_en="Not declared: " + ", ".join(names),
    )


@rule("var.declaration", BLOCK, "变量声明有误（名称、类型、最大长度或示例）。", "A variable declaration is wrong.")
def _var_declaration(data: CheckInput) -> Hit | None:
    problems_zh, problems_en = [], []
    seen: set[str] = set()
    for spec in data.variables or []:
        if not isinstance(spec, dict):
            problems_zh.append("变量声明格式错误")
            problems_en.append("malformed declaration")
            continue
        name = str(spec.get("name", ""))
        if name in seen:
            problems_zh.append(f"{name}：重复声明")
            problems_en.append(f"{name}: declared twice")
        seen.add(name)
        for problem in spec_errors(spec):
            problems_zh.append(f"{name}：{problem.zh}")
            problems_en.append(f"{name}: {problem.en}")
    if not problems_zh:
        return None
    return Hit(detail_zh="；".join(problems_zh), detail_en="; ".join(problems_en))


@rule("var.unused", WARN, "声明了但未在正文中使用的变量。", "Declared variables that the body does not use.")
def _var_unused(data: CheckInput) -> Hit | None:
    used = set(used_variables(data.body))
    unused = [name for name in _declared(data) if name not in used]
    if not unused:
        return None
    kept = [spec for spec in data.variables if spec.get("name") not in unused]
    return Hit(
        fix=Fix("删除未使用的变量", "Remove the unused variables", data.body, kept),
        detail_zh="未使用：" + "、".join(unused),
        detail_en="Unused: " + ", ".join(unused),
    )


@rule("var.repeated", BLOCK, "同一变量只能使用一次。", "Each variable may be used only once.")
def _var_repeated(data: CheckInput) -> Hit | None:
    seen: dict[str, int] = {}
    spans = []
    for match in VARIABLE_PATTERN.finditer(data.body):
        seen[match.group(1)] = seen.get(match.group(1), 0) + 1
        if seen[match.group(1)] > 1:
            spans.append(match.span())
    return Hit(spans) if spans else None


@rule("var.adjacent", BLOCK, "变量之间须有固定文字隔开。", "Variables must be separated by fixed text.")
def _var_adjacent(data: CheckInput) -> Hit | None:
    spans = [m.span() for m in re.finditer(r"\$\{[^{}]*\}\s*(?=\$\{)", data.body)]
    return Hit(spans) if spans else None


@rule("var.whole_body", BLOCK, "正文不能只有变量，须包含固定文字。", "The body cannot be only variables.")
def _var_whole_body(data: CheckInput) -> Hit | None:
    if not VARIABLE_PATTERN.search(data.body):
        return None
    rest = VARIABLE_PATTERN.sub("", data.body)
    if re.sub(r"[\W_]+", "", rest, flags=re.UNICODE):
        return None
    return Hit([(0, len(data.body))])


@rule(
    "var.link",
    BLOCK,
    "链接不能放在变量中：域名须作为固定文字写在正文里，且为已登记的域名。",
    "Links cannot be variables: the domain must be fixed text on a registered domain.",
)
def _var_link(data: CheckInput) -> Hit | None:
    declared = _declared(data)
    spans = []
    for match in VARIABLE_PATTERN.finditer(data.body):
        spec = declared.get(match.group(1))
        if spec is None or spec.get("type") != "link":
            continue
        before = [link for link in _links(data.body[: match.start()]) if link.end() == match.start()]
        if not before or not _on_domains(_host(before[0].group(0)), data.registered_domains):
            spans.append(match.span())
    return Hit(spans) if spans else None


@rule(
    "link.domain",
    BLOCK,
    "链接须使用贵司已登记的域名。",
    "Links must use one of your registered domains.",
    kinds=("notification", "marketing"),
)
def _link_domain(data: CheckInput) -> Hit | None:
    bad = [m for m in _links(data.body) if not _on_domains(_host(m.group(0)), data.registered_domains)]
    if not bad:
        return None
    hosts = list(dict.fromkeys(_host(m.group(0)) for m in bad))
    return Hit(
        [m.span() for m in bad],
        detail_zh="未登记：" + "、".join(hosts),
        detail_en="Not registered: " + ", ".join(hosts),
    )


# --- verification codes --------------------------------------------------------------------


@rule(
    "verification.keyword",
    BLOCK,
    "验证码短信须包含“验证码”“校验码”“动态码”或“注册码”。",
    "A verification message must say 验证码 / 校验码 / 动态码 / 注册码 (or “verification code”).",
    kinds=("verification",),
)
def _verification_keyword(data: CheckInput) -> Hit | None:
    # Traditional spellings (驗證碼) are flagged by content.traditional, not refused here.
    if words.VERIFICATION_KEYWORDS.search(_t2s().convert(data.body)):
        return None
    declared = _declared(data)
    code = next(
        (m for m in VARIABLE_PATTERN.finditer(data.body) if declared.get(m.group(1), {}).get("type") == "code"), None
    )
    fix = None
    if code:
        fixed = data.body[: code.start()] + "验证码" + data.body[code.start() :]
        fix = Fix("在验证码变量前加上“验证码”", "Add 验证码 before the code", fixed)
    return Hit(fix=fix)


@rule(
    "verification.purpose",
    BLOCK,
    "验证码短信须说明用途或有效期。",
    "A verification message must state its purpose or how long the code is valid.",
    kinds=("verification",),
)
def _verification_purpose(data: CheckInput) -> Hit | None:
    if words.PURPOSE_PATTERN.search(_t2s().convert(VARIABLE_PATTERN.sub("", data.body))):
        return None
    fixed = data.body.rstrip().rstrip("。.！!，,") + words.PURPOSE_FIX
    return Hit(fix=Fix("补充有效期：5分钟内有效", "Add the validity: valid for 5 minutes", fixed))


@rule(
    "verification.no_link",
    BLOCK,
    "验证码短信不能包含链接。",
    "A verification message cannot contain links.",
    kinds=("verification",),
)
def _verification_no_link(data: CheckInput) -> Hit | None:
    return _no_links(data)


@rule(
    "verification.code_variable",
    BLOCK,
    "验证码短信须有且只有一个“验证码”类型的变量。",
    "A verification message needs exactly one variable of type code.",
    kinds=("verification",),
)
def _verification_code_variable(data: CheckInput) -> Hit | None:
    declared = _declared(data)
    codes = [m for m in VARIABLE_PATTERN.finditer(data.body) if declared.get(m.group(1), {}).get("type") == "code"]
    if len(codes) == 1:
        return None
    return Hit(
        [m.span() for m in codes[1:]],
        detail_zh=f"当前有 {len(codes)} 个。",
        detail_en=f"Found {len(codes)}.",
    )


# --- content by kind -----------------------------------------------------------------------


@rule(
    "content.marketing_words",
    BLOCK,
    "验证码和通知短信不能包含营销内容。",
    "Verification and notification messages cannot contain marketing words.",
    kinds=("verification", "notification"),
)
def _content_marketing(data: CheckInput) -> Hit | None:
    spans = _fixed_text_spans(data.body, _MARKETING) + _fixed_text_spans(data.body, words.DISCOUNT_PATTERN)
    if not spans:
        return None
    return Hit(sorted(spans), Fix("删除营销用语", "Remove the marketing words", _remove_spans(data.body, spans)))


@rule(
    "content.unsubscribe_text",
    BLOCK,
    "验证码和通知短信不能带退订提示。",
    "Verification and notification messages must not carry unsubscribe text.",
    kinds=("verification", "notification"),
)
def _content_unsubscribe(data: CheckInput) -> Hit | None:
    spans = _fixed_text_spans(data.body, words.UNSUBSCRIBE_ANYWHERE)
    if not spans:
        return None
    return Hit(spans, Fix("删除退订提示", "Remove the unsubscribe text", _remove_spans(data.body, spans)))


@rule(
    "marketing.unsubscribe",
    BLOCK,
    "营销短信须以退订方式结尾，如“拒收请回复R”或“回T退订”。",
    "A marketing message must end with how to unsubscribe, e.g. 拒收请回复R or 回T退订.",
    kinds=("marketing",),
)
def _marketing_unsubscribe(data: CheckInput) -> Hit | None:
    if words.UNSUBSCRIBE_AT_END.search(data.body):
        return None
    elsewhere = _fixed_text_spans(data.body, words.UNSUBSCRIBE_ANYWHERE)
    base = _remove_spans(data.body, elsewhere) if elsewhere else data.body
    fixed = _end_with_full_stop(base) + words.UNSUBSCRIBE_FIX
    return Hit(elsewhere, Fix("在结尾加上“拒收请回复R”", "Add 拒收请回复R at the end", fixed))


@rule(
    "marketing.salutation",
    BLOCK,
    "营销短信须包含对会员/客户的称呼，如“尊敬的会员”。",
    "A marketing message must address the member, e.g. 尊敬的会员.",
    kinds=("marketing",),
)
def _marketing_salutation(data: CheckInput) -> Hit | None:
    if words.SALUTATION_PATTERN.search(VARIABLE_PATTERN.sub("", data.body)):
        return None
    if any(
        spec.get("type") == "name" for spec in _declared(data).values() if spec.get("name") in used_variables(data.body)
    ):
        return None
    return Hit(
        fix=Fix("在开头加上“尊敬的会员，”", "Start with 尊敬的会员，", words.SALUTATION_FIX + data.body.lstrip())
    )


@rule(
    "marketing.verified_tenant",
    BLOCK,
    "营销短信仅限已通过企业认证并开通营销的企业发送。",
    "Only enterprises verified for marketing may send marketing messages.",
    kinds=("marketing",),
)
def _marketing_verified(data: CheckInput) -> Hit | None:
    if data.tenant_verified and data.marketing_allowed:
        return None
    if not data.tenant_verified:
        return Hit(detail_zh="请先完成企业认证。", detail_en="Complete the enterprise verification first.")
    return Hit(detail_zh="营销权限尚未开通。", detail_en="Marketing is not enabled for your enterprise.")


@rule(
    "marketing.banned_industry",
    BLOCK,
    "该行业（金融借贷、荐股、虚拟货币、博彩彩票、医美等）不能发送营销短信。",
    "Marketing for this industry (lending, stock tips, crypto, lotteries, cosmetic surgery…) is refused.",
    kinds=("marketing",),
)
def _marketing_banned(data: CheckInput) -> Hit | None:
    spans = _fixed_text_spans(data.body, _BANNED)
    return Hit(spans) if spans else None


@rule(
    "alert.short",
    WARN,
    f"告警短信应简短：含签名不超过 {ALERT_SHORT_LIMIT} 字（一条计费）。",
    f"Alerts should be short: at most {ALERT_SHORT_LIMIT} characters with the signature (one segment).",
    kinds=("alert",),
)
def _alert_short(data: CheckInput) -> Hit | None:
    count = count_segments(_longest_text(data))
    if count.characters <= ALERT_SHORT_LIMIT:
        return None
    return Hit(
        detail_zh=f"最长 {count.characters} 字，{count.segments} 条计费。",
        detail_en=f"Up to {count.characters} characters, {count.segments} segments.",
    )


@rule("alert.no_link", BLOCK, "告警短信不能包含链接。", "Alerts cannot contain links.", kinds=("alert",))
def _alert_no_link(data: CheckInput) -> Hit | None:
    return _no_links(data)


def _no_links(data: CheckInput) -> Hit | None:
    declared = _declared(data)
    spans = [m.span() for m in _links(data.body)]
    spans += [
        m.span() for m in VARIABLE_PATTERN.finditer(data.body) if declared.get(m.group(1), {}).get("type") == "link"
    ]
    if not spans:
        return None
    return Hit(sorted(spans), Fix("删除链接", "Remove the links", _remove_spans(data.body, spans)))


# --- words -----------------------------------------------------------------------------------


@rule("content.sensitive", BLOCK, "正文包含敏感词。", "The body contains sensitive words.")
def _content_sensitive(data: CheckInput) -> Hit | None:
    platform = (
        words.PLATFORM_SENSITIVE_WORDS if data.platform_sensitive_words is None else data.platform_sensitive_words
    )
    matches = find_words(data.body, [*platform, *(data.tenant_sensitive_words or ())])
    if not matches:
        return None
    listed = list(dict.fromkeys(m[2] for m in matches))
    spans = [(m[0], m[1]) for m in matches]
    return Hit(
        spans,
        Fix("删除敏感词", "Remove the sensitive words", _remove_spans(data.body, spans)),
        detail_zh="命中：" + "、".join(listed),
        detail_en="Matched: " + ", ".join(listed),
    )


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@rule(
    "content.traditional",
    WARN,
    "正文含繁体字或异体字，建议使用简体。",
    "Traditional or variant characters: use simplified Chinese.",
)
def _content_traditional(data: CheckInput) -> Hit | None:
    converted = _t2s().convert(data.body)
    if len(converted) != len(data.body):  # a phrase-level conversion: compare char by char is meaningless
        return Hit(fix=Fix("转换为简体", "Convert to simplified", converted)) if converted != data.body else None
    spans = [(i, i + 1) for i, (a, b) in enumerate(zip(data.body, converted, strict=True)) if a != b]
    if not spans:
        return None
    return Hit(spans, Fix("转换为简体", "Convert to simplified", converted))


def _near_misses(body: str, word: str) -> list[tuple[int, int]]:
    """Places where `word` appears with exactly one character wrong (len ≥ 3)."""
    size = len(word)
    if size < 3:
        return []
    spans = []
    for start in range(len(body) - size + 1):
        window = body[start : start + size]
        if window != word and sum(a != b for a, b in zip(window, word, strict=True)) == 1:
            differing = next(i for i, (a, b) in enumerate(zip(window, word, strict=True)) if a != b)
            if differing not in (0, size - 1) or size >= 4:
                spans.append((start, start + size))
    return spans


@rule("content.typo", WARN, "疑似错别字。", "Probable typos.")
def _content_typo(data: CheckInput) -> Hit | None:
    spans, fixed = [], data.body
    typos = dict(words.TYPOS)
    for wrong, right in typos.items():
        for match in re.finditer(re.escape(wrong), data.body):
            spans.append(match.span())
        fixed = fixed.replace(wrong, right)
    if data.signature:
        for start, end in _near_misses(data.body, data.signature):
            if data.body[start:end] not in typos:
                spans.append((start, end))
                fixed = fixed.replace(data.body[start:end], data.signature)
    if not spans:
        return None
    return Hit(sorted(spans), Fix("改正错别字", "Correct the typos", fixed))
