"""ESME side: long-lived binds on an asyncio loop running in its own thread.

One `Link` per SMPP channel holds `binds` sessions (a transceiver each, or a transmitter
plus a receiver), a shared queue of parts to send, a token bucket for the channel's rate
limit and a throttle back-off. Each transmitting connection keeps up to `window` submit_sm
in flight. Everything that happens is reported as plain tuples on a thread-safe queue that
the connector (the Django side, on the main thread) drains and writes in batches.

Events (first item is the kind):
    ("submitted", channel_id, part, smsc_message_id)
    ("rejected", channel_id, part, command_status)        permanent submit error
    ("retry_elsewhere", channel_id, part, why)            not sent; may go to another channel
    ("review", channel_id, part, why)                     in flight at a drop; not resent
    ("receipt", channel_id, Receipt, ack)                 ack the deliver_sm once stored
    ("mo", channel_id, source, destination, text, ack)
    ("mo_part", channel_id, source, destination, DecodedMessage, data_coding, ack)   one part of a long reply
    ("bound", channel_id, label) / ("bind_failed", channel_id, label, status)
    ("disconnected", channel_id, label, why)

Delivery receipts and replies are acknowledged (deliver_sm_resp) only after the connector
has stored them, so a crash loses nothing: the SMSC sends them again, and duplicates are
harmless downstream.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

from . import pdu as P
from .config import BIND_TX_RX, SmppSettings
from .encoding import decode_short_message
from .receipts import normalize_message_id, receipt_from_pdu

logger = logging.getLogger(__name__)

RECONNECT_MIN, RECONNECT_MAX = 0.2, 30.0
BIND_REFUSED_BACKOFF = 30.0
THROTTLE_MIN, THROTTLE_MAX = 0.05, 2.0
MAX_THROTTLED_ATTEMPTS = 20  # then the part goes back to the dispatcher for another channel


@dataclass(slots=True)
class OutboundPart:
    """One submit_sm. `raw` is the encoded PDU with sequence 0 (patched at send time)."""

    message_id: int
    tenant_id: int
    part_index: int
    parts: int
    raw: bytes
    attempts: int = 0
    resubmission: bool = False


@dataclass
class ConnectionStatus:
    label: str
    role: str
    state: str = "connecting"  # connecting, bound, refused, down
    outstanding: int = 0
    last_error: str = ""
    bound_since: float | None = None
    submitted: int = 0


class BindConnection(asyncio.Protocol):
    """One TCP session bound as transceiver, transmitter or receiver."""

    def __init__(self, link: Link, role: int, label: str):
        self.link = link
        self.role = role
        self.label = label
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sequence = itertools.count(1)
        self.outstanding: dict[int, tuple[OutboundPart, float]] = {}
        self.pending_requests: dict[int, asyncio.Future] = {}
        self.bound = False
        self.closed = asyncio.Event()
        self.window_free = asyncio.Event()
        self.last_heard = time.monotonic()
        self.status = ConnectionStatus(label=label, role=P.COMMAND_NAMES[role].removeprefix("bind_"))

    @property
    def transmits(self) -> bool:
        return self.role in (P.BIND_TRANSCEIVER, P.BIND_TRANSMITTER)

    # ---- asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.bound = False
        self.closed.set()
        self.window_free.set()
        for future in self.pending_requests.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
        self.pending_requests.clear()

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        self.buffer += data
        try:
            frames = P.split_frames(self.buffer)
        except P.PduError as error:
            self.abort(f"framing: {error}")
            return
        for frame in frames:
            try:
                pdu = P.decode(frame)
            except P.PduError as error:
                sequence = int.from_bytes(frame[12:16], "big")
                self.write(P.Pdu(P.GENERIC_NACK, sequence=sequence, status=error.status).encode())
                continue
            self.handle(pdu)

    # ---- plumbing
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def abort(self, why: str) -> None:
        self.status.last_error = why
        if self.transport is not None:
            self.transport.abort()

    async def request(self, pdu: P.Pdu, timeout: float) -> P.Pdu:
        pdu.sequence = next(self.sequence)
        future = asyncio.get_running_loop().create_future()
        self.pending_requests[pdu.sequence] = future
        self.write(pdu.encode())
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending_requests.pop(pdu.sequence, None)

    def handle(self, pdu: P.Pdu) -> None:
        command = pdu.command_id
        if command == P.SUBMIT_SM_RESP:
            entry = self.outstanding.pop(pdu.sequence, None)
            if entry is not None:
                self.link.on_submit_resp(self, entry[0], pdu)
                self.status.outstanding = len(self.outstanding)
                self.window_free.set()
            return
        if command == P.DELIVER_SM:
            self.link.on_deliver(self, pdu)
            return
        if command == P.ENQUIRE_LINK:
            self.write(P.response_for(pdu).encode())
            return
        if command == P.UNBIND:
            self.write(P.response_for(pdu).encode())
            self.bound = False
            self.abort("unbound by the SMSC")
            return
        if command == P.GENERIC_NACK and pdu.sequence in self.outstanding:
            part, _sent = self.outstanding.pop(pdu.sequence)
            self.link.on_submit_resp(self, part, pdu)
            self.window_free.set()
            return
        future = self.pending_requests.get(pdu.sequence)
        if future is not None and not future.done():
            future.set_result(pdu)

    def ack(self, sequence: int, status: int = P.ESME_ROK) -> None:
        self.write(P.Pdu(P.DELIVER_SM_RESP, sequence=sequence, status=status).encode())

    # ---- sending
    def send_parts(self, parts: list[OutboundPart]) -> None:
        now = time.monotonic()
        chunks = []
        for part in parts:
            sequence = next(self.sequence)
            self.outstanding[sequence] = (part, now)
            raw = part.raw
            chunks.append(raw[:12] + sequence.to_bytes(4, "big") + raw[16:])
        self.write(b"".join(chunks))
        self.status.outstanding = len(self.outstanding)
        self.status.submitted += len(parts)


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate = max(rate, 0.001)
        self.capacity = max(burst, 1.0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self, wanted: int) -> tuple[int, float]:
        """(granted, seconds to wait before asking again when nothing was granted)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        granted = min(wanted, int(self.tokens))
        if granted:
            self.tokens -= granted
            return granted, 0.0
        return 0, (1.0 - self.tokens) / self.rate


