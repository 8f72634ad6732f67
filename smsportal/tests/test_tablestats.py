"""Tables that grew fast get statistics before autovacuum's next round."""

import pytest
from django.db import connection

from smsportal.tablestats import stale_tables, stale_tables_analyze


def _flush_stats():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")


@pytest.fixture
def probe_table(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE tablestats_probe (id int)")
    yield ("tablestats_probe",)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE tablestats_probe")


def _insert(rows: int):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO tablestats_probe SELECT g FROM generate_series(1, %s) g", [rows])
    _flush_stats()


def test_a_table_never_analyzed_is_analyzed_once_it_has_rows(probe_table):
    _insert(500)
    assert stale_tables(probe_table, min_rows=1000) == []  # small tables are autovacuum's business
    _insert(2000)
    assert stale_tables(probe_table, min_rows=1000) == ["tablestats_probe"]
    assert stale_tables_analyze(probe_table, min_rows=1000) == ["tablestats_probe"]
    _flush_stats()
    assert stale_tables(probe_table, min_rows=1000) == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'tablestats_probe'")
        assert cursor.fetchone()[0] == 2500


def test_a_table_is_analyzed_again_when_it_more_than_doubled(probe_table):
    _insert(2000)
    stale_tables_analyze(probe_table, min_rows=1000)
    _insert(1500)  # 2,000 known, 1,500 changed since: not yet
    assert stale_tables(probe_table, min_rows=1000) == []
    _insert(1000)  # 2,500 changed since the statistics of 2,000 rows
    assert stale_tables(probe_table, min_rows=1000) == ["tablestats_probe"]
