"""The staff page for SMPP reviews: messages whose outcome was uncertain after a drop, which
an operator confirms as sent, sends again, or fails with a reason."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from messaging.smpp.models import SmppReview
from messaging.smpp.services import reviews_resolve, reviews_settle
from smsportal.enums import FailureReason, MessageStatus
from smsportal.errors import Forbidden, Unprocessable
from smsportal.factories.messaging import MessageFactory
from smsportal.factories.smpp import SmppChannelFactory

URL = "/staff/messaging/smpp/reviews/"
RESOLVE = "/staff/messaging/smpp/reviews/resolve/"


def under_review(tenant, channel, number="+8613800138000", reason=SmppReview.Reason.DROPPED_IN_FLIGHT, **kwargs):
    message = MessageFactory(
        tenant=tenant, channel=channel, number=number, status=MessageStatus.SUBMITTED, channel_ref="", **kwargs
    )
    return SmppReview.objects.create(tenant=tenant, message=message, channel=channel, reason=reason)


@pytest.fixture
def channel(db):
    return SmppChannelFactory(name="移动直连")


def test_urls_are_where_the_page_links():
    assert reverse("messaging_staff:smpp_reviews") == URL
    assert reverse("messaging_staff:smpp_reviews_resolve") == RESOLVE


def test_page_lists_open_reviews_of_every_tenant_with_masked_numbers(staff_client, tenant, outsider, channel):
    mine = under_review(tenant, channel)
    theirs = under_review(outsider.tenant, channel, number="+8613900139000", reason="connector_crashed")
    page = staff_client.get(URL).content.decode()
    assert f"#{mine.message_id}" in page and f"#{theirs.message_id}" in page
    assert "138****8000" in page and "+8613800138000" not in page
    assert tenant.name in page and "移动直连" in page


def test_filters_by_state_channel_reason_and_number(staff_client, tenant, channel):
    other_channel = SmppChannelFactory(name="联通直连")
    dropped = under_review(tenant, channel)
    crashed = under_review(tenant, other_channel, number="+8613900139000", reason="connector_crashed")
    closed = under_review(tenant, channel, number="+8613700137000")
    SmppReview.objects.filter(pk=closed.pk).update(resolved_at=closed.created_at, resolution="sent")

    def shown(query):
        html = staff_client.get(URL, query).content.decode()
        return {r.message_id for r in (dropped, crashed, closed) if f"#{r.message_id}" in html}

    assert shown({}) == {dropped.message_id, crashed.message_id}
    assert shown({"state": "resolved"}) == {closed.message_id}
    assert shown({"state": "all"}) == {dropped.message_id, crashed.message_id, closed.message_id}
    assert shown({"channel": other_channel.pk}) == {crashed.message_id}
    assert shown({"reason": "dropped_in_flight"}) == {dropped.message_id}
    assert shown({"number": "13900139000"}) == {crashed.message_id}


def test_resolve_as_sent_keeps_the_message_waiting_for_its_receipt(staff_client, tenant, channel):
    review = under_review(tenant, channel)
    response = staff_client.post(RESOLVE, {"review": [review.pk], "action": "sent", "note": "运营商确认已收到"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.resolution == "sent" and review.resolved_at and review.note == "运营商确认已收到"
    assert review.message.status == MessageStatus.SUBMITTED
    event = AuditEvent.objects.get(action="smpp.reviews_resolved")
    assert event.tenant_id == tenant.pk and event.after["messages"] == [review.message_id]


def test_resend_queues_the_message_for_the_dispatcher(staff_client, tenant, channel):
    review = under_review(tenant, channel)
    staff_client.post(RESOLVE, {"review": [review.pk], "action": "resend"})
    review.refresh_from_db()
    message = review.message
    assert review.resolution == "resent"
    assert (message.status, message.channel_id, message.channel_ref) == (MessageStatus.QUEUED, None, "")


def test_fail_needs_a_reason_and_releases_the_reservation(staff_client, tenant, channel):
    from billing.models import LedgerEntry
    from billing.services import ledger_reserve_batch
    from smsportal.factories.billing import fund

    fund(tenant, "10")
    review = under_review(tenant, channel)
    ledger_reserve_batch(tenant=tenant, items=[(review.message_id, 1, "notification")])
    response = staff_client.post(RESOLVE, {"review": [review.pk], "action": "fail"}, follow=True)
    assert "Choose a failure reason" in response.content.decode() or "请选择失败原因" in response.content.decode()
    review.refresh_from_db()
    assert review.resolved_at is None

    staff_client.post(
        RESOLVE, {"review": [review.pk], "action": "fail", "reason": FailureReason.CHANNEL_ERROR, "note": "SMSC 无记录"}
    )
    review.refresh_from_db()
    message = review.message
    assert review.resolution == "failed"
    assert (message.status, message.failure_reason, message.raw_status) == (
        MessageStatus.FAILED,
        FailureReason.CHANNEL_ERROR,
        "SMPP_REVIEW",
    )
    assert message.failure_detail == "SMSC 无记录"
    kinds = set(LedgerEntry.objects.filter(message_id=message.pk).values_list("kind", flat=True))
    assert kinds == {"reserve", "release"}


def test_a_message_settled_meanwhile_is_closed_as_settled_whatever_the_action(staff_user, tenant, channel):
    review = under_review(tenant, channel)
    type(review.message).objects.filter(pk=review.message_id).update(status=MessageStatus.DELIVERED)
    counts = reviews_resolve(actor=staff_user, review_ids=[review.pk], action="resend")
    assert counts["settled"] == 1 and counts["resent"] == 0
    review.refresh_from_db()
    assert review.resolution == "settled" and review.message.status == MessageStatus.DELIVERED
    assert reviews_resolve(actor=staff_user, review_ids=[review.pk], action="sent")["sent"] == 0  # once


def test_housekeeping_closes_reviews_whose_message_settled(db, tenant, channel):
    settled, waiting = under_review(tenant, channel), under_review(tenant, channel, number="+8613900139000")
    type(settled.message).objects.filter(pk=settled.message_id).update(status=MessageStatus.EXPIRED)
    assert reviews_settle() == 1
    settled.refresh_from_db()
    waiting.refresh_from_db()
    assert settled.resolution == "settled" and waiting.resolved_at is None


def test_service_refuses_non_staff_and_unknown_actions(member, staff_user, tenant, channel):
    review = under_review(tenant, channel)
    with pytest.raises(Forbidden):
        reviews_resolve(actor=member.user, review_ids=[review.pk], action="sent")
    with pytest.raises(Unprocessable):
        reviews_resolve(actor=staff_user, review_ids=[review.pk], action="delete")
    with pytest.raises(Unprocessable):
        reviews_resolve(actor=staff_user, review_ids=[review.pk], action="fail", reason="nonsense")


def test_members_and_outsiders_get_404_and_change_nothing(member_client, outsider_client, client, tenant, channel):
    review = under_review(tenant, channel)
    for browser in (member_client, outsider_client):
        assert browser.get(URL).status_code == 404
        assert browser.post(RESOLVE, {"review": [review.pk], "action": "resend"}).status_code == 404
    assert client.get(URL).status_code in (302, 404)  # anonymous: the login page, or nothing
    review.refresh_from_db()
    assert review.resolved_at is None and review.message.status == MessageStatus.SUBMITTED


def test_page_in_chinese(staff_client, tenant, channel):
    under_review(tenant, channel)
    html = staff_client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "SMPP 待核查" in html
