"""The rule engine on its own: every rule fires where it must and stays quiet where it must not."""

from __future__ import annotations

import re

import pytest

from compliance.rules import BLOCK, RULES, WARN, CheckInput, check, has_blocks
from compliance.rules.sensitive import find_words

SPEC_BY_NAME = {
    "code": {"type": "code", "max_length": 6, "example": "385721"},
    "name": {"type": "name", "max_length": 10, "example": "张三"},
    "amount": {"type": "amount", "max_length": 10, "example": "128.00"},
    "date": {"type": "datetime", "max_length": 20, "example": "2026-05-01 12:00"},
    "path": {"type": "link", "max_length": 30, "example": "o/8Hx2"},
    "n": {"type": "number", "max_length": 10, "example": "3"},
    "t": {"type": "text", "max_length": 20, "example": "示例"},
    "t2": {"type": "text", "max_length": 20, "example": "示例"},
    "code2": {"type": "code", "max_length": 6, "example": "1234"},
}


def declare(body: str) -> list[dict]:
    names = dict.fromkeys(re.findall(r"\$\{([^{}]*)\}", body))
    return [{"name": n, **SPEC_BY_NAME[n]} for n in names if n in SPEC_BY_NAME]


def run(kind: str, body: str, **overrides):
    data = {
        "kind": kind,
        "body": body,
        "signature": "华美零售",
        "variables": declare(body),
        "registered_domains": ("huamei.com",),
        "tenant_verified": True,
        "marketing_allowed": True,
    }
    data.update(overrides)
    return check(CheckInput(**data))


def fired(findings, rule_id):
    return [f for f in findings if f.rule == rule_id]


GOOD_CODE = "您的验证码为${code}，用于登录，5分钟内有效，请勿泄露。"
GOOD_NOTE = "您的订单已发货，运单号${n}，请留意查收。"
GOOD_MARKETING = "尊敬的会员，本周六会员日全场满200减30。拒收请回复R"
GOOD_ALERT = "服务器CPU超过90%，请尽快处理。"