class Link:
    """All binds of one channel."""

    def __init__(self, engine: Engine, channel_id: int, settings: SmppSettings, rate_limit: float):
        self.engine = engine
        self.channel_id = channel_id
        self.settings = settings
        self.queue: deque[OutboundPart] = deque()
        self.work = asyncio.Event()
        self.bucket = TokenBucket(rate_limit, burst=max(rate_limit / 20, settings.window))
        self.throttle_delay = 0.0
        self.paused_until = 0.0
        self.connections: list[BindConnection] = []
        self.tasks: list[asyncio.Task] = []
        self.stopping = False
        self.bind_refused = False
        self.submitted_total = 0
        self.receipts_total = 0
        self.unbound_since: float | None = time.monotonic()  # no transmitting bind since then

    # ---- lifecycle
    def start(self) -> None:
        roles = [P.BIND_TRANSMITTER, P.BIND_RECEIVER] if self.settings.bind_mode == BIND_TX_RX else [P.BIND_TRANSCEIVER]
        for index in range(self.settings.binds):
            for role in roles:
                label = f"{index + 1}/{P.COMMAND_NAMES[role].removeprefix('bind_')}"
                self.tasks.append(asyncio.get_running_loop().create_task(self._run_connection(role, label)))

    async def stop(self) -> None:
        self.stopping = True
        self.work.set()
        for connection in list(self.connections):
            if connection.bound:
                try:
                    connection.bound = False
                    await connection.request(P.Pdu(P.UNBIND), timeout=2)
                except (TimeoutError, ConnectionError, OSError):
                    pass
            connection.abort("stopped")
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        # Whatever was never written to a socket goes back to the dispatcher.
        while self.queue:
            self.engine.emit(("retry_elsewhere", self.channel_id, self.queue.popleft(), "connector stopped"))

    def enqueue(self, parts: list[OutboundPart]) -> None:
        if self.stopping or self.bind_refused:
            for part in parts:
                self.engine.emit(("retry_elsewhere", self.channel_id, part, "channel not bound"))
            return
        self.queue.extend(parts)
        self.work.set()

    @property
    def bound_transmitters(self) -> int:
        return sum(1 for c in self.connections if c.bound and c.transmits)

    @property
    def in_flight(self) -> int:
        return sum(len(c.outstanding) for c in self.connections)

    # ---- one connection's life: connect, bind, serve, reconnect with back-off
    async def _run_connection(self, role: int, label: str) -> None:
        backoff = RECONNECT_MIN
        settings = self.settings
        loop = asyncio.get_running_loop()
        while not self.stopping:
            connection = BindConnection(self, role, label)
            connection.status.last_error = self.engine.down.get((self.channel_id, label), "")
            self.connections.append(connection)
            try:
                context = None
                if settings.tls:
                    context = ssl.create_default_context()
                    if not settings.tls_verify:
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                await asyncio.wait_for(
                    loop.create_connection(lambda c=connection: c, settings.host, settings.port, ssl=context),
                    timeout=settings.response_timeout_seconds,
                )
                response = await connection.request(
                    P.Pdu(
                        role,
                        system_id=settings.system_id,
                        password=settings.password,
                        system_type=settings.system_type,
                    ),
                    timeout=settings.response_timeout_seconds,
                )
                if response.status != P.ESME_ROK:
                    connection.status.state = "refused"
                    connection.status.last_error = f"bind refused: {P.status_name(response.status)}"
                    self.engine.emit(("bind_failed", self.channel_id, label, response.status))
                    connection.abort(connection.status.last_error)
                    if response.status in P.BIND_REFUSED_STATUSES:
                        self._give_up_queue("bind refused")
                        self.bind_refused = True
                        await asyncio.sleep(BIND_REFUSED_BACKOFF)
                        continue
                    raise ConnectionError(connection.status.last_error)
                connection.bound = True
                self.bind_refused = False
                if connection.transmits:
                    self.unbound_since = None
                connection.status.state = "bound"
                connection.status.last_error = ""
                self.engine.down.pop((self.channel_id, label), None)
                connection.status.bound_since = time.time()
                self.engine.emit(("bound", self.channel_id, label))
                backoff = RECONNECT_MIN
                jobs = [asyncio.create_task(self._keepalive(connection))]
                if connection.transmits:
                    jobs.append(asyncio.create_task(self._sender(connection)))
                try:
                    await connection.closed.wait()
                finally:
                    for job in jobs:
                        job.cancel()
                why = connection.status.last_error or "connection closed by the SMSC"
            except (OSError, ConnectionError, TimeoutError, P.PduError) as error:
                why = f"{type(error).__name__}: {error}"
            finally:
                if connection.transport is not None:
                    connection.transport.abort()
                if connection in self.connections:
                    self.connections.remove(connection)
                if not self.bound_transmitters and self.unbound_since is None:
                    self.unbound_since = time.monotonic()
                self._resolve_in_flight(connection)
            if self.stopping:
                return
            connection.status.state = "down"
            self.engine.emit(("disconnected", self.channel_id, label, why))
            self.engine.record_down(self.channel_id, label, why)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX)

    def _give_up_queue(self, why: str) -> None:
        if self.bound_transmitters:
            return  # other binds still carry the queue
        while self.queue:
            self.engine.emit(("retry_elsewhere", self.channel_id, self.queue.popleft(), why))

    def _resolve_in_flight(self, connection: BindConnection) -> None:
        """Submits written but not answered when a connection ended.

        Where the SMSC recognises our client reference, they are sent again (it answers with
        the first message_id and does not deliver twice). Otherwise nobody knows whether the
        handset gets them: they are reported for review, never silently resent."""
        entries = sorted(connection.outstanding.items())
        connection.outstanding.clear()
        if not entries:
            return
        if self.settings.dedupe_resubmissions and not self.stopping:
            for _sequence, (part, _sent) in reversed(entries):
                part.resubmission = True
                self.queue.appendleft(part)
            self.work.set()
        else:
            for _sequence, (part, _sent) in entries:
                self.engine.emit(("review", self.channel_id, part, "in flight when the connection dropped"))

    async def _keepalive(self, connection: BindConnection) -> None:
        settings = self.settings
        interval = settings.enquire_link_seconds
        while connection.bound:
            await asyncio.sleep(min(1.0, interval))
            now = time.monotonic()
            oldest = min((sent for _part, sent in connection.outstanding.values()), default=now)
            if now - oldest > settings.response_timeout_seconds:
                connection.abort("submit_sm_resp timed out")
                return
            if now - connection.last_heard >= interval:
                try:
                    await connection.request(P.Pdu(P.ENQUIRE_LINK), timeout=settings.response_timeout_seconds)
                except (TimeoutError, ConnectionError):
                    connection.abort("enquire_link unanswered")
                    return

    async def _sender(self, connection: BindConnection) -> None:
        window = self.settings.window
        while connection.bound and not self.stopping:
            free = window - len(connection.outstanding)
            if free <= 0:
                connection.window_free.clear()
                await connection.window_free.wait()
                continue
            if not self.queue:
                self.work.clear()
                await self.work.wait()
                continue
            now = time.monotonic()
            if now < self.paused_until:
                await asyncio.sleep(self.paused_until - now)
                continue
            granted, wait = self.bucket.take(min(free, len(self.queue)))
            if not granted:
                await asyncio.sleep(wait)
                continue
            batch = [self.queue.popleft() for _ in range(min(granted, len(self.queue)))]
            connection.send_parts(batch)
            # Let the other binds take their share before this one fills its window again.
            await asyncio.sleep(0)

    # ---- responses and deliveries
    def on_submit_resp(self, connection: BindConnection, part: OutboundPart, pdu: P.Pdu) -> None:
        status = pdu.status
        if status == P.ESME_ROK and pdu.command_id == P.SUBMIT_SM_RESP:
            self.throttle_delay = 0.0
            self.submitted_total += 1
            message_id = pdu.message_id
            if self.settings.receipt_id_format != "same":
                message_id = message_id.lower()
            self.engine.emit(("submitted", self.channel_id, part, message_id))
        elif status in P.RETRY_LATER_STATUSES:
            part.attempts += 1
            self.throttle_delay = min(THROTTLE_MAX, max(THROTTLE_MIN, self.throttle_delay * 2))
            self.paused_until = time.monotonic() + self.throttle_delay
            self.engine.throttled += 1
            if part.attempts >= MAX_THROTTLED_ATTEMPTS:
                self.engine.emit(("retry_elsewhere", self.channel_id, part, P.status_name(status)))
            else:
                self.queue.appendleft(part)
                self.work.set()
        else:
            self.engine.emit(("rejected", self.channel_id, part, status))

    def on_deliver(self, connection: BindConnection, pdu: P.Pdu) -> None:
        ack = (self.channel_id, connection, pdu.sequence)
        if pdu.is_receipt or P.TLV_RECEIPTED_MESSAGE_ID in pdu.tlvs:
            receipt = receipt_from_pdu(pdu)
            if receipt is None:
                connection.ack(pdu.sequence)  # unreadable: keep the SMSC from resending forever
                logger.warning("channel %s: unparseable receipt %r", self.channel_id, pdu.short_message[:160])
                return
            fmt = self.settings.receipt_id_format
            if fmt != "same":
                receipt = replace(receipt, smsc_message_id=normalize_message_id(receipt.smsc_message_id, fmt).lower())
            self.receipts_total += 1
            self.engine.emit(("receipt", self.channel_id, receipt, ack))
            return
        decoded = decode_short_message(
            pdu.short_message,
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            tlvs=pdu.tlvs,
            gsm7_packed=self.settings.gsm7_packed,
        )
        if decoded.is_part:
            # One part of a long reply: stored by the connector, assembled when the set is whole.
            self.engine.emit(
                ("mo_part", self.channel_id, pdu.source_addr, pdu.destination_addr, decoded, pdu.data_coding, ack)
            )
            return
        self.engine.emit(("mo", self.channel_id, pdu.source_addr, pdu.destination_addr, decoded.text, ack))


