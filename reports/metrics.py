"""Arrival-time maths on the rollups' histogram buckets. Pure Python, no database."""

from __future__ import annotations

from collections.abc import Sequence

# Upper bounds in seconds of the arrival-time buckets kept in every rollup row; the last
# bucket is open ("more than 60 s").
LATENCY_BOUNDS: tuple[float, ...] = (1, 2, 3, 5, 10, 30, 60)
LATENCY_FIELDS: tuple[str, ...] = ("lat_1", "lat_2", "lat_3", "lat_5", "lat_10", "lat_30", "lat_60", "lat_more")
# Where the open bucket is assumed to end when a percentile falls inside it.
OPEN_BUCKET_END = 120.0


def bucket_index(seconds: float) -> int:
    for index, bound in enumerate(LATENCY_BOUNDS):
        if seconds <= bound:
            return index
    return len(LATENCY_BOUNDS)


def percentile(counts: Sequence[int], q: float) -> float | None:
    """The q-th percentile (0 < q < 100), interpolating linearly inside the bucket it falls in.

    Exact to the bucket; within a bucket values are assumed evenly spread, which is the
    standard estimate for histogram percentiles (Prometheus does the same).
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q / 100 * total
    seen = 0
    lower = 0.0
    for index, count in enumerate(counts):
        upper = LATENCY_BOUNDS[index] if index < len(LATENCY_BOUNDS) else OPEN_BUCKET_END
        if count and seen + count >= rank:
            return round(lower + (upper - lower) * (rank - seen) / count, 3)
        seen += count
        lower = upper
    return OPEN_BUCKET_END


def share_within(counts: Sequence[int], target_seconds: float) -> float | None:
    """Share of deliveries that arrived within the target (which must be a bucket bound)."""
    total = sum(counts)
    if total == 0:
        return None
    if target_seconds not in LATENCY_BOUNDS:
        raise ValueError(f"{target_seconds} s is not a bucket bound; choose one of {LATENCY_BOUNDS}")
    within = sum(counts[: LATENCY_BOUNDS.index(target_seconds) + 1])
    return within / total


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
