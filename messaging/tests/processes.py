"""Helpers for tests that run real processes (dispatchers, django-q2 clusters) against the
test database (pytest-django's test_smsportal<suffix>), which they must be told about."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    base = os.environ.get("DATABASE_URL")
    if not base:
        from smsportal import devdb

        base = devdb.database_url()
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def process_env(**extra) -> dict:
    from django.conf import settings

    env = dict(os.environ)
    # The same SECRET_KEY as this process: django-q2 signs the tasks it queues with it.
    env.update(DATABASE_URL=test_database_url(), DEBUG="1", SECRET_KEY=settings.SECRET_KEY, PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def start(args: list[str], **extra_env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=process_env(**extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig=None) -> None:
    import signal

    if process.poll() is None:
        try:
            os.killpg(process.pid, sig or signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_for(predicate, *, timeout: float = 90.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
