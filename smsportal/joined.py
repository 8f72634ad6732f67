"""Rows of several models from one hand-written join, built as ORM instances.

For the few lookups on the send API's hot path: compiling a queryset with select_related
costs more Python than the query itself (measured: about a third of a millisecond each, per
request). The instances are what the ORM would build — every concrete field, the database
converters applied (JSON, for one), related objects cached — so callers cannot tell.
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import Model

from smsportal.prepared import prepared_cursor


@cache
def _shape(model: type[Model]) -> tuple[list[str], list[str], list]:
    fields = model._meta.concrete_fields
    converters = [(i, f.get_db_converters(connection)) for i, f in enumerate(fields)]
    return [f.attname for f in fields], [f.column for f in fields], [(i, c) for i, c in converters if c]


def select_list(model: type[Model], alias: str) -> str:
    """The SELECT list of every concrete column of `model` under table alias `alias`."""
    return ", ".join(f'{alias}."{column}"' for column in _shape(model)[1])


def fetch_joined(sql: str, params: list, models: list[type[Model]]) -> list[Model | None] | None:
    """Run `sql` — whose SELECT list is select_list() of each model in order — and build
    the first row's instances (None for a model whose primary key is NULL: an outer join
    that found nothing). None when there is no row."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances: list[Model | None] = []
    offset = 0
    for model in models:
        names, _columns, converters = _shape(model)
        values = list(row[offset : offset + len(names)])
        offset += len(names)
        if values[names.index(model._meta.pk.attname)] is None:
            instances.append(None)
            continue
        for index, functions in converters:
            for function in functions:
                values[index] = function(values[index], model._meta.concrete_fields[index], connection)
        instances.append(model.from_db(connection.alias, names, values))
    return instances
