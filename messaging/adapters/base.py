"""The interface every channel adapter implements, and the registry by adapter name.

An adapter is stateless; everything it needs is on the `Channel` (its `settings` JSON).
The dispatcher calls `submit` with up to `channel.batch_size` messages and gets one
`SubmitResult` per message back, in any order. Our message id is the client reference the
adapter passes to the provider, so `lookup` can ask "did you get message 123?" after a crash.

Receipts reach us one of three ways: the adapter's `poll_receipts` (called by the lane
workers), an HTTP callback handled by the adapter's own view, or an SMPP deliver_sm. All end
as `messaging.receipts.receipts_store(...)` rows applied in batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from messaging.models import Channel, Message


@dataclass(frozen=True)
class SubmitResult:
    message_id: int
    ok: bool
    channel_ref: str = ""
    retriable: bool = False  # a retriable error moves the message to another channel (once)
    raw_code: str = ""
    reason: str = ""  # a smsportal.enums.FailureReason value when not ok


@dataclass(frozen=True)
class ReceiptReport:
    """One receipt as parsed from a channel (before it is stored raw)."""

    channel_ref: str = ""
    message_id: int | None = None
    delivered: bool = True
    raw_status: str = ""
    failure_reason: str = ""
    part_index: int = 0
    reported_at: object = None
    payload: dict = field(default_factory=dict)


class ChannelAdapter:
    """Base class; subclasses override `submit` and optionally the rest."""

    name = ""

    def submit(self, channel: Channel, messages: Sequence[Message]) -> list[SubmitResult]:
        raise NotImplementedError

    def lookup(self, channel: Channel, message_ids: Sequence[int]) -> dict[int, str]:
        """Which of these messages did the provider accept? → {message_id: channel_ref}.

        Crash recovery calls this before returning a message whose lease ran out to the
        queue. An adapter that cannot answer raises NotImplementedError: those messages are
        then left `submitted` with an unknown reference and settled by receipt or timeout —
        never sent twice.
        """
        raise NotImplementedError

    def poll_receipts(self, channel: Channel, limit: int = 5000) -> Iterable[ReceiptReport]:
        """Receipts the provider makes us fetch. Push-style adapters return nothing."""
        return ()

    def masked_settings(self, settings: dict) -> dict:
        return mask_secrets(settings)


SECRET_MARKERS = ("secret", "token", "password", "passwd", "auth", "key", "signature")


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def mask_value(value) -> str:
    text = str(value)
    if len(text) <= 4:
        return "****"
    return text[:2] + "****" + text[-2:]


def mask_secrets(settings: dict) -> dict:
    """Secrets in channel settings are write-only: shown back only masked."""
    return {k: (mask_value(v) if is_secret_key(k) and v not in ("", None) else v) for k, v in (settings or {}).items()}


_REGISTRY: dict[str, type[ChannelAdapter]] = {}


def register_adapter(name: str, cls: type[ChannelAdapter]) -> None:
    _REGISTRY[name] = cls


def get_adapter(name: str) -> ChannelAdapter:
    if name not in _REGISTRY:
        # Built-in adapters register on import; make sure they are loaded.
        import messaging.adapters.simulated  # noqa: F401
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise LookupError(f"no channel adapter named {name!r}") from None


def adapter_settings_errors(name: str, settings: dict) -> dict[str, list[str]]:
    """Field errors of a channel's settings, as its adapter judges them (`validate_settings`,
    where the adapter has one; an adapter without it accepts any JSON object). An unknown
    adapter name is not judged here: the channel form's choices refuse it."""
    try:
        adapter = get_adapter(name)
    except LookupError:
        return {}
    validate = getattr(adapter, "validate_settings", None)
    if validate is None:
        return {}
    return {field: [str(message) for message in messages] for field, messages in (validate(settings) or {}).items()}


def registered_adapters() -> list[str]:
    import messaging.adapters.simulated  # noqa: F401

    return sorted(_REGISTRY)
