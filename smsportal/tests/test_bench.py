import json

import pytest

from smsportal import bench
from smsportal.factories.tenants import TenantFactory


def test_bench_smoke_writes_well_formed_results(db, tmp_path):
    report = bench.run_all("tiny", tmp_path, progress=lambda text: None, only=["(ceilings only)"])
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    assert data["scale"] == "tiny"
    assert set(data["ceilings"]) == {"copy", "update_from", "skip_locked"}
    assert all(value > 0 for value in data["ceilings"].values())
    assert data["machine"]["cpus"] >= 1 and data["machine"]["postgresql"]
    assert "| raw COPY rows/s |" in (tmp_path / "benchmarks.md").read_text()
    assert report["figures"][-1]["unit"] == "MiB"


def test_hand_written_notes_survive_a_regenerated_report(db, tmp_path, monkeypatch):
    notes = tmp_path / "notes.md"
    notes.write_text("## Same-host comparisons\n\nold 1 → new 2\n", encoding="utf-8")
    monkeypatch.setattr(bench, "NOTES", notes)
    bench.run_all("tiny", tmp_path, progress=lambda text: None, only=["(ceilings only)"])
    written = (tmp_path / "benchmarks.md").read_text()
    assert written.index("| raw COPY rows/s |") < written.index("## Same-host comparisons")
    assert written.rstrip().endswith("old 1 → new 2")


@pytest.mark.django_db(transaction=True)
def test_each_scenario_starts_on_a_vacuumed_analysed_database():
    from django.db import connection

    from tenants.models import Tenant

    TenantFactory.create_batch(3)
    seen = []
    bench.settle_database(seen.append)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = %s", [Tenant._meta.db_table]
        )
        last_vacuum, last_analyze = cursor.fetchone()
    assert last_vacuum is not None and last_analyze is not None
    assert seen and seen[0].startswith("database settled")
