"""`manage.py smpp_connector` as a real process against the real test SMSC, stopped by SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from django.db import connection

from messaging.models import Message
from messaging.smpp.models import SmppBindStatus
from smsportal.enums import MessageStatus
from smsportal.factories import TenantFactory
from smsportal.factories.smpp import HandedOffMessageFactory, SmppChannelFactory, smpp_settings


def database_url_for_this_test_database() -> str:
    from smsportal import devdb

    server = os.environ.get("DATABASE_URL") or devdb.database_url()
    return urlunparse(urlparse(server)._replace(path="/" + connection.settings_dict["NAME"]))


def wait_for(condition, limit=30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_connector_process_delivers_and_stops_cleanly_on_sigterm(smsc):
    tenant = TenantFactory()
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, binds=2))
    messages = [HandedOffMessageFactory(tenant=tenant, channel=channel, number=f"+86137{i:08d}") for i in range(20)]
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_this_test_database(),
        "SMPP_STATUS_SECONDS": "0.5",
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "smpp_connector", "--apply-receipts"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        delivered = wait_for(
            lambda: (
                Message.objects.filter(pk__in=[m.pk for m in messages], status=MessageStatus.DELIVERED).count() == 20
            )
        )
        bound = wait_for(lambda: SmppBindStatus.objects.filter(channel=channel, state="bound").exists())
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert delivered, output
    assert bound, output
    assert process.returncode == 0, output
    assert SmppBindStatus.objects.get(channel=channel).state == SmppBindStatus.State.STOPPED
    assert not smsc.smsc.bound_sessions()  # it unbound on the way out
