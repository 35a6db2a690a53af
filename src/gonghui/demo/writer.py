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
from contextlib import contextmanager
from itertools import islice
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models
from django.utils import timezone

Converter = Callable[[Any], Any]
BATCH = 5_000


def first_free_pk(model: type[models.Model]) -> int:
    """Demo rows take keys above any row there is or ever was. Never reusing a key matters
    after ``--reset``: the append-only audit trail still names the old rows by key (and
    shows entries on the timeline of the file with that key)."""
    top = model._default_manager.aggregate(top=models.Max("pk"))["top"]
    return max(top or 0, _high_water(model)) + 1


def _high_water(model: type[models.Model]) -> int:
    """The largest key the table's sequence has handed out (SQLite's AUTOINCREMENT keeps
    it in sqlite_sequence; PostgreSQL in the identity sequence)."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
            sequence = cursor.fetchone()[0]
            if sequence is None:
                return 0
            cursor.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}")
        else:
            return 0
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] else 0


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


def _adapt(field: models.Field[Any, Any], value: Any) -> Any:
    convert = _converter(field)
    return convert(value) if convert is not None and value is not None else value


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
        given = [by_attname[name] for name in columns]
        self.fields = given + rest
        # Defaults are the same for every row: adapt them once, not a million times.
        self.defaults = tuple(_adapt(f, _default(f, now)) for f in rest)
        self.converters = [(i, c) for i, f in enumerate(given) if (c := _converter(f))]
        quote = connection.ops.quote_name
        names = ", ".join(quote(f.column) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        table = quote(model._meta.db_table)
        self.sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        self.copy_sql = f"COPY {table} ({names}) FROM STDIN"
        self.count = 0

    def _prepare(self, row: Sequence[Any]) -> list[Any]:
        values = [*row, *self.defaults]  # converters only touch the given columns
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
    anything is written; ``flush`` writes the tables in the order they were given. A table
    keyed by another row (a one-to-one primary key) takes its rows through ``put``.
    """

    def __init__(self, tables: Mapping[str, tuple[type[models.Model], Sequence[str]]]) -> None:
        self.tables = {
            name: Table(model, (model._meta.pk.attname, *columns))
            for name, (model, columns) in tables.items()
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


def analyze(models_written: Sequence[type[models.Model]]) -> None:
    """PostgreSQL: refresh the planner's statistics after a bulk load. Autovacuum would do
    it later, but until then (and always inside the loading transaction, where autovacuum
    sees nothing) the planner takes the tables for empty and picks nested loops over
    sequential scans: a reset in the same transaction then ran for minutes. SQLite keeps
    no statistics unless asked: without them a county's work queue walked the province's
    files (seconds at a million workers, milliseconds after ANALYZE)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models_written:
            cursor.execute(f"ANALYZE {quote(model._meta.db_table)}")


@contextmanager
def big_cache(mebibytes: int = 1024) -> Iterator[None]:
    """SQLite: a page cache large enough for the indexes of a million workers. With the
    default 64 MB, inserts into the random-order indexes (ID number, name, phone) thrash
    once the tables outgrow it, and a million-worker demo takes twice as long."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{mebibytes * 1024}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")
