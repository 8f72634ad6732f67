"""Reads for the channels pages: each SMPP channel's bind status and open reviews."""

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
