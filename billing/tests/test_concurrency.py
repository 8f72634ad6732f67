"""Two workers with their own database connections capturing at once: never double-charge,
never lose money. Real threads, real PostgreSQL row locks."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing import selectors, services
from billing.models import LedgerEntry, MonthlyUsage
from smsportal.factories.billing import fund

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(*jobs):
    barrier = threading.Barrier(len(jobs))
    errors = []

    def worker(job):
        try:
            barrier.wait()
            job()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_two_workers_capturing_the_same_message_charge_once(tenant):
    fund(tenant, "10")
    services.ledger_reserve_batch(tenant=tenant, items=[(1, 2, "notification")])
    item = [(tenant.pk, 1, 2, "notification")]
    run_in_threads(lambda: services.ledger_capture_batch(items=item), lambda: services.ledger_capture_batch(items=item))
    assert LedgerEntry.objects.filter(tenant=tenant, kind="capture").count() == 1
    assert selectors.account_balance(tenant=tenant) == Decimal("9.7400")
    assert MonthlyUsage.objects.get(tenant=tenant).delivered_segments == 2
    assert selectors.ledger_check() == []


def test_overlapping_batches_are_exact(tenant):
    fund(tenant, "100")
    services.ledger_reserve_batch(tenant=tenant, items=[(m, 1, "alert") for m in range(1, 41)])
    first = [(tenant.pk, m, 1, "alert") for m in range(1, 31)]
    second = [(tenant.pk, m, 1, "alert") for m in range(11, 41)]
    release = [(tenant.pk, m) for m in range(25, 41)]
    run_in_threads(
        lambda: services.ledger_capture_batch(items=first),
        lambda: services.ledger_capture_batch(items=second),
        lambda: services.ledger_release_batch(items=release),
    )
    captured = LedgerEntry.objects.filter(tenant=tenant, kind="capture").count()
    assert LedgerEntry.objects.filter(tenant=tenant, kind="release").count() == 40
    usage = MonthlyUsage.objects.get(tenant=tenant).delivered_segments
    assert usage == captured >= 30
    # Each capture at ¥0.13 and nothing reserved any more.
    assert selectors.account_balance(tenant=tenant) == Decimal("100") - Decimal("0.13") * captured
    assert selectors.ledger_check() == []


def test_concurrent_reserves_never_overdraw(tenant):
    fund(tenant, "1.30")  # room for exactly 10 one-segment messages
    outcomes = []

    def reserve(start):
        try:
            services.ledger_reserve_batch(tenant=tenant, items=[(m, 1, "marketing") for m in range(start, start + 7)])
            outcomes.append("ok")
        except services.PaymentRequired:
            outcomes.append("refused")

    run_in_threads(lambda: reserve(1), lambda: reserve(100))
    assert sorted(outcomes) == ["ok", "refused"]
    assert selectors.account_balance(tenant=tenant) == Decimal("0.3900")
    assert selectors.ledger_check() == []


def test_a_capture_in_progress_does_not_hold_up_a_reserve(tenant, monkeypatch):
    """A receipt batch's capture must not block the tenant's accepts (their reservations lock
    the account row): the account moves only in the batch's last statement."""
    fund(tenant, "10")
    services.ledger_reserve_batch(tenant=tenant, items=[(1, 1, "notification")])
    midway, finish = threading.Event(), threading.Event()
    insert_entries = services._insert_entries

    def paused_insert(kind, rows):
        inserted = insert_entries(kind, rows)
        midway.set()
        assert finish.wait(30)
        return inserted

    monkeypatch.setattr(services, "_insert_entries", paused_insert)
    reserved = []

    def reserve_while_capturing():
        assert midway.wait(30)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '3s'")  # a wait for the account fails the test
            reserved.append(services.ledger_reserve_batch(tenant=tenant, items=[(2, 1, "verification")]))
        finally:
            finish.set()

    run_in_threads(
        lambda: services.ledger_capture_batch(items=[(tenant.pk, 1, 1, "notification")]), reserve_while_capturing
    )
    assert reserved == [Decimal("0.1300")]
    assert LedgerEntry.objects.filter(tenant=tenant, kind="capture").count() == 1
    assert selectors.account_balance(tenant=tenant) == Decimal("10") - Decimal("0.13") * 2
    assert selectors.ledger_check() == []


def test_a_capture_racing_a_statement_is_either_on_it_or_in_the_current_month(tenant, monkeypatch):
    """The statement holds its month's usage counter while it reads the ledger: a late January
    receipt captured meanwhile waits, sees the statement and is booked in the current month."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    january = datetime(2026, 1, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    fund(tenant, "10")
    services.ledger_capture_batch(items=[(tenant.pk, 1, 1, "alert", january)])
    reading, finish = threading.Event(), threading.Event()
    render = services.render_statement_pdf

    def paused_render(**kwargs):
        reading.set()
        assert finish.wait(30)
        return render(**kwargs)

    monkeypatch.setattr(services, "render_statement_pdf", paused_render)
    statements = []

    def late_capture():
        assert reading.wait(30)

        def capture():
            try:
                services.ledger_capture_batch(items=[(tenant.pk, 2, 1, "alert", january)])
            finally:
                connection.close()

        worker = threading.Thread(target=capture)
        worker.start()
        worker.join(1.0)
        finish.set()  # the capture is waiting for the statement's lock by now (or would be wrong)
        worker.join(30)

    run_in_threads(
        lambda: statements.append(services.statement_generate(tenant=tenant, year=2026, month=1)), late_capture
    )
    assert statements[0].messages_total == 1
    late = LedgerEntry.objects.get(tenant=tenant, message_id=2, kind="capture")
    assert late.occurred_at > timezone.now() - timedelta(minutes=1)
    assert services.statement_generate(tenant=tenant, year=2026, month=1).charges_total == statements[0].charges_total


def test_two_workers_recreating_the_default_plan_agree_on_one(tenant):
    from billing import pricing
    from billing.models import PricePlan

    PricePlan.objects.filter(is_default=True).delete()  # as a flushed table leaves it
    plans = []
    run_in_threads(lambda: plans.append(pricing.default_plan().pk), lambda: plans.append(pricing.default_plan().pk))
    assert len(set(plans)) == 1
    assert PricePlan.objects.filter(is_default=True).count() == 1
    assert PricePlan.objects.get(is_default=True).tiers.count() == len(pricing.DEFAULT_TIERS)