# (rule id, kind, body, extra CheckInput fields, should fire)
CASES = [
    # body.brackets
    ("body.brackets", "notification", "【华美零售】您的订单已发货，请查收。", {}, True),
    ("body.brackets", "notification", "您的订单已发货】请查收。", {}, True),
    ("body.brackets", "notification", "您的订单〖已发货〗。", {}, True),
    ("body.brackets", "notification", GOOD_NOTE, {}, False),
    ("body.brackets", "notification", "您的订单[A12]已发货，请查收。", {}, False),
    # body.length
    ("body.length", "notification", "", {}, True),
    ("body.length", "notification", "   ", {}, True),
    ("body.length", "notification", "订" * 495, {}, True),  # 495 + 【华美零售】(6) = 501
    ("body.length", "notification", "订" * 494, {}, False),  # exactly 500
    ("body.length", "notification", "订" * 480 + "${t}", {}, True),  # variable counted at 20
    ("body.length", "notification", GOOD_NOTE, {}, False),
    # var.undeclared
    ("var.undeclared", "notification", "您好${who}，包裹已到。", {}, True),
    ("var.undeclared", "notification", "您好${}，包裹已到。", {}, True),
    ("var.undeclared", "notification", "您的订单${n}已发货，到货${date}。", {"variables": []}, True),
    ("var.undeclared", "notification", GOOD_NOTE, {}, False),
    ("var.undeclared", "notification", "没有变量的通知。", {}, False),
    # var.declaration
    (
        "var.declaration",
        "notification",
        "订单${n}已发货。",
        {"variables": [{"name": "n", "type": "bogus", "example": "1"}]},
        True,
    ),
    (
        "var.declaration",
        "notification",
        "订单${n}已发货。",
        {"variables": [{"name": "n", "type": "number", "max_length": 99, "example": "1"}]},
        True,
    ),
    (
        "var.declaration",
        "notification",
        "订单${n}已发货。",
        {"variables": [{"name": "n", "type": "number", "example": "abc"}]},
        True,
    ),
    (
        "var.declaration",
        "notification",
        "订单${1n}已发货。",
        {"variables": [{"name": "1n", "type": "number", "example": "1"}]},
        True,
    ),
    (
        "var.declaration",
        "notification",
        "您好${t}。",
        {"variables": [{"name": "t", "type": "text", "example": "见 evil.com"}]},
        True,
    ),
    ("var.declaration", "notification", GOOD_NOTE, {}, False),
    ("var.declaration", "verification", GOOD_CODE, {}, False),
    # var.unused
    ("var.unused", "notification", "您的订单已发货。", {"variables": [SPEC_BY_NAME["n"] | {"name": "n"}]}, True),
    ("var.unused", "notification", "订单${n}已发货。", {"variables": declare("${n}${t}")}, True),
    ("var.unused", "verification", "您的验证码为${code}，5分钟内有效。", {"variables": declare("${code}${n}")}, True),
    ("var.unused", "notification", GOOD_NOTE, {}, False),
    ("var.unused", "notification", "您的订单已发货。", {"variables": []}, False),
    # var.repeated
    ("var.repeated", "notification", "订单${n}已发货，订单${n}。", {}, True),
    ("var.repeated", "verification", "验证码${code}，再说一遍${code}，5分钟内有效。", {}, True),
    ("var.repeated", "notification", "${t}您好，${t}再见，${t}。", {}, True),
    ("var.repeated", "notification", GOOD_NOTE, {}, False),
    ("var.repeated", "notification", "订单${n}已发货，备注${t}。", {}, False),
    # var.adjacent
    ("var.adjacent", "notification", "订单${n}${t}已发货。", {}, True),
    ("var.adjacent", "notification", "订单${n} ${t}已发货。", {}, True),
    ("var.adjacent", "notification", "您好${name}${t}${n}。", {}, True),
    ("var.adjacent", "notification", "订单${n}，${t}已发货。", {}, False),
    ("var.adjacent", "notification", GOOD_NOTE, {}, False),
    # var.whole_body
    ("var.whole_body", "notification", "${t}", {}, True),
    ("var.whole_body", "notification", "${t}，${n}。", {}, True),
    ("var.whole_body", "notification", " ${t} ", {}, True),
    ("var.whole_body", "notification", "备注：${t}", {}, False),
    ("var.whole_body", "notification", "没有变量。", {}, False),
    # var.link
    ("var.link", "notification", "查看详情 ${path} 。", {}, True),
    ("var.link", "notification", "查看详情 https://evil.com/${path} 。", {}, True),
    ("var.link", "marketing", "尊敬的会员，详情见 http://huamei.cn/${path} 拒收请回复R", {}, True),
    ("var.link", "notification", "查看详情 https://huamei.com/${path} 。", {}, False),
    ("var.link", "notification", "查看详情 https://m.huamei.com/o/${path} 。", {}, False),
    # link.domain
    ("link.domain", "notification", "查看详情 https://evil.com/a 。", {}, True),
    ("link.domain", "notification", "查看详情 evil.cn/x 。", {}, True),
    ("link.domain", "marketing", "尊敬的会员，详见 huamei.com.evil.top/x 拒收请回复R", {}, True),
    ("link.domain", "notification", "查看详情 https://huamei.com/a 。", {}, False),
    ("link.domain", "notification", "查看详情 https://WWW.HUAMEI.COM/a 。", {}, False),
    ("link.domain", "notification", GOOD_NOTE, {}, False),
    ("link.domain", "notification", "详见evil.com查看", {}, True),
    ("link.domain", "notification", "金额12.50元，联系 service@huamei.com", {}, False),
    # verification.keyword
    ("verification.keyword", "verification", "您的登录码为${code}，5分钟内有效。", {}, True),
    ("verification.keyword", "verification", "${code}是您的口令，5分钟内有效。", {}, True),
    ("verification.keyword", "verification", "Your code is ${code}, valid 5 minutes.", {}, True),
    ("verification.keyword", "verification", GOOD_CODE, {}, False),
    ("verification.keyword", "verification", "您的动态码${code}，用于支付。", {}, False),
    ("verification.keyword", "verification", "Your verification code is ${code}, valid 5 minutes.", {}, False),
    # verification.purpose
    ("verification.purpose", "verification", "您的验证码为${code}。", {}, True),
    ("verification.purpose", "verification", "验证码${code}，请勿泄露。", {}, True),
    ("verification.purpose", "verification", "Your verification code: ${code}", {}, True),
    ("verification.purpose", "verification", GOOD_CODE, {}, False),
    ("verification.purpose", "verification", "验证码${code}，用于找回密码。", {}, False),
    # verification.no_link
    ("verification.no_link", "verification", GOOD_CODE + "https://huamei.com", {}, True),
    ("verification.no_link", "verification", "验证码${code}，5分钟内有效，huamei.com/x", {}, True),
    ("verification.no_link", "verification", "验证码${code}，5分钟内有效，见https://huamei.com/${path}", {}, True),
    ("verification.no_link", "verification", GOOD_CODE, {}, False),
    ("verification.no_link", "verification", "验证码${code}，用于登录华美App。", {}, False),
    # verification.code_variable
    ("verification.code_variable", "verification", "您的验证码为1234，5分钟内有效。", {}, True),
    ("verification.code_variable", "verification", "验证码${code}，备用码${code2}，5分钟内有效。", {}, True),
    ("verification.code_variable", "verification", "验证码${n}，5分钟内有效。", {}, True),
    ("verification.code_variable", "verification", GOOD_CODE, {}, False),
    ("verification.code_variable", "verification", "${name}，您的验证码${code}，用于登录。", {}, False),
    # content.marketing_words
    ("content.marketing_words", "verification", "验证码${code}，5分钟内有效。领取优惠券！", {}, True),
    ("content.marketing_words", "notification", "您的订单已发货，全场8折！", {}, True),
    ("content.marketing_words", "notification", "您的订单已发货。Big SALE today", {}, True),
    ("content.marketing_words", "notification", GOOD_NOTE, {}, False),
    ("content.marketing_words", "verification", GOOD_CODE, {}, False),
    ("content.marketing_words", "marketing", GOOD_MARKETING, {}, False),  # marketing may advertise
    # content.unsubscribe_text
    ("content.unsubscribe_text", "notification", GOOD_NOTE + "回T退订", {}, True),
    ("content.unsubscribe_text", "verification", GOOD_CODE + "拒收请回复R", {}, True),
    ("content.unsubscribe_text", "notification", "您的订单已发货。Reply STOP to opt out", {}, True),
    ("content.unsubscribe_text", "notification", GOOD_NOTE, {}, False),
    ("content.unsubscribe_text", "verification", GOOD_CODE, {}, False),
    # marketing.unsubscribe
    ("marketing.unsubscribe", "marketing", "尊敬的会员，本周六会员日全场满200减30。", {}, True),
    ("marketing.unsubscribe", "marketing", "尊敬的会员，回T退订，本周六会员日全场满200减30。", {}, True),
    ("marketing.unsubscribe", "marketing", "尊敬的会员，本周六会员日。退订", {}, True),
    ("marketing.unsubscribe", "marketing", GOOD_MARKETING, {}, False),
    ("marketing.unsubscribe", "marketing", "尊敬的会员，本周六会员日全场满200减30，回T退订。", {}, False),
    ("marketing.unsubscribe", "marketing", "尊敬的会员，本周六会员日，退订回N", {}, False),
    # marketing.salutation
    ("marketing.salutation", "marketing", "本周六会员日全场满200减30。拒收请回复R", {}, False),  # 会员 in text
    ("marketing.salutation", "marketing", "本周六全场满200减30。拒收请回复R", {}, True),
    ("marketing.salutation", "marketing", "新品上市，欢迎选购。回T退订", {}, True),
    ("marketing.salutation", "marketing", "全场满200减30。拒收请回复R", {}, True),
    ("marketing.salutation", "marketing", "${name}，本周六全场满200减30。拒收请回复R", {}, False),
    ("marketing.salutation", "marketing", GOOD_MARKETING, {}, False),
    # marketing.verified_tenant
    ("marketing.verified_tenant", "marketing", GOOD_MARKETING, {"tenant_verified": False}, True),
    ("marketing.verified_tenant", "marketing", GOOD_MARKETING, {"marketing_allowed": False}, True),
    (
        "marketing.verified_tenant",
        "marketing",
        GOOD_MARKETING,
        {"tenant_verified": False, "marketing_allowed": False},
        True,
    ),
    ("marketing.verified_tenant", "marketing", GOOD_MARKETING, {}, False),
    ("marketing.verified_tenant", "notification", GOOD_NOTE, {"tenant_verified": False}, False),
    # marketing.banned_industry
    ("marketing.banned_industry", "marketing", "尊敬的会员，低息贷款秒到账。拒收请回复R", {}, True),
    ("marketing.banned_industry", "marketing", "尊敬的客户，内部荐股群限时开放。拒收请回复R", {}, True),
    ("marketing.banned_industry", "marketing", "尊敬的会员，比特币投资机会。拒收请回复R", {}, True),
    ("marketing.banned_industry", "marketing", GOOD_MARKETING, {}, False),
    ("marketing.banned_industry", "marketing", "尊敬的会员，新款运动鞋上市。拒收请回复R", {}, False),
    # alert.short
    ("alert.short", "alert", "服务器" + "故障" * 40, {}, True),
    ("alert.short", "alert", "设备${t}离线，机房温度过高请处理。" + "请" * 40, {}, True),
    ("alert.short", "alert", "告" * 64, {}, False),  # 64 + 6 = 70
    ("alert.short", "alert", "告" * 65, {}, True),
    ("alert.short", "alert", GOOD_ALERT, {}, False),
    # alert.no_link
    ("alert.no_link", "alert", GOOD_ALERT + "详见 https://huamei.com/x", {}, True),
    ("alert.no_link", "alert", "磁盘告警，详见huamei.com", {}, True),
    ("alert.no_link", "alert", "磁盘告警，详见 https://huamei.com/${path}", {}, True),
    ("alert.no_link", "alert", GOOD_ALERT, {}, False),
    ("alert.no_link", "alert", "磁盘使用率95.5%，请处理。", {}, False),
    # content.sensitive
    ("content.sensitive", "notification", "您的订单已发货，附赠代开发票服务。", {}, True),
    ("content.sensitive", "notification", "您的订单已发货，赌 博勿扰。", {}, True),
    ("content.sensitive", "notification", "Ｃａｓｉｎｏ night", {}, True),
    (
        "content.sensitive",
        "notification",
        "您的订单已发货，内部代号青龙。",
        {"tenant_sensitive_words": ("青龙",)},
        True,
    ),
    ("content.sensitive", "notification", GOOD_NOTE, {}, False),
    ("content.sensitive", "notification", "您的订单已发货，内部代号青龙。", {}, False),
    ("content.sensitive", "notification", "代开发票。", {"platform_sensitive_words": ()}, False),
    # content.traditional
    ("content.traditional", "verification", "您的驗證碼為${code}，5分钟内有效。", {}, True),
    ("content.traditional", "notification", "您的訂單已發貨。", {}, True),
    ("content.traditional", "notification", "請查收包裹。", {}, True),
    ("content.traditional", "notification", GOOD_NOTE, {}, False),
    ("content.traditional", "marketing", GOOD_MARKETING, {}, False),
    # content.typo
    ("content.typo", "verification", "您的验正码为${code}，5分钟内有效。", {}, True),
    ("content.typo", "marketing", "尊敬的会员，本周六会员日。回T退定", {}, True),
    ("content.typo", "notification", "华美零傷提醒：您的订单已发货。", {}, True),  # signature near-miss
    ("content.typo", "notification", "请登陆App查看订单。", {}, True),
    ("content.typo", "notification", "华美零售提醒：您的订单已发货。", {}, False),
    ("content.typo", "notification", GOOD_NOTE, {}, False),
]


