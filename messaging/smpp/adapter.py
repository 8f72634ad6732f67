"""The "smpp" channel adapter as the dispatcher and the channel forms see it.

SMPP binds are long-lived sessions held by the connector process, so this adapter does not
submit from a dispatcher: `deferred = True` tells the dispatcher to route messages to the
channel and leave them `submitting` with `lease_until = NULL` — the connector's queue.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from messaging.adapters.base import ChannelAdapter, SubmitResult, register_adapter

from .config import merge_settings, parse_settings, validate_settings
from .models import SmppReview


class SmppAdapter(ChannelAdapter):
    name = "smpp"
    deferred = True  # submitted by `manage.py smpp_connector`, not by the dispatcher

    def submit(self, channel, messages: Sequence) -> list[SubmitResult]:
        raise NotImplementedError("SMPP channels are served by the smpp_connector process (adapter.deferred)")

    def lookup(self, channel, message_ids: Sequence[int]) -> dict[int, str]:
        """Crash recovery: which of these did the SMSC accept?

        Known (a submit_sm_resp was recorded) → its reference. Unknown, on a channel whose SMSC
        recognises our client reference → left out, so the message is queued and sent again
        safely. Unknown elsewhere → "" (kept `submitted` without a reference, never resent) and
        an SmppReview row for the operators."""
        ids = list(message_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT message_id, smsc_message_id FROM smpp_smpppart
                   WHERE channel_id = %s AND message_id = ANY(%s) AND part_index = 0""",
                [channel.pk, ids],
            )
            known = dict(cursor.fetchall())
        settings = channel.settings or {}
        if settings.get("dedupe_resubmissions"):
            return known
        unknown = [i for i in ids if i not in known]
        if unknown:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, tenant_id FROM messaging_message WHERE id = ANY(%s)", [unknown])
                rows = cursor.fetchall()
            SmppReview.objects.bulk_create(
                [
                    SmppReview(
                        tenant_id=tenant_id,
                        message_id=message_id,
                        channel_id=channel.pk,
                        reason=SmppReview.Reason.CONNECTOR_CRASHED,
                    )
                    for message_id, tenant_id in rows
                ],
                ignore_conflicts=True,
            )
        return {**dict.fromkeys(unknown, ""), **known}

    # ---- settings (the channel forms call these when present)
    def validate_settings(self, settings: dict) -> dict[str, list[str]]:
        return validate_settings(settings)

    def parse_settings(self, settings: dict):
        return parse_settings(settings)

    def merge_settings(self, stored: dict, submitted: dict) -> dict:
        return merge_settings(stored, submitted)


register_adapter(SmppAdapter.name, SmppAdapter)
