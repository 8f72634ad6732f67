"""`make bench`: every benchmark scenario, each figure next to the ceiling the same machine
reaches in the same run, written to docs/benchmarks.md and docs/benchmarks.json.

Apps contribute scenarios through `<app>/bench.py` exposing `SCENARIOS`, a list of
`Scenario`. A scenario's `run(size, progress)` returns a `Figure` (or a list of them).
Ceilings are raw SQL on a message-shaped table: COPY rows/s, batched UPDATE … FROM rows/s,
and a SELECT … FOR UPDATE SKIP LOCKED claim loop rows/s.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import connection

SCALES = {
    # rows per scenario size class; "tiny" is for the test suite's smoke test
    "tiny": {"rows": 2_000, "big": 5_000},
    "small": {"rows": 50_000, "big": 200_000},
    "medium": {"rows": 250_000, "big": 1_000_000},
    "full": {"rows": 1_000_000, "big": 10_000_000},
}
BENCH_APPS = ["campaigns", "messaging", "messaging.smpp", "reports"]


@dataclass
class Figure:
    scenario: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    ceiling: str = ""  # key into the ceilings dict: copy, update_from, skip_locked
    notes: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    run: Callable[[dict, Callable[[str], None]], Figure | list[Figure]]


def _ceiling_table(cursor) -> None:
    cursor.execute("DROP TABLE IF EXISTS bench_ceiling")
    cursor.execute(
        """CREATE UNLOGGED TABLE bench_ceiling (
             id bigserial PRIMARY KEY, tenant_id bigint NOT NULL, number varchar(20) NOT NULL,
             body text NOT NULL, status varchar(12) NOT NULL, priority smallint NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now())"""
    )
    cursor.execute("CREATE INDEX ON bench_ceiling (status, priority, id)")


def measure_ceilings(rows: int, progress: Callable[[str], None]) -> dict[str, float]:
    """Raw database speed on this machine, for comparison with the product's figures."""
    ceilings: dict[str, float] = {}
    with connection.cursor() as cursor:
        _ceiling_table(cursor)
        progress(f"ceiling: COPY {rows:,} message-shaped rows")
        chunks = []  # prepared before the clock starts, as UTF-8 (a str of CJK text is twice the size)
        for low in range(0, rows, 50_000):
            buffer = io.StringIO()
            for i in range(low, min(low + 50_000, rows)):
                body = f"【华美零售】您的验证码是{i % 1000000:06d}，5分钟内有效。"
                buffer.write(f"{i % 7 + 1}\t+86138{i:08d}\t{body}\tqueued\t{i % 3}\n")
            chunks.append(buffer.getvalue().encode())
        started = time.perf_counter()
        with cursor.copy("COPY bench_ceiling (tenant_id, number, body, status, priority) FROM STDIN") as copy:
            for chunk in chunks:
                copy.write(chunk)
        del chunks
        ceilings["copy"] = rows / (time.perf_counter() - started)

        progress("ceiling: batched UPDATE … FROM")
        batch = 5_000
        started = time.perf_counter()
        for low in range(1, rows + 1, batch):
            cursor.execute(
                """UPDATE bench_ceiling b SET status = v.status FROM (
                       SELECT g AS id, 'delivered'::varchar AS status FROM generate_series(%s, %s) g) v
                   WHERE b.id = v.id""",
                [low, min(low + batch - 1, rows)],
            )
        ceilings["update_from"] = rows / (time.perf_counter() - started)

        progress("ceiling: SELECT … FOR UPDATE SKIP LOCKED claim loop")
        cursor.execute("UPDATE bench_ceiling SET status = 'queued'")
        claimed = 0
        started = time.perf_counter()
        while True:
            cursor.execute(
                """WITH c AS (SELECT id FROM bench_ceiling WHERE status = 'queued'
                              ORDER BY priority, id LIMIT 1000 FOR UPDATE SKIP LOCKED)
                   UPDATE bench_ceiling b SET status = 'submitting' FROM c WHERE b.id = c.id""",
            )
            if cursor.rowcount == 0:
                break
            claimed += cursor.rowcount
        ceilings["skip_locked"] = claimed / (time.perf_counter() - started)
        cursor.execute("DROP TABLE bench_ceiling")
    return ceilings


