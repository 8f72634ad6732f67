"""The pipeline's calls into billing, in one place (all set-based, inside our transactions)."""

from __future__ import annotations


def reserve(*, tenant, items: list[tuple[int, int, str]], prices=None) -> None:
    """(message_id, segments, message_class) of messages just accepted (created in this transaction)."""
    from billing.services import ledger_reserve_batch

    if items:
        ledger_reserve_batch(tenant=tenant, items=items, fresh=True, prices=prices)


def capture(items: list[tuple[int, int, int, str]]) -> None:
    """(tenant_id, message_id, segments, message_class[, delivered_at]) of messages just delivered."""
    from billing.services import ledger_capture_batch

    if items:
        ledger_capture_batch(items=items)


def release(items: list[tuple[int, int]]) -> None:
    """(tenant_id, message_id) of messages failed / expired / cancelled."""
    from billing.services import ledger_release_batch

    if items:
        ledger_release_batch(items=items)
