from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Message
from reports.rollups import rollup_rebuild


@pytest.fixture
def todays_traffic(tenant):
    """A few messages accepted today (tenant time), rolled up."""
    now = timezone.now()
    rows = []
    for i, (carrier, status, reason) in enumerate(
        [
            ("mobile", "delivered", ""),
            ("mobile", "delivered", ""),
            ("unicom", "failed", "vacant_number"),
            ("telecom", "delivered", ""),
            ("mobile", "expired", ""),
        ]
    ):
        accepted = now - timedelta(minutes=5 + i)
        rows.append(
            Message(
                tenant=tenant,
                number=f"+8613800138{i:03d}",
                carrier=carrier,
                province="广东省",
                message_class="verification",
                lane="urgent",
                status=status,
                failure_reason=reason,
                segments=1,
                accepted_at=accepted,
                submitted_at=accepted,
                done_at=accepted + timedelta(seconds=2) if status != "expired" else None,
            )
        )
    Message.objects.bulk_create(rows)
    rollup_rebuild(start=now - timedelta(hours=2), end=now + timedelta(hours=1), tenant_ids=[tenant.id])
    return rows
