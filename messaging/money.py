"""The pipeline's calls into billing, in one place (all set-based, inside our transactions)."""

from __future__ import annotations


def reserve(*, tenant, message_class: str, messages: list):
    """Messages just accepted (created in this transaction; each has .pk and .segments).
    Returns billing's Reservation (prices in force, the month's volume), or None for none."""
    from billing.services import ledger_reserve_new_messages
    from smsportal.sqlarrays import int_array

    if not messages:
        return None
    return ledger_reserve_new_messages(
        tenant=tenant,
        source_sql="SELECT m, s, %s FROM unnest(%s::bigint[], %s::int[]) AS u(m, s)",
        params=[message_class, int_array(m.pk for m in messages), int_array(m.segments for m in messages)],
        fresh=True,
        prepared=len(messages) == 1,  # see messaging.services._insert_messages
    )


def settle(captures: list[tuple], releases: list[tuple[int, int]]) -> None:
    """Messages that just reached a final status: charge the delivered — (tenant_id, message_id,
    segments, message_class[, delivered_at]) — and give back the reserves of the rest —
    (tenant_id, message_id) — with one account update at the end (see billing.services)."""
    from billing.services import ledger_settle_batch

    if captures or releases:
        ledger_settle_batch(captures=captures, releases=releases)


def release(items: list[tuple[int, int]]) -> None:
    """(tenant_id, message_id) of messages failed / expired / cancelled."""
    settle([], items)