@pytest.mark.parametrize(("rule_id", "kind", "body", "extra", "should_fire"), CASES)
def test_rule(rule_id, kind, body, extra, should_fire):
    findings = run(kind, body, **extra)
    assert bool(fired(findings, rule_id)) is should_fire, [f.rule for f in findings]


def test_every_rule_has_five_cases_with_passing_ones():
    for rule_id in RULES:
        cases = [c for c in CASES if c[0] == rule_id]
        assert len(cases) >= 5, rule_id
        assert any(not c[4] for c in cases), f"{rule_id} has no passing case"
        assert any(c[4] for c in cases), f"{rule_id} has no failing case"


def test_every_rule_has_both_languages_and_a_severity():
    for item in RULES.values():
        assert item.severity in (BLOCK, WARN)
        assert item.message_zh and item.message_en
        assert re.search(r"[\u4e00-\u9fff]", item.message_zh)


@pytest.mark.parametrize(
    "body", [GOOD_CODE, "您的验证码为${code}，10分钟内有效。", "Your verification code is ${code}, valid 5 minutes."]
)
def test_clean_verification_template_has_no_findings(body):
    assert run("verification", body) == []


def test_clean_templates_of_each_kind_have_no_findings():
    assert run("notification", GOOD_NOTE) == []
    assert run("marketing", GOOD_MARKETING) == []
    assert run("alert", GOOD_ALERT) == []


