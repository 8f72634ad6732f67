"""`manage.py smpp_connector`: hold the binds of the SMPP channels and move their messages."""

from __future__ import annotations

import logging
import signal

from django.core.management.base import BaseCommand

from messaging.smpp.connector import Connector

logger = logging.getLogger("messaging.smpp")


class Command(BaseCommand):
    help = "Run the SMPP connector: long-lived binds for every enabled SMPP channel (or --channel ids)."

    def add_arguments(self, parser):
        parser.add_argument("--channel", type=int, action="append", help="only this channel id (repeatable)")
        parser.add_argument("--claim", type=int, default=2000, help="most messages claimed per channel at once")
        parser.add_argument(
            "--apply-receipts",
            action="store_true",
            help="also apply stored receipts on a thread of this process (the lane workers do it otherwise)",
        )

    def handle(self, *args, **options):
        stopping = {"now": False}

        def stop(signum, frame):
            stopping["now"] = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        connector = Connector(
            channel_ids=options["channel"],
            claim_limit=options["claim"],
            apply_receipts="thread" if options["apply_receipts"] else "",
            threaded=True,
        )
        logger.info("SMPP connector %s starting", connector.label)
        connector.run(stop=lambda: stopping["now"])
        logger.info("SMPP connector stopped: %s", connector.stats)
