"""Plain multi-row INSERTs for demo data: no model instances, no signals, explicit keys.

``bulk_create`` builds a model instance per row, and for audited models the audit mixin
snapshots each one on ``post_init``; at a million workers that alone costs minutes. The
demo knows every key and value already, so it writes tuples straight through the cursor.
Values go through the same backend adapters that Django uses (dates, aware datetimes,
JSON), so what lands in SQLite or PostgreSQL is exactly what the ORM would have written.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models
from django.utils import timezone

Converter = Callable[[Any], Any]
BATCH = 5_000


def first_free_pk(model: type[models.Model]) -> int:
    """Demo rows take keys above any row already there, so other data stays untouched."""
    top = model._default_manager.aggregate(top=models.Max("pk"))["top"]
    return (top or 0) + 1


def _converter(field: models.Field[Any, Any]) -> Converter | None:
    ops = connection.ops
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: ops.adapt_json_value(value, encoder)
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    return None  # the driver adapts str, int, bool, Decimal and None itself


def _default(field: models.Field[Any, Any], now: datetime.datetime) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()


class Table:
    """Writes rows of one model given as tuples in the order of ``columns`` (attnames).

    Concrete fields not listed get their model default, computed once; auto_now fields
    get the time the writer was made.
    """

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        now = timezone.now()
        rest = [f for name, f in by_attname.items() if name not in columns and not f.primary_key]
        self.fields = [by_attname[name] for name in columns] + rest
        self.defaults = tuple(_default(f, now) for f in rest)
        self.converters = [(i, c) for i, f in enumerate(self.fields) if (c := _converter(f))]
        quote = connection.ops.quote_name
        names = ", ".join(quote(f.column) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        table = quote(model._meta.db_table)
        self.sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        self.copy_sql = f"COPY {table} ({names}) FROM STDIN"
        self.count = 0

    def _prepare(self, row: Sequence[Any]) -> list[Any]:
        values = [*row, *self.defaults]
        for index, convert in self.converters:
            values[index] = convert(values[index])
        return values

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        """Insert ``rows``; returns how many were written."""
        prepared = (self._prepare(row) for row in rows)
        if connection.vendor == "postgresql":
            written = self._copy(prepared)
        else:
            written = self._insert(prepared)
        self.count += written
        return written

    def _insert(self, rows: Iterator[list[Any]]) -> int:
        written = 0
        with connection.cursor() as cursor:
            while batch := list(islice(rows, BATCH)):
                cursor.executemany(self.sql, batch)
                written += len(batch)
        return written

    def _copy(self, rows: Iterator[list[Any]]) -> int:
        """PostgreSQL: COPY is several times faster than any INSERT (psycopg 3 adapts each
        value as it would for a query, Jsonb included)."""
        written = 0
        with connection.cursor() as cursor, cursor.cursor.copy(self.copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        return written


def reset_sequences(models_written: Sequence[type[models.Model]]) -> None:
    """PostgreSQL's id sequences do not see explicit keys; move them past the demo rows.
    (SQLite's AUTOINCREMENT follows the largest key by itself: the SQL list is empty.)"""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models_written))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


class Sink:
    """Rows for several tables, numbered as they come and written parents first.

    ``add`` hands out the key of the new row at once, so children can point to it before
    anything is written; ``flush`` writes the tables in the order they were given.
    """

    def __init__(self, tables: Mapping[str, tuple[type[models.Model], Sequence[str]]]) -> None:
        self.tables = {
            name: Table(model, ("id", *columns)) for name, (model, columns) in tables.items()
        }
        self.next_pk = {name: first_free_pk(model) for name, (model, _c) in tables.items()}
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tables}

    def add(self, name: str, *values: Any) -> int:
        pk = self.reserve(name)
        self.put(name, pk, *values)
        return pk

    def reserve(self, name: str) -> int:
        """A key for a row whose values are not all known yet (see ``put``)."""
        pk = self.next_pk[name]
        self.next_pk[name] = pk + 1
        return pk

    def put(self, name: str, pk: int, *values: Any) -> None:
        self.rows[name].append((pk, *values))

    def pending(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def flush(self) -> None:
        for name, table in self.tables.items():
            table.write(self.rows[name])
            self.rows[name] = []

    def written(self, name: str) -> int:
        return self.tables[name].count
