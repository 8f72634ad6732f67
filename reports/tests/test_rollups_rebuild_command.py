"""`manage.py rollups_rebuild`: the command the issue names for rebuilding any period."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from messaging.models import Message
from reports import selectors
from reports.models import MessageRollup

ACCEPTED = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def october(tenant, outsider):
    for owner, count in ((tenant, 5), (outsider.tenant, 2)):
        Message.objects.bulk_create(
            Message(
                tenant=owner,
                number=f"+8613800000{i:03d}",
                carrier="mobile",
                province="北京市",
                message_class="verification",
                lane="urgent",
                segments=1,
                status="delivered",
                accepted_at=ACCEPTED + timedelta(minutes=i),
                submitted_at=ACCEPTED,
                done_at=ACCEPTED + timedelta(seconds=2),
            )
            for i in range(count)
        )


def test_rebuilds_the_period_for_every_tenant_or_one(tenant, outsider, october, capsys):
    period = selectors.Period.days(tenant, ACCEPTED.date(), ACCEPTED.date())
    call_command("rollups_rebuild", "--from", "2026-10-10", "--to", "2026-10-10", "--tenant", tenant.slug)
    assert selectors.totals(tenant=tenant, period=period).delivered == 5
    assert not MessageRollup.objects.filter(tenant=outsider.tenant).exists()
    call_command("rollups_rebuild", "--from", "2026-10-01", "--to", "2026-10-31")
    assert selectors.totals(tenant=outsider.tenant, period=period).delivered == 2
    assert selectors.totals(tenant=tenant, period=period).delivered == 5  # rebuilt again, not doubled
    assert "tenant-hours" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01", "--to", "2026-10-31"], "YYYY-MM-DD"),
        (["--from", "2026-10-31", "--to", "2026-10-01"], "before"),
        (["--from", "2020-01-01", "--to", "2026-10-01"], "at most"),
        (["--from", "2026-10-01", "--to", "2026-10-31", "--tenant", "nobody"], "no tenant"),
    ],
)
def test_bad_arguments_are_clear_errors_and_change_nothing(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rollups_rebuild", *args)
    assert not MessageRollup.objects.exists()
