"""Reads for the channels pages (each SMPP channel's bind status) and the reviews page."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .models import SmppBindStatus, SmppReview

STALE_AFTER = timedelta(seconds=30)  # no refresh for this long: the connector is not running


def bind_statuses(*, channel_ids: list[int]) -> dict[int, SmppBindStatus]:
    """channel id → its latest bind status (one query for any number of channels)."""
    statuses = SmppBindStatus.objects.filter(channel_id__in=channel_ids)
    now = timezone.now()
    result = {}
    for status in statuses:
        status.is_stale = now - status.updated_at > STALE_AFTER
        result[status.channel_id] = status
    return result


def bind_status(*, channel_id: int) -> SmppBindStatus | None:
    return bind_statuses(channel_ids=[channel_id]).get(channel_id)


def open_reviews_count(*, channel_id: int) -> int:
    return SmppReview.objects.filter(channel_id=channel_id, resolved_at__isnull=True).count()


def review_list(
    *,
    state: str = "open",
    channel_id: int | None = None,
    reason: str = "",
    tenant_id: int | None = None,
    number: str = "",
):
    """SMPP reviews for the staff page (every tenant: the platform's operators decide them),
    newest first, with their message, channel and tenant in the same query."""
    reviews = SmppReview.objects.select_related("message", "channel", "tenant", "resolved_by")
    if state == "open":
        reviews = reviews.filter(resolved_at__isnull=True)
    elif state == "resolved":
        reviews = reviews.filter(resolved_at__isnull=False)
    if channel_id:
        reviews = reviews.filter(channel_id=channel_id)
    if reason:
        reviews = reviews.filter(reason=reason)
    if tenant_id:
        reviews = reviews.filter(tenant_id=tenant_id)
    if number:
        reviews = reviews.filter(message__number=number)
    return reviews.order_by("-created_at", "-pk")


def review_counts() -> dict[str, int]:
    """Open reviews in all, and per reason (one query)."""
    from django.db.models import Count

    rows = SmppReview.objects.filter(resolved_at__isnull=True).values("reason").annotate(n=Count("pk"))
    counts = {row["reason"]: row["n"] for row in rows}
    counts["total"] = sum(counts.values())
    return counts
