from decimal import Decimal

import pytest
from django.conf import settings

from billing.selectors import account_balance
from messaging.models import Message
from messaging.services import message_accept_batch
from smsportal.enums import FailureReason, MessageStatus
from smsportal.errors import NotFound, PaymentRequired, ServiceError
from smsportal.factories.compliance import SuppressionFactory
from smsportal.factories.messaging import insert_messages, ready_to_send
from smsportal.factories.tenants import TenantFactory


def accept(tenant, member, template, recipients, **kw):
    return message_accept_batch(tenant=tenant, actor=member.user, template_id=template.pk, recipients=recipients, **kw)


def test_good_numbers_are_queued_with_body_segments_and_reservation(tenant, member, code_template):
    before = account_balance(tenant=tenant)
    results = accept(tenant, member, code_template, [{"number": "13800138000", "variables": {"code": "123456"}}])
    [result] = results
    assert result.status == "queued" and result.message_id and result.segments == 1
    assert result.estimated_price > 0
    message = Message.objects.get(pk=result.message_id)
    assert message.number == "+8613800138000" and message.carrier == "mobile" and message.province
    assert message.lane == "urgent" and message.template_id == code_template.pk
    assert message.body.startswith("【") and "123456" in message.body
    assert account_balance(tenant=tenant) < before


def test_bad_recipients_listed_good_ones_accepted(tenant, member, code_template):
    SuppressionFactory(tenant=tenant, number="+8613900139000", scope="all")
    results = accept(
        tenant,
        member,
        code_template,
        [
            {"number": "13800138000", "variables": {"code": "123456"}},
            {"number": "12345", "variables": {"code": "123456"}},
            {"number": "13900139000", "variables": {"code": "123456"}},
            {"number": "13700137000", "variables": {}},
        ],
    )
    assert [r.status for r in results] == ["queued", "rejected", "rejected", "invalid"]
    assert results[1].reason == FailureReason.INVALID_NUMBER
    assert results[2].reason == FailureReason.SUPPRESSED
    assert "code" in results[3].fields and results[3].message_id is None
    stored = dict(Message.objects.for_tenant(tenant).values_list("number", "status"))
    assert stored["+8613900139000"] == MessageStatus.REJECTED
    assert len(stored) == 3


def test_marketing_without_consent_is_rejected(tenant, member, marketing_template):
    [result] = accept(tenant, member, marketing_template, [{"number": "13800138000", "variables": {}}])
    assert result.status == "rejected" and result.reason == FailureReason.NO_CONSENT


def test_insufficient_balance_reserves_nothing_and_stores_nothing(tenant, member):
    template = ready_to_send(tenant, balance="")
    with pytest.raises(PaymentRequired):
        accept(tenant, member, template, [{"number": "13800138000", "variables": {"code": "1234"}}])
    assert not Message.objects.for_tenant(tenant).exists()
    assert account_balance(tenant=tenant) == Decimal("0")


def test_another_tenants_template_is_not_found(tenant, member):
    other = TenantFactory()
    template = ready_to_send(other)
    with pytest.raises(NotFound):
        accept(tenant, member, template, [{"number": "13800138000", "variables": {"code": "1234"}}])


def test_send_at_must_be_aware_and_within_a_month(tenant, member, code_template):
    from datetime import datetime, timedelta

    from django.utils import timezone

    with pytest.raises(ServiceError) as error:
        accept(
            tenant,
            member,
            code_template,
            [{"number": "13800138000", "variables": {"code": "123456"}}],
            send_at=datetime(2030, 1, 1),
        )
    assert error.value.code == "invalid_send_at"
    later = timezone.now() + timedelta(hours=2)
    [result] = accept(
        tenant, member, code_template, [{"number": "13800138000", "variables": {"code": "123456"}}], send_at=later
    )
    assert Message.objects.get(pk=result.message_id).send_at == later


@pytest.mark.skipif(
    bool(settings.REDIS_URL), reason="reads the ORM broker's queue table; with REDIS_URL tasks queue in Redis"
)
def test_urgent_accept_wakes_the_urgent_lane_after_commit(
    tenant, member, code_template, django_capture_on_commit_callbacks, monkeypatch
):
    from django_q.models import OrmQ

    from messaging import services

    monkeypatch.setattr(services, "_last_wake", 0.0)

    with django_capture_on_commit_callbacks(execute=True):
        accept(tenant, member, code_template, [{"number": "13800138000", "variables": {"code": "123456"}}])
    assert OrmQ.objects.filter(key="urgent").count() == 1


def test_gate_probes_look_up_tenant_and_number_for_a_tenant_the_statistics_do_not_know(
    tenant, member, marketing_template
):
    """The planner's statistics predate a new tenant (or a tenant's growth since the last
    ANALYZE). Were the tenant a constant in the accept statement, a tenant-only index would
    look as cheap as (tenant, number) and every probe would walk all of the tenant's consent
    records or messages: a batch slowing down as the tenant grows (seen in the end-to-end
    benchmark: 0.08 → 6 s per 1,000 until autovacuum analysed the table)."""
    from django.db import connection

    other = TenantFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO compliance_consentrecord (tenant_id, created_at, updated_at, number, carrier, province,
                   purpose, action, occurred_at, source, evidence_text, evidence_url, evidence_file, recorded_by_label)
               SELECT %s, now(), now(), '+86138' || lpad(i::text, 8, '0'), 'mobile', '', 'marketing', 'grant',
                      now(), 'web_form', '', '', '', 'test'
                 FROM generate_series(1, 20000) AS i""",
            [other.pk],
        )
        insert_messages(other, 20000, number_prefix="+86138", status=MessageStatus.DELIVERED)
        cursor.execute("ANALYZE compliance_consentrecord")
        cursor.execute("ANALYZE messaging_message")
    statements = []

    def capture(execute, sql, params, many, context):
        if "INSERT INTO messaging_message" in sql:
            statements.append((sql, params))
        return execute(sql, params, many, context)

    recipients = [{"number": f"1380013{i:04d}", "variables": {}} for i in range(200)]
    with connection.execute_wrapper(capture):
        results = accept(tenant, member, marketing_template, recipients)
    assert {r.reason for r in results} == {FailureReason.NO_CONSENT}
    [(sql, params)] = statements
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "consent_latest" in plan and "msg_tenant_number" in plan
    assert "compliance_consentrecord_tenant_id" not in plan