# One-click fixes: applying the fix makes the finding go away.
FIXABLE = [
    ("body.brackets", "notification", "【华美零售】您的订单已发货。"),
    ("var.undeclared", "notification", "您好${who}，包裹已到。"),
    ("var.unused", "verification", "您的验证码为${code}，5分钟内有效。"),
    ("verification.keyword", "verification", "您的登录码为${code}，5分钟内有效。"),
    ("verification.purpose", "verification", "您的验证码为${code}。"),
    ("verification.no_link", "verification", GOOD_CODE + " https://huamei.com/x"),
    ("content.marketing_words", "notification", "您的订单已发货，全场8折，限时秒杀！"),
    ("content.unsubscribe_text", "notification", "您的订单已发货，回T退订"),
    ("marketing.unsubscribe", "marketing", "尊敬的会员，本周六会员日全场满200减30"),
    ("marketing.unsubscribe", "marketing", "尊敬的会员，回T退订，本周六会员日全场满200减30。"),
    ("marketing.salutation", "marketing", "全场满200减30。拒收请回复R"),
    ("alert.no_link", "alert", "磁盘告警，详见 https://huamei.com/x"),
    ("content.sensitive", "notification", "您的订单已发货，附赠代开发票服务。"),
    ("content.traditional", "notification", "您的訂單已發貨。"),
    ("content.typo", "notification", "请登陆华美零傷App查看订单。"),
]


