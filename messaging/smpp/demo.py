"""Demo: one China Mobile channel over SMPP to the local simulator SMSC that `make demo` runs
(Procfile `smsc:` — messaging.smpp.testserver), bound by the `smpp:` connector process.
Each demo tenant gets its own extension on the sender number so replies find their way back.
The account below is the local simulator's, not a secret."""

from __future__ import annotations

import os

from messaging.models import Channel

DEMO_CHANNEL = "中国移动 SMPP 直连（本地模拟 SMSC）"
DEMO_PORT = int(os.environ.get("SMPP_DEMO_PORT", "2775"))
DEMO_ACCOUNT = ("huamei", "demo1234")  # matches the Procfile's `smsc:` line


def seed(ctx) -> Channel:
    extensions = {
        str(tenant.pk): f"{index:02d}" for index, tenant in enumerate(sorted(ctx.tenants.values(), key=str), 1)
    }
    channel, _created = Channel.objects.get_or_create(
        name=DEMO_CHANNEL,
        defaults={
            "adapter": Channel.Adapter.SMPP,
            "carriers": ["mobile"],
            "message_classes": ["verification", "notification", "marketing", "alert"],
            "rate_limit": 500,
            "batch_size": 500,
            "cost_per_message": "0.0300",
            "weight": 30,
            "receipt_timeout_seconds": 600,
            "enabled": True,
            "settings": {
                "host": "127.0.0.1",
                "port": DEMO_PORT,
                "system_id": DEMO_ACCOUNT[0],
                "password": DEMO_ACCOUNT[1],
                "bind_mode": "transceiver",
                "binds": 2,
                "window": 32,
                "source_addr": "10690001",
                "extensions": extensions,
                "error_map": {"UNDELIV:001": "vacant_number", "UNDELIV:003": "carrier_blacklist"},
            },
        },
    )
    return channel