@dataclass
class LinkSpec:
    channel_id: int
    settings: SmppSettings
    rate_limit: float
    name: str = ""
    extra: dict = field(default_factory=dict)


class Engine:
    """The asyncio side, running in a daemon thread. Thread-safe entry points: start_link,
    stop_link, submit, ack, stop, drain_events, snapshot."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.links: dict[int, Link] = {}
        self.down: dict[tuple[int, str], str] = {}
        self.throttled = 0
        self.thread = threading.Thread(target=self._run, name="smpp-engine", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def emit(self, event: tuple) -> None:
        self.events.put(event)

    def record_down(self, channel_id: int, label: str, why: str) -> None:
        self.down[(channel_id, label)] = why

    def _call(self, function, *args) -> None:
        self.loop.call_soon_threadsafe(function, *args)

    def _await(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    # ---- thread-safe API
    def start_link(self, spec: LinkSpec) -> None:
        async def start():
            link = Link(self, spec.channel_id, spec.settings, spec.rate_limit)
            self.links[spec.channel_id] = link
            link.start()

        self._await(start())

    def stop_link(self, channel_id: int) -> None:
        async def stop():
            link = self.links.pop(channel_id, None)
            if link is not None:
                await link.stop()

        self._await(stop(), timeout=15)

    def submit(self, channel_id: int, parts: list[OutboundPart]) -> None:
        def enqueue():
            link = self.links.get(channel_id)
            if link is None:
                for part in parts:
                    self.emit(("retry_elsewhere", channel_id, part, "no link"))
            else:
                link.enqueue(parts)

        self._call(enqueue)

    def ack(self, acks: list[tuple]) -> None:
        def send():
            for _channel_id, connection, sequence in acks:
                connection.ack(sequence)

        if acks:
            self._call(send)

    def drain_events(self, limit: int = 100_000) -> list[tuple]:
        drained = []
        try:
            while len(drained) < limit:
                drained.append(self.events.get_nowait())
        except queue.Empty:
            pass
        return drained

    def wait_event(self, timeout: float) -> tuple | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def backlog(self, channel_id: int) -> int:
        link = self.links.get(channel_id)
        return len(link.queue) + link.in_flight if link else 0

    def bound_transmitters(self, channel_id: int) -> int:
        link = self.links.get(channel_id)
        return link.bound_transmitters if link else 0

    def is_refused(self, channel_id: int) -> bool:
        link = self.links.get(channel_id)
        return bool(link and link.bind_refused)

    def unbound_seconds(self, channel_id: int) -> float:
        """How long the channel has had no transmitting bind (0 when it has one)."""
        link = self.links.get(channel_id)
        if link is None or link.unbound_since is None:
            return 0.0
        return time.monotonic() - link.unbound_since

    def snapshot(self) -> dict[int, dict]:
        """Per channel: bind states, window in use, last error, totals (read from any thread)."""
        result = {}
        for channel_id, link in list(self.links.items()):
            connections = [
                {
                    "label": c.label,
                    "role": c.status.role,
                    "state": "bound" if c.bound else c.status.state,
                    "outstanding": len(c.outstanding),
                    "window": link.settings.window,
                    "last_error": c.status.last_error,
                    "submitted": c.status.submitted,
                }
                for c in list(link.connections)
            ]
            labels = {c["label"] for c in connections}
            for (down_channel, label), why in list(self.down.items()):
                if down_channel == channel_id and label not in labels:
                    connections.append(
                        {
                            "label": label,
                            "role": "",
                            "state": "down",
                            "outstanding": 0,
                            "window": link.settings.window,
                            "last_error": why,
                            "submitted": 0,
                        }
                    )
            result[channel_id] = {
                "connections": sorted(connections, key=lambda c: c["label"]),
                "queued": len(link.queue),
                "submitted_total": link.submitted_total,
                "receipts_total": link.receipts_total,
                "refused": link.bind_refused,
            }
        return result

    def stop(self) -> None:
        if not self.thread.is_alive():
            return

        async def stop_all():
            await asyncio.gather(*(link.stop() for link in self.links.values()), return_exceptions=True)
            self.links.clear()

        try:
            self._await(stop_all(), timeout=20)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
