"""Campaign benchmarks: contact import and fan-out (wired into `make bench` by smsportal.bench)."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from django.core.files import File

from smsportal.bench import Figure, Scenario, peak_memory_mib

CARRIER_PREFIXES = ["138", "139", "150", "186", "133", "189", "198", "166", "177", "192", "135", "130", "180", "147"]


def _bench_tenant(slug: str):
    from tenants.models import Tenant

    tenant, _created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": "压测企业", "contact_name": "bench", "contact_email": "bench@example.com"}
    )
    return tenant


def write_contacts_csv(path: Path, rows: int, seed: int = 11) -> None:
    """A realistic member export: GBK-free UTF-8, 1% invalid, 2% duplicates, two attributes."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("手机号,姓名,积分\n")
        previous = []
        for i in range(rows):
            roll = rng.random()
            if roll < 0.01:
                number = f"1{rng.randrange(10**6)}"
            elif roll < 0.03 and previous:
                number = rng.choice(previous)
            else:
                number = f"{rng.choice(CARRIER_PREFIXES)}{rng.randrange(10**8):08d}"
                if len(previous) < 1000:
                    previous.append(number)
            out.write(f"{number},会员{i},{rng.randrange(5000)}\n")


def import_contacts(size: dict, progress) -> list[Figure]:
    from campaigns.models import ContactImport, ContactList
    from campaigns.services import contact_import_run

    rows = size["rows"]
    tenant = _bench_tenant("bench-campaigns")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "contacts.csv"
        progress(f"campaigns: writing a {rows:,}-row contact CSV")
        write_contacts_csv(path, rows)
        contact_list = ContactList.objects.create(tenant=tenant, name=f"bench {time.time()}")
        with path.open("rb") as handle:
            contact_import = ContactImport(
                tenant=tenant,
                contact_list=contact_list,
                original_name="contacts.csv",
                file_format="csv",
                size_bytes=path.stat().st_size,
            )
            contact_import.file.save("bench-contacts.csv", File(handle), save=True)
        progress(f"campaigns: importing {rows:,} rows")
        started = time.perf_counter()
        done = contact_import_run(contact_import_id=contact_import.pk)
        elapsed = time.perf_counter() - started
        contact_import.file.delete(save=False)
    target = 60 * rows / 1_000_000
    return [
        Figure(
            scenario=f"contact import, {rows:,} CSV rows → contacts",
            value=round(elapsed, 2),
            unit="s",
            target=f"≤ {target:.0f} s (60 s per 1,000,000)",
            met=done.status == "done" and elapsed <= target,
            notes=f"{done.imported:,} imported, {done.duplicates:,} merged, {done.invalid:,} invalid; "
            f"{rows / elapsed:,.0f} rows/s",
        ),
        Figure(
            scenario="campaigns worker peak memory after import",
            value=round(peak_memory_mib(), 1),
            unit="MiB",
            target="≤ 500 MB",
            met=peak_memory_mib() <= 500,
        ),
    ]


SCENARIOS = [Scenario("campaigns.import", import_contacts)]
