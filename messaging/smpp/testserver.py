"""A real SMSC for tests and the benchmark: asyncio, SMPP 3.4 over TCP on 127.0.0.1.

It checks credentials, answers submit_sm (at once or after a latency), sends delivery
receipts (DELIVRD, or UNDELIV/REJECTD/EXPIRED with error codes per destination, optionally
twice), answers ESME_RTHROTTLED / ESME_RMSGQFUL on demand or above a rate, can drop a
connection in the middle of a window, recognises resubmissions by our client reference when
told to, and pushes MO replies ("TD") to a bound receiver.

In-process use (tests): `with SmscThread(accounts={"esme": "secret"}) as smsc: ...`.
Separate process (benchmark): `python -m messaging.smpp.testserver --account esme:secret`
prints `PORT <n>` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from datetime import datetime

from . import pdu as P
from .encoding import DCS_DEFAULT, DCS_UCS2, decode_short_message, encode_text, gsm7_encode, is_gsm7
from .receipts import STAT_TO_STATE, format_receipt_text


@dataclass
class Behaviour:
    """What the SMSC does; tests change it while the server runs."""

    submit_latency: float = 0.0
    receipts: bool = True
    receipt_delay: float = 0.0
    duplicate_receipts: bool = False
    receipt_tlvs: bool = True  # also send receipted_message_id / message_state TLVs
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)  # destination → (stat, err)
    throttle_next: int = 0  # answer the next N submit_sm with ESME_RTHROTTLED
    queue_full_next: int = 0  # … with ESME_RMSGQFUL
    max_per_second: int | None = None  # ESME_RTHROTTLED above this rate (per account)
    drop_after: int | None = None  # abort the connection when this many more submits arrive
    dedupe: bool = False  # recognise our client reference TLV and answer with the first message_id


@dataclass
class SubmitRecord:
    smsc_message_id: str
    system_id: str
    source: str
    destination: str
    data_coding: int
    esm_class: int
    text: str
    reference: int | None
    total: int
    seq: int
    client_reference: str
    tlvs: dict[int, bytes]


class SmscSession(asyncio.Protocol):
    def __init__(self, server: TestSmsc):
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.system_id = ""
        self.bind_command = 0
        self.sequence = itertools.count(1)
        self.closed = False
        self.unanswered = 0  # submit_sm received and not yet answered: the ESME's window in use

    @property
    def can_receive(self) -> bool:
        return self.bind_command in (P.BIND_TRANSCEIVER, P.BIND_RECEIVER) and not self.closed

    @property
    def can_transmit(self) -> bool:
        return self.bind_command in (P.BIND_TRANSCEIVER, P.BIND_TRANSMITTER)

    def connection_made(self, transport):
        self.transport = transport
        self.server.sessions.append(self)

    def connection_lost(self, exc):
        self.closed = True
        if self in self.server.sessions:
            self.server.sessions.remove(self)

    def send(self, pdu: P.Pdu) -> None:
        if self.transport and not self.closed:
            self.transport.write(P.encode(pdu))

    def drop(self) -> None:
        self.closed = True
        if self.transport:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            frames = P.split_frames(self.buffer)
        except P.PduError:
            self.drop()
            return
        for frame in frames:
            if self.closed:
                return
            try:
                pdu = P.decode(frame)
            except P.PduError as error:
                sequence = int.from_bytes(frame[12:16], "big") if len(frame) >= 16 else 0
                self.send(P.Pdu(P.GENERIC_NACK, sequence=sequence, status=error.status))
                continue
            self.handle(pdu)

    def handle(self, pdu: P.Pdu) -> None:
        server = self.server
        command = pdu.command_id
        if command in P.BIND_COMMANDS:
            expected = server.accounts.get(pdu.system_id)
            if self.bind_command:
                status = P.ESME_RALYBND
            elif expected is None:
                status = P.ESME_RINVSYSID
            elif expected != pdu.password:
                status = P.ESME_RINVPASWD
            else:
                status = P.ESME_ROK
            server.bind_attempts.append((pdu.system_id, status == P.ESME_ROK))
            if status != P.ESME_ROK:
                self.send(P.response_for(pdu, status))
                return
            self.system_id, self.bind_command = pdu.system_id, command
            self.send(P.response_for(pdu, system_id=server.system_id))
            if self.can_receive:
                server.flush_pending(self.system_id)
        elif command == P.ENQUIRE_LINK:
            server.enquire_links += 1
            self.send(P.response_for(pdu))
        elif command == P.UNBIND:
            self.send(P.response_for(pdu))
            self.bind_command = 0
            if self.transport:
                self.transport.close()
        elif command == P.SUBMIT_SM:
            if not self.can_transmit:
                self.send(P.response_for(pdu, P.ESME_RINVBNDSTS))
                return
            server.on_submit(self, pdu)
        elif command in (P.DELIVER_SM_RESP, P.ENQUIRE_LINK_RESP, P.UNBIND_RESP, P.GENERIC_NACK):
            server.deliver_responses += 1
        else:
            self.send(P.Pdu(P.GENERIC_NACK, sequence=pdu.sequence, status=P.ESME_RINVCMDID))


class TestSmsc:
    """The server proper. All methods run on its event loop."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        accounts: dict[str, str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        system_id: str = "SMSC",
        ssl_context=None,
    ):
        self.accounts = dict(accounts)
        self.ssl_context = ssl_context
        self.host, self.port = host, port
        self.system_id = system_id
        self.behaviour = Behaviour()
        self.sessions: list[SmscSession] = []
        self.submits: list[SubmitRecord] = []
        self.by_client_reference: dict[str, SubmitRecord] = {}
        self.bind_attempts: list[tuple[str, bool]] = []
        self.answers: dict[int, int] = defaultdict(int)  # command_status → count
        self.enquire_links = 0
        self.max_in_flight = 0
        self.deliver_responses = 0
        self.receipts_sent = 0
        self.pending_deliveries: dict[str, deque[P.Pdu]] = defaultdict(deque)
        self._ids = itertools.count(10_000_001)
        self._rate: dict[str, deque[float]] = defaultdict(deque)
        self._rx_cursor = itertools.count()
        self._server: asyncio.AbstractServer | None = None
        self._submits_since_drop_armed = 0

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SmscSession(self), self.host, self.port, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for session in list(self.sessions):
            session.drop()
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    # ---- submit_sm
    def _throttled(self, system_id: str) -> bool:
        limit = self.behaviour.max_per_second
        if not limit:
            return False
        now = time.monotonic()
        window = self._rate[system_id]
        while window and now - window[0] > 1.0:
            window.popleft()
        if len(window) >= limit:
            return True
        window.append(now)
        return False

    def on_submit(self, session: SmscSession, pdu: P.Pdu) -> None:
        behaviour = self.behaviour
        if behaviour.drop_after is not None:
            behaviour.drop_after -= 1
            if behaviour.drop_after <= 0:
                behaviour.drop_after = None
                # The last submit is taken (its receipt will come) but its response is lost.
                record, _resubmission = self._accept(session, pdu)
                self._schedule_receipt(record, pdu)
                session.drop()
                return
        if behaviour.throttle_next > 0:
            behaviour.throttle_next -= 1
            self._answer(session, P.response_for(pdu, P.ESME_RTHROTTLED))
            return
        if behaviour.queue_full_next > 0:
            behaviour.queue_full_next -= 1
            self._answer(session, P.response_for(pdu, P.ESME_RMSGQFUL))
            return
        if self._throttled(session.system_id):
            self._answer(session, P.response_for(pdu, P.ESME_RTHROTTLED))
            return
        record, resubmission = self._accept(session, pdu)
        self._answer(session, P.response_for(pdu, message_id=record.smsc_message_id))
        if not resubmission:
            self._schedule_receipt(record, pdu, after=behaviour.submit_latency)

    def _accept(self, session: SmscSession, pdu: P.Pdu) -> tuple[SubmitRecord, bool]:
        client_reference = pdu.tlv_str(P.TLV_CLIENT_REFERENCE) or ""
        if self.behaviour.dedupe and client_reference in self.by_client_reference:
            return self.by_client_reference[client_reference], True
        decoded = decode_short_message(
            pdu.short_message, data_coding=pdu.data_coding, esm_class=pdu.esm_class, tlvs=pdu.tlvs
        )
        record = SubmitRecord(
            smsc_message_id=str(next(self._ids)),
            system_id=session.system_id,
            source=pdu.source_addr,
            destination=pdu.destination_addr,
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            text=decoded.text,
            reference=decoded.reference,
            total=decoded.total,
            seq=decoded.seq,
            client_reference=client_reference,
            tlvs=dict(pdu.tlvs),
        )
        self.submits.append(record)
        if client_reference:
            self.by_client_reference[client_reference] = record
        return record, False

    def _answer(self, session: SmscSession, response: P.Pdu) -> None:
        self.answers[response.status] += 1
        latency = self.behaviour.submit_latency
        if latency:
            session.unanswered += 1
            self.max_in_flight = max(self.max_in_flight, session.unanswered)
            asyncio.get_running_loop().call_later(latency, self._send_late, session, response)
        else:
            session.send(response)

    def _send_late(self, session: SmscSession, response: P.Pdu) -> None:
        session.unanswered -= 1
        session.send(response)

    # ---- receipts and MO
    def _receipt_pdu(self, record: SubmitRecord, stat: str, err: str) -> P.Pdu:
        now = datetime.now()
        text = format_receipt_text(smsc_message_id=record.smsc_message_id, stat=stat, err=err, submitted=now, done=now)
        tlvs = {}
        if self.behaviour.receipt_tlvs:
            tlvs = {
                P.TLV_RECEIPTED_MESSAGE_ID: record.smsc_message_id.encode() + b"\0",
                P.TLV_MESSAGE_STATE: bytes((STAT_TO_STATE[stat],)),
                P.TLV_NETWORK_ERROR_CODE: b"\x03" + int(err or 0).to_bytes(2, "big"),
            }
        return P.Pdu(
            P.DELIVER_SM,
            source_addr=record.destination,
            destination_addr=record.source,
            dest_addr_ton=0,
            esm_class=P.ESM_DELIVERY_RECEIPT,
            short_message=text.encode("latin-1"),
            tlvs=tlvs,
        )

    def _schedule_receipt(self, record: SubmitRecord, pdu: P.Pdu, after: float = 0.0) -> None:
        """Receipts follow the submit_sm_resp (on whichever receiving bind is next)."""
        if not (self.behaviour.receipts and pdu.registered_delivery & 0x03):
            return
        stat, err = self.behaviour.outcomes.get(record.destination, ("DELIVRD", "000"))
        receipt = self._receipt_pdu(record, stat, err)
        copies = 2 if self.behaviour.duplicate_receipts else 1
        delay = self.behaviour.receipt_delay + after
        for _ in range(copies):
            if delay:
                asyncio.get_running_loop().call_later(delay, self.deliver, record.system_id, receipt)
            else:
                self.deliver(record.system_id, receipt)

    def deliver(self, system_id: str, pdu: P.Pdu) -> None:
        """Send a deliver_sm to one of the account's receiving sessions, or keep it for later."""
        receivers = [s for s in self.sessions if s.system_id == system_id and s.can_receive]
        if not receivers:
            self.pending_deliveries[system_id].append(pdu)
            return
        session = receivers[next(self._rx_cursor) % len(receivers)]
        session.send(replace(pdu, sequence=next(session.sequence)))
        if pdu.esm_class == P.ESM_DELIVERY_RECEIPT:
            self.receipts_sent += 1

    def flush_pending(self, system_id: str) -> None:
        pending = self.pending_deliveries.pop(system_id, deque())
        while pending:
            self.deliver(system_id, pending.popleft())

    def send_mo(self, *, system_id: str, source: str, destination: str, text: str) -> None:
        gsm = is_gsm7(text)
        self.deliver(
            system_id,
            P.Pdu(
                P.DELIVER_SM,
                source_addr=source,
                destination_addr=destination,
                data_coding=DCS_DEFAULT if gsm else DCS_UCS2,
                short_message=gsm7_encode(text) if gsm else text.encode("utf-16-be"),
            ),
        )

    def send_long_mo(
        self,
        *,
        system_id: str,
        source: str,
        destination: str,
        text: str,
        concatenation: str = "udh",
        reference: int = 42,
        order: list[int] | None = None,
        repeat: tuple[int, ...] = (),
    ) -> int:
        """A long reply in parts (UDH or SAR TLVs), sent in `order` (0-based part indexes; a
        part left out is never sent), parts in `repeat` sent twice. Consecutive parts go to
        the account's receiving sessions in turn, so they arrive on different binds."""
        encoded = encode_text(text, reference=reference, concatenation=concatenation)
        parts = encoded.parts
        for index in list(order if order is not None else range(len(parts))) + list(repeat):
            part = parts[index]
            self.deliver(
                system_id,
                P.Pdu(
                    P.DELIVER_SM,
                    source_addr=source,
                    destination_addr=destination,
                    data_coding=encoded.data_coding,
                    esm_class=part.esm_class,
                    short_message=part.short_message,
                    tlvs=dict(part.tlvs),
                ),
            )
        return len(parts)

    def send_receipt(self, smsc_message_id: str, *, stat: str = "DELIVRD", err: str = "000") -> None:
        record = next(r for r in self.submits if r.smsc_message_id == smsc_message_id)
        self.deliver(record.system_id, self._receipt_pdu(record, stat, err))

    # ---- what tests look at
    def messages(self) -> dict[str, str]:
        """Full texts received, by (destination, concatenation reference) reassembled."""
        parts: dict[tuple, dict[int, str]] = defaultdict(dict)
        for record in self.submits:
            parts[(record.destination, record.reference, record.client_reference.split(":")[0])][record.seq] = (
                record.text
            )
        return {key[2] or key[0]: "".join(chunks[i] for i in sorted(chunks)) for key, chunks in parts.items()}

    def bound_sessions(self, system_id: str | None = None) -> list[SmscSession]:
        return [s for s in self.sessions if s.bind_command and (system_id is None or s.system_id == system_id)]

    def drop_all(self) -> None:
        for session in list(self.sessions):
            session.drop()


