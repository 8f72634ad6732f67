"""Prepared statements for the few fixed statements every API send runs.

Django binds parameters in the client by default, so PostgreSQL parses and plans each
statement afresh; for the send path's larger statements (the accept INSERT with its gates,
the one-statement reservation, the joined lookups) planning was about a third of their
database time. This cursor binds server-side and prepares each statement on its connection
at first use; it is still a Django cursor (query log, execute wrappers, error translation).
"""

from __future__ import annotations

from django.db import connection
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

ENABLED = True  # a switch for measuring the difference


class _PreparingCursor(ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def prepared_cursor():
    """Use like connection.cursor() for statements whose text does not vary with the data."""
    if not ENABLED:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:
            # Django leaves psycopg's automatic preparing off (None), which also refuses an
            # explicit prepare=True. A threshold no statement reaches prepares only ours:
            # Django's own cursors bind client-side and never prepare.
            raw.prepare_threshold = 2**31
        cursor = _PreparingCursor(raw)
        # As DatabaseWrapper.create_cursor: the connection's time zone for timestamptz results.
        loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        if connection.timezone != loader.timezone:
            register_tzloader(connection.timezone, cursor)
        return connection._prepare_cursor(cursor)
