"""SMPP benchmark: one connector process, 4 binds, window 64, against the local SMSC answering
at once (a separate process), receipts included: messages/s from hand-off to the last delivery
receipt stored and acknowledged, and the connector's CPU per message (time.process_time: all
of its threads, not PostgreSQL's and not the SMSC's). Applying the stored receipts to the
messages (the lane workers' job) is timed separately afterwards.

Wired into `make bench` through SCENARIOS; also callable alone:
    .venv/bin/python -c "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE',
    'smsportal.settings'); django.setup(); from messaging.smpp.bench import run; print(run(5000))"
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from django.db import connection
from django.utils import timezone

from messaging.receipts import receipts_apply_batch
from smsportal.bench import Figure, Scenario

TARGET = 2000.0  # messages/s
BINDS, WINDOW = 4, 64
APPLY_LIMIT_SECONDS = 120  # the receipt apply is messaging's; never let it hang the benchmark
BODY = "【华美零售】您的验证码是{code:06d}，5分钟内有效，请勿泄露。"


def start_smsc(account: str = "bench:secret") -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "messaging.smpp.testserver", "--account", account],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().strip()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"the test SMSC did not start: {line!r}")
    return process, int(line.split()[1])


def _hand_off(tenant_id: int, channel_id: int, count: int) -> None:
    """Messages as the dispatcher leaves them for the connector (COPY: the set-up is not measured)."""
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY messaging_message (tenant_id, created_at, updated_at, number, carrier, province, message_class,"
            " lane, priority, body, segments, status, failure_reason, failure_detail, raw_status, channel_id,"
            " channel_ref, route_reason, tried_channel_ids, submit_attempts, client_ref, accepted_at,"
            " parts_delivered_mask, parts_failed_mask) FROM STDIN"
        ) as copy,
    ):
        for i in range(count):
            copy.write_row(
                (
                    tenant_id, now, now, f"+86138{i:08d}", "mobile", "北京市", "verification", "urgent", 1,
                    BODY.format(code=i % 1_000_000), 1, "submitting", "", "", "", channel_id, "", "bench",
                    "{}", 1, "", now, 0, 0,
                )
            )  # fmt: skip


def run(count: int, progress=print) -> dict:
    from messaging.models import Channel
    from tenants.models import Tenant

    from .connector import Connector

    process, port = start_smsc()
    channel = None
    try:
        tenant, _ = Tenant.objects.get_or_create(
            slug="bench-smpp",
            defaults={"name": "压测企业", "contact_name": "bench", "contact_email": "bench@example.com"},
        )
        channel = Channel.objects.create(
            name=f"bench-smpp-{uuid.uuid4().hex[:8]}",
            adapter=Channel.Adapter.SMPP,
            carriers=["mobile", "unicom", "telecom", "broadnet"],
            message_classes=["verification", "notification", "marketing", "alert"],
            rate_limit=1_000_000,
            enabled=True,
            settings={
                "host": "127.0.0.1",
                "port": port,
                "system_id": "bench",
                "password": "secret",
                "binds": BINDS,
                "window": WINDOW,
                "source_addr": "10690001",
            },
        )
        progress(f"smpp: handing {count:,} messages to the connector")
        _hand_off(tenant.pk, channel.pk, count)
        # Receipts are stored and acknowledged by the connector and applied by the lane workers
        # (DESIGN: raw first, applied in batches); the apply is timed on its own below.
        connector = Connector(channel_ids=[channel.pk], claim_limit=5000, apply_receipts="", threaded=True)
        connector.refresh_channels()
        deadline = time.monotonic() + 10
        while connector.engine.bound_transmitters(channel.pk) != BINDS and time.monotonic() < deadline:
            connector.step(0.05)
        progress("smpp: binds up, sending")
        started, cpu = time.perf_counter(), time.process_time()
        limit = time.monotonic() + max(120, count / 100)
        while connector.stats["receipts"] < count and time.monotonic() < limit:
            connector.step(0.01)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        stats = dict(connector.stats)
        connector.close()
        progress("smpp: applying the receipts (messaging.receipts)")
        with connection.cursor() as cursor:
            # Fresh statistics after the bulk load, as autovacuum would give them a bit later.
            cursor.execute("ANALYZE messaging_message")
            cursor.execute("ANALYZE messaging_receiptraw")
        applied_started = time.perf_counter()
        apply_limit = applied_started + APPLY_LIMIT_SECONDS
        while receipts_apply_batch() > 0 and time.perf_counter() < apply_limit:
            pass
        applied_seconds = time.perf_counter() - applied_started
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM messaging_message WHERE channel_id = %s AND status = 'delivered'", [channel.pk]
            )
            delivered = cursor.fetchone()[0]
        return {
            "messages": count,
            "receipts": stats["receipts"],
            "delivered": delivered,
            "seconds": wall,
            "messages_per_second": stats["receipts"] / wall if wall else 0.0,
            "cpu_ms_per_message": cpu * 1000 / max(stats["receipts"], 1),
            "apply_seconds": applied_seconds,
            "stats": stats,
        }
    finally:
        process.terminate()
        process.wait(5)
        if channel is not None:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM smpp_smpppart WHERE channel_id = %s", [channel.pk])
                cursor.execute("DELETE FROM smpp_smppbindstatus WHERE channel_id = %s", [channel.pk])
            Channel.objects.filter(pk=channel.pk).update(enabled=False)


def scenario(size: dict, progress) -> list[Figure]:
    count = min(max(size["rows"] // 2, 2000), 100_000)
    result = run(count, progress)
    setup = f"{BINDS} binds × window {WINDOW}, local SMSC process answering at once"
    return [
        Figure(
            scenario="SMPP connector: hand-off → submit_sm → deliver_sm receipt stored and acknowledged",
            value=round(result["messages_per_second"], 1),
            unit="messages/s",
            target=f"≥ {TARGET:,.0f} messages/s",
            met=result["messages_per_second"] >= TARGET and result["receipts"] >= result["messages"],
            notes=f"{setup}; {result['receipts']:,} receipts in {result['seconds']:.1f} s",
        ),
        Figure(
            scenario="SMPP connector CPU per message",
            value=round(result["cpu_ms_per_message"], 3),
            unit="ms CPU/message",
            target="reported (reference gateway: ~6 ms)",
            notes="time.process_time of the connector process (engine, claim and writer threads; "
            "not PostgreSQL, not the SMSC)",
        ),
        Figure(
            scenario="SMPP receipts applied afterwards (messaging.receipts, billing capture included)",
            value=round(result["delivered"] / result["apply_seconds"], 1) if result["apply_seconds"] else 0.0,
            unit="receipts/s",
            target="reported",
            notes=f"{result['delivered']:,}/{result['messages']:,} delivered after the apply",
        ),
    ]


SCENARIOS = [Scenario(name="smpp", run=scenario)]
