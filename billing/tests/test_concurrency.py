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