def machine_info() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    memory = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        memory = round(pages * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "postgresql": pg_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def collect_scenarios() -> list[Scenario]:
    scenarios: list[Scenario] = []
    for app in BENCH_APPS:
        try:
            module = importlib.import_module(f"{app}.bench")
        except ModuleNotFoundError as error:
            if error.name != f"{app}.bench":
                raise
            continue
        scenarios.extend(getattr(module, "SCENARIOS", []))
    return scenarios


def peak_memory_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # ru_maxrss is KiB on Linux


def settle_database(progress: Callable[[str], None], timeout: float = 300) -> None:
    """Before each scenario: VACUUM (ANALYZE) what the previous one left, then wait for the
    autovacuum workers to finish. On two cores a worker vacuuming the last scenario's million
    rows takes one of them, so the next scenario's figure would partly measure that debt
    rather than its own work (the suspect for a fan-out right after the contact import that
    once took 44 s against 18–20 s). Not timed; a scenario still runs alongside whatever
    autovacuum its own writes start."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
        while time.monotonic() - started < timeout:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
            )
            if not cursor.fetchone()[0]:
                break
            time.sleep(1)
    progress(f"database settled in {time.monotonic() - started:.0f} s")


def run_all(scale: str, out_dir: Path, progress: Callable[[str], None] = print, only: list[str] | None = None) -> dict:
    size = SCALES[scale]
    ceilings = measure_ceilings(size["rows"], progress)
    figures: list[Figure] = []
    peak = [peak_memory_mib(), ""]  # MiB, and the scenario that raised it
    for scenario in collect_scenarios():
        if only and scenario.name not in only:
            continue
        settle_database(progress)
        progress(f"scenario: {scenario.name}")
        try:
            result = scenario.run(size, progress)
        except Exception as error:  # a broken scenario is reported, not hidden, and the rest still run
            figures.append(
                Figure(
                    scenario=scenario.name,
                    value=float("nan"),
                    unit="",
                    met=False,
                    notes=f"failed: {type(error).__name__}: {error}",
                )
            )
            continue
        figures.extend(result if isinstance(result, list) else [result])
        high = peak_memory_mib()
        if high > peak[0]:
            peak[:] = [high, scenario.name]
        progress(f"memory high-water mark so far: {high:,.0f} MiB")
    figures.append(
        Figure(
            scenario="peak memory of any worker during the run",
            value=round(peak[0], 1),
            unit="MiB",
            target="≤ 500 MB",
            met=peak[0] <= 500,
            notes=f"reached during {peak[1]} (the bench process or a process it started)" if peak[1] else "",
        )
    )
    report = {
        "scale": scale,
        "machine": machine_info(),
        "ceilings": {key: round(value, 1) for key, value in ceilings.items()},
        "figures": [asdict(figure) for figure in figures],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmarks.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    (out_dir / "benchmarks.md").write_text(render_markdown(report), encoding="utf-8")
    return report


CEILING_LABELS = {
    "copy": "raw COPY rows/s",
    "update_from": "raw UPDATE … FROM rows/s",
    "skip_locked": "raw SKIP LOCKED claim rows/s",
}


NOTES = Path(__file__).resolve().parents[1] / "docs" / "benchmark-notes.md"


def render_markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `make bench` (BENCH_SCALE={report['scale']}) on {machine['date']}: "
        f"{machine['cpus']} CPUs, {machine['memory_gib']} GiB, PostgreSQL {machine['postgresql']}, "
        f"Python {machine['python']}.",
        "",
        "## Ceilings (raw SQL on this machine, same run)",
        "",
        "| ceiling | rows/s |",
        "|---|---:|",
    ]
    for key, value in report["ceilings"].items():
        lines.append(f"| {CEILING_LABELS.get(key, key)} | {value:,.0f} |")
    lines += [
        "",
        "## Scenarios",
        "",
        "| scenario | figure | target | met | vs ceiling | notes |",
        "|---|---:|---|---|---:|---|",
    ]
    for figure in report["figures"]:
        value = figure["value"]
        shown = "—" if value != value else f"{value:,.1f} {figure['unit']}"  # NaN check
        ratio = ""
        if figure["ceiling"] and figure["ceiling"] in report["ceilings"] and value == value:
            ratio = f"{value / report['ceilings'][figure['ceiling']]:.0%} of {CEILING_LABELS[figure['ceiling']]}"
        met = {True: "yes", False: "**missed**", None: ""}[figure["met"]]
        lines.append(f"| {figure['scenario']} | {shown} | {figure['target']} | {met} | {ratio} | {figure['notes']} |")
    lines.append("")
    if NOTES.exists():  # hand-written same-host comparisons, kept across regenerations
        lines += [NOTES.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)