class SmscThread:
    """Runs a TestSmsc on its own event loop in a daemon thread (for synchronous tests)."""

    def __init__(self, accounts: dict[str, str], **kwargs):
        self.smsc = TestSmsc(accounts, **kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-smsc", daemon=True)

    def __enter__(self) -> SmscThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.smsc.start(), self.loop).result(5)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.smsc.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    @property
    def port(self) -> int:
        return self.smsc.port

    @property
    def behaviour(self) -> Behaviour:
        return self.smsc.behaviour

    def call(self, function, *args, **kwargs):
        """Run a plain function on the server's loop and return its result."""

        async def run():
            return function(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    def send_mo(self, **kwargs) -> None:
        self.call(self.smsc.send_mo, **kwargs)

    def send_long_mo(self, **kwargs) -> int:
        return self.call(self.smsc.send_long_mo, **kwargs)

    def drop_all(self) -> None:
        self.call(self.smsc.drop_all)


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMSC for tests and benchmarks")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account", action="append", default=[], help="system_id:password")
    arguments = parser.parse_args()
    accounts = dict(item.split(":", 1) for item in arguments.account) or {"esme": "secret"}

    async def serve():
        smsc = TestSmsc(accounts, port=arguments.port)
        port = await smsc.start()
        print(f"PORT {port}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
