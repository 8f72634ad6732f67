"""Per-tenant API rate limit, shared by every web process: a fixed-window counter row in
PostgreSQL (one upsert per request), so it holds across gunicorn workers and machines."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from rest_framework.throttling import BaseThrottle

DEFAULT_LIMIT = (18000, 60)  # requests per window seconds, per tenant: 300/s sustained


def rate_limit_for(bucket: str) -> tuple[int, int]:
    limits = getattr(settings, "MESSAGING_API_RATE_LIMITS", {})
    return tuple(limits.get(bucket, limits.get("default", DEFAULT_LIMIT)))


def rate_hit(*, tenant_id: int, bucket: str, limit: int, window: int, now: float | None = None) -> float | None:
    """Count one request; None when allowed, else the seconds until the window resets."""
    now = now if now is not None else time.time()
    start = math.floor(now / window) * window
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_ratewindow (tenant_id, bucket, window_start, count) VALUES (%s, %s, %s, 1)
            ON CONFLICT (tenant_id, bucket, window_start) DO UPDATE SET count = messaging_ratewindow.count + 1
            RETURNING count
            """,
            [tenant_id, bucket, datetime.fromtimestamp(start, tz=UTC)],
        )
        count = cursor.fetchone()[0]
    if count > limit:
        return max(1.0, start + window - now)
    return None


def rate_windows_prune(*, older_than_seconds: int = 3600) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM messaging_ratewindow WHERE window_start < now() - %s * interval '1 second'",
            [older_than_seconds],
        )
        return cursor.rowcount


class TenantRateThrottle(BaseThrottle):
    """DRF throttle: the view's `rate_bucket` (default "api") per API key's tenant."""

    def allow_request(self, request, view):
        tenant = getattr(request.user, "tenant", None)
        if tenant is None:
            return True
        bucket = getattr(view, "rate_bucket", "api")
        limit, window = rate_limit_for(bucket)
        self.retry_after = rate_hit(tenant_id=tenant.pk, bucket=bucket, limit=limit, window=window)
        return self.retry_after is None

    def wait(self):
        return math.ceil(self.retry_after or 1)
