"""Array literals read back exactly what went in, awkward characters and NULLs included."""

from django.db import connection

from smsportal.sqlarrays import int_array, text_array


def test_arrays_round_trip_through_postgresql(db):
    texts = ["plain", "", '引号"与反斜杠\\', "{braces}, commas", "NULL", None, "空 格", "'single'"]
    ints = [1, None, -7, 2**62]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[], %s::bigint[]", [text_array(texts), int_array(ints)])
        assert cursor.fetchone() == (texts, ints)
        cursor.execute("SELECT %s::text[], %s::bigint[]", [text_array([]), int_array([])])
        assert cursor.fetchone() == ([], [])
