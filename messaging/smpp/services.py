"""Writes for the SMPP reviews: what an operator decides about a message whose outcome was
uncertain after a dropped connection (or a connector crash), and the housekeeping that closes
reviews whose message settled by itself (receipt or expiry)."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from messaging.dispatch import messages_fail
from messaging.models import Lane, Message
from smsportal.enums import FailureReason, MessageStatus
from smsportal.errors import Forbidden, Unprocessable

from .models import SmppReview

ACTION_SENT, ACTION_RESEND, ACTION_FAIL = "sent", "resend", "fail"
ACTIONS = (ACTION_SENT, ACTION_RESEND, ACTION_FAIL)
FINAL_STATUSES = (MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED, MessageStatus.REJECTED)
RAW_STATUS = "SMPP_REVIEW"


def reviews_resolve(
    *,
    actor,
    review_ids: list[int],
    action: str,
    reason: str = "",
    note: str = "",
    ip_address: str | None = None,
) -> dict[str, int]:
    """Resolve open reviews, one transaction for all of them:

    sent    the operator confirmed with the carrier that it was taken: the message stays
            `submitted`, settled by its receipt or expiry as before
    resend  not taken: the message goes back to `queued` and the dispatcher routes it again
    fail    give up: the message fails with `reason` (its reservation is released)

    A review whose message has meanwhile reached a final status is closed as settled, whatever
    the action. Returns how many reviews ended with each resolution."""
    if not getattr(actor, "is_staff", False):
        raise Forbidden("staff_only", _("Only platform staff may resolve SMPP reviews."))
    if action not in ACTIONS:
        raise Unprocessable("invalid_action", _("Unknown action."), field="action")
    if action == ACTION_FAIL and reason not in FailureReason.values:
        raise Unprocessable("invalid_reason", _("Choose a failure reason."), field="reason")
    note = note.strip()[:300]
    now = timezone.now()
    counts = dict.fromkeys(SmppReview.Resolution.values, 0)
    with transaction.atomic():
        reviews = list(
            SmppReview.objects.select_for_update()
            .filter(pk__in=list(review_ids), resolved_at__isnull=True)
            .order_by("pk")
        )
        if not reviews:
            return counts
        message_ids = [review.message_id for review in reviews]
        messages = {
            row["pk"]: row
            for row in Message.objects.select_for_update()
            .filter(pk__in=message_ids)
            .order_by("pk")
            .values("pk", "status", "lane")
        }
        settled = [r for r in reviews if messages[r.message_id]["status"] in FINAL_STATUSES]
        acting = [r for r in reviews if r not in settled]
        resolution = {
            ACTION_SENT: SmppReview.Resolution.SENT,
            ACTION_RESEND: SmppReview.Resolution.RESENT,
            ACTION_FAIL: SmppReview.Resolution.FAILED,
        }[action]
        acting_ids = [r.message_id for r in acting]
        if acting_ids and action == ACTION_RESEND:
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    UPDATE messaging_message SET status = 'queued', channel_id = NULL, channel_ref = '',
                        lease_until = NULL, submitted_at = NULL, parts_delivered_mask = 0, parts_failed_mask = 0,
                        route_reason = 'SMPP review: sent again by an operator', updated_at = %s
                    WHERE id = ANY(%s) AND status IN ('submitting', 'submitted')
                    """,
                    [now, acting_ids],
                )
            if any(messages[i]["lane"] == Lane.URGENT for i in acting_ids):
                from messaging.services import lane_wake_urgent

                transaction.on_commit(lane_wake_urgent)
        elif acting_ids and action == ACTION_FAIL:
            detail = note or _("Failed by an operator after an SMPP review")
            messages_fail([(i, reason, RAW_STATUS, detail) for i in acting_ids], now=now)
        for group, result in ((acting, resolution), (settled, SmppReview.Resolution.SETTLED)):
            if not group:
                continue
            SmppReview.objects.filter(pk__in=[r.pk for r in group]).update(
                resolved_at=now, resolution=result, resolved_by=actor, note=note, updated_at=now
            )
            counts[result] += len(group)
        by_tenant: dict[int, list[SmppReview]] = {}
        for review in reviews:
            by_tenant.setdefault(review.tenant_id, []).append(review)
        for tenant_reviews in by_tenant.values():
            audit_record(
                tenant=tenant_reviews[0].tenant,
                actor=actor,
                action="smpp.reviews_resolved",
                after={
                    "action": action,
                    "reason": reason if action == ACTION_FAIL else "",
                    "note": note,
                    "reviews": [r.pk for r in tenant_reviews],
                    "messages": [r.message_id for r in tenant_reviews],
                    "settled": [r.message_id for r in tenant_reviews if r in settled],
                },
                ip_address=ip_address,
            )
    return counts


def reviews_settle(*, now=None) -> int:
    """Close open reviews whose message reached a final status by itself (one UPDATE)."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE smpp_smppreview r SET resolved_at = %s, resolution = 'settled', updated_at = %s
            FROM messaging_message m
            WHERE r.resolved_at IS NULL AND m.id = r.message_id
              AND m.status IN ('delivered', 'failed', 'expired', 'rejected')
            """,
            [now, now],
        )
        return cursor.rowcount