@pytest.mark.parametrize(("rule_id", "kind", "body"), FIXABLE)
def test_one_click_fix_resolves_the_finding(rule_id, kind, body):
    variables = declare(body)
    if rule_id == "var.unused":
        variables = declare("${code}${n}")
    finding = fired(run(kind, body, variables=variables), rule_id)[0]
    assert finding.fix is not None
    new_variables = finding.fix.variables if finding.fix.variables is not None else variables
    assert not fired(run(kind, finding.fix.body, variables=new_variables), rule_id)


def test_marketing_fix_appends_unsubscribe_at_the_end():
    finding = fired(run("marketing", "尊敬的会员，本周六会员日全场满200减30"), "marketing.unsubscribe")[0]
    assert finding.fix.body == "尊敬的会员，本周六会员日全场满200减30。拒收请回复R"


def test_sensitive_words_are_highlighted_in_the_original_text():
    body = "订单已发货，ＣＡＳＩＮＯ 与 赌 博 无关"
    findings = fired(run("notification", body), "content.sensitive")
    spans = findings[0].spans
    assert [body[s:e] for s, e in spans] == ["ＣＡＳＩＮＯ", "赌 博"]


def test_find_words_folds_width_case_and_separators():
    assert find_words("VIAGRA", ["viagra"]) == [(0, 6, "viagra")]
    assert find_words("v-i-a-g-r-a", ["Viagra"]) == [(0, 11, "Viagra")]
    assert find_words("无关内容", ["viagra"]) == []
    assert find_words("", ["x"]) == []
    assert find_words("abc", []) == []


def test_blocks_sort_before_warnings_and_has_blocks():
    findings = run("notification", "【华美零售】请登陆App")
    assert findings[0].severity == BLOCK
    assert has_blocks(findings)
    assert not has_blocks(run("notification", "请登陆App查看订单。"))


def test_findings_serialise_to_plain_data():
    finding = run("marketing", "尊敬的会员，上新")[0]
    data = finding.as_dict()
    assert set(data) == {"rule", "severity", "message", "detail", "spans", "fix"}
    assert data["message"]["zh"] and data["message"]["en"]


def test_engine_has_no_django_dependency():
    import os
    import subprocess
    import sys

    code = (
        "import sys; from compliance.rules import check, CheckInput; "
        "check(CheckInput(kind='marketing', body='尊敬的会员，上新了')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'psycopg')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"
