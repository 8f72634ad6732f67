"""Rollup rows crafted by hand, for tests whose numbers must be known exactly."""

from __future__ import annotations

from datetime import datetime

from reports.models import MessageRollup
from reports.rollups import GRAIN_OF


def rollup_rows(tenant, hour: datetime, **fields) -> list[MessageRollup]:
    """The rows the recompute would write for messages that all share one value per dimension:
    one row per grain with the same counts, each carrying only its own dimension's value.
    `fields` mixes dimension values (carrier, province, channel_id, template_id,
    message_class, campaign_id) and counts (accepted, delivered, lat_1, …)."""
    dimensions = {column: fields.pop(column) for column in GRAIN_OF if column in fields}
    rows = [MessageRollup(tenant=tenant, hour=hour, grain=MessageRollup.Grain.ALL, **fields)]
    for column, grain in GRAIN_OF.items():
        rows.append(MessageRollup(tenant=tenant, hour=hour, grain=grain, **{column: dimensions.get(column)}, **fields))
    for row in rows:
        # Text dimensions are stored as '' when absent, as the recompute's COALESCE does.
        for column in ("carrier", "province", "message_class"):
            if getattr(row, column) is None:
                setattr(row, column, "")
    return MessageRollup.objects.bulk_create(rows)
