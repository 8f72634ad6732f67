"""prepared_cursor: statements prepared on the connection, still seen by Django."""

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from smsportal.prepared import prepared_cursor

LOOKUP = "SELECT %s::int + 1, %s::timestamptz"


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_statements_are_prepared_answer_like_a_normal_cursor_and_are_logged(db):
    at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    with CaptureQueriesContext(connection) as captured, prepared_cursor() as cursor:
        cursor.execute(LOOKUP, [41, at])
        first = cursor.fetchone()
        cursor.execute(LOOKUP, [1, at])
        second = cursor.fetchone()
    assert first == (42, at) and second == (2, at)
    assert first[1].tzinfo is not None  # aware, in the connection's zone, as Django's cursors give
    assert len(captured.captured_queries) == 2  # query log and execute wrappers still apply
    assert sum("$1::int + 1" in statement for statement in _prepared_statements()) == 1  # prepared once


def test_django_cursors_still_never_prepare(db):
    with prepared_cursor() as cursor:
        cursor.execute(LOOKUP, [1, datetime.now(UTC)])
    before = len(_prepared_statements())
    for _ in range(10):  # past any automatic threshold
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::int * 2", [3])
    assert len(_prepared_statements()) == before
