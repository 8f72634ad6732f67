"""Status-change events for other parts of the product (tenant webhooks, watch).

After a batch of receipts (or expiries, or dispatch failures) is applied, the pipeline calls
`emit_status_changes({tenant_id: [(message_id, status, reason), ...]})` once per batch —
never once per message. Listeners register from their AppConfig.ready() and must be
set-based too. Emission happens after the batch's transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

StatusChanges = dict[int, list[tuple[int, str, str]]]
Listener = Callable[[StatusChanges], None]

_listeners: list[Listener] = []


def register_status_listener(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unregister_status_listener(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit_status_changes(changes: StatusChanges) -> None:
    if not changes:
        return
    for listener in list(_listeners):
        try:
            listener(changes)
        except Exception:  # a listener's bug must not stall the pipeline
            logger.exception("status listener %r failed", listener)
