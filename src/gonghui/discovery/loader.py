"""Loading accepted roster rows into the registry (``people.Worker`` and ``Membership``) by
bulk copy: each chunk goes into a temporary table (COPY on PostgreSQL, ``executemany`` on
SQLite), then into the real tables with one ``INSERT … SELECT`` each, in one transaction
together with the chunk's :class:`RosterImportChunk` record.

Keys are handed out under a table lock (``first_free_pk`` .. + n − 1), so a chunk's workers
are exactly the ids between its first and last key; an ID number registered by someone else
meanwhile is skipped (``ON CONFLICT DO NOTHING``) and named in the chunk record.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from gonghui.demo.writer import first_free_pk
from gonghui.people.models import Membership, Worker

from .models import RosterImport, RosterImportChunk

STAGE_COLUMNS = (
    "id", "id_number", "name", "sex", "birth_date", "phone", "region_id", "organisation_id",
    "employer", "since", "employment_form",
)  # fmt: skip
STAGE_TYPES = (
    "bigint", "varchar(18)", "varchar(64)", "varchar(1)", "date", "varchar(20)",
    "varchar(6)", "bigint", "varchar(128)", "date", "varchar(16)",
)  # fmt: skip


def _stage_table(cursor: Any) -> None:
    columns = ", ".join(f"{n} {t}" for n, t in zip(STAGE_COLUMNS, STAGE_TYPES, strict=True))
    if connection.vendor == "postgresql":
        # Inside an outer transaction (a test, a caller's atomic) ON COMMIT has not come yet.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.roster_stage")
        cursor.execute(f"CREATE TEMP TABLE roster_stage ({columns}) ON COMMIT DROP")
    else:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS roster_stage ({columns})")
        cursor.execute("DELETE FROM roster_stage")


def _fill_stage(cursor: Any, rows: Sequence[tuple[Any, ...]], first_id: int) -> None:
    """Rows come as (row_no, id_number, name, sex, birth_date, phone, region_id,
    organisation_id, employer, since, employment_form) from the engine."""
    keyed = ((first_id + i, *row[1:]) for i, row in enumerate(rows))
    names = ", ".join(STAGE_COLUMNS)
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY roster_stage ({names}) FROM STDIN") as copy:
            for row in keyed:
                copy.write_row(row)
    else:
        marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
        cursor.executemany(
            f"INSERT INTO roster_stage ({names}) VALUES ({marks})",
            [(*row[:4], _day(row[4]), *row[5:9], _day(row[9]), row[10]) for row in keyed],
        )


def _day(value: datetime.date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime.date) else value


def _lock(cursor: Any) -> None:
    # SQLite: the transaction is IMMEDIATE (settings), so it already holds the write lock.
    if connection.vendor == "postgresql":
        cursor.execute(f"LOCK TABLE {Worker._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")


def load_chunk(
    roster_import: RosterImport, number: int, rows: Sequence[tuple[Any, ...]]
) -> RosterImportChunk:
    """Insert one chunk and record it, all or nothing; a chunk already recorded is left."""
    worker = Worker._meta.db_table
    membership = Membership._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        # Lock first, then look: two runs of the same import cannot both load a chunk.
        _lock(cursor)
        done = RosterImportChunk.objects.filter(roster_import=roster_import, number=number)
        if (chunk := done.first()) is not None:
            return chunk
        first_id = first_free_pk(Worker)
        last_id = first_id + len(rows) - 1
        _stage_table(cursor)
        _fill_stage(cursor, rows, first_id)
        cursor.execute(
            f"INSERT INTO {worker} (id, id_number, name, sex, birth_date, phone, region_id, "
            "organisation_id, employer, created_at, updated_at) "
            "SELECT id, id_number, name, sex, birth_date, phone, region_id, organisation_id, "
            "employer, %s, %s FROM roster_stage WHERE true ORDER BY id_number "
            "ON CONFLICT (id_number) DO NOTHING",
            [now, now],
        )
        loaded = int(cursor.rowcount)
        cursor.execute(
            f"INSERT INTO {membership} (worker_id, organisation_id, since, status, "
            "employment_form) SELECT s.id, s.organisation_id, s.since, 'active', "
            f"s.employment_form FROM roster_stage s JOIN {worker} w ON w.id = s.id"
        )
        skipped: list[str] = []
        if loaded < len(rows):
            cursor.execute(
                f"SELECT s.id_number FROM roster_stage s LEFT JOIN {worker} w ON w.id = s.id "
                "WHERE w.id IS NULL"
            )
            skipped = [row[0] for row in cursor.fetchall()]
        if connection.vendor == "postgresql":
            for sql in connection.ops.sequence_reset_sql(no_style(), [Worker, Membership]):
                cursor.execute(sql)
        chunk = RosterImportChunk.objects.create(
            roster_import=roster_import,
            number=number,
            first_worker_id=first_id,
            last_worker_id=last_id,
            loaded=loaded,
            skipped=skipped,
        )
        RosterImport.objects.filter(pk=roster_import.pk).update(
            rows_loaded=F("rows_loaded") + loaded,
            rows_existing=F("rows_existing") + len(skipped),
            progress_done=number + 1,
        )
    return chunk


def unload(roster_import: RosterImport) -> int:
    """Remove the workers (and their memberships) of every committed chunk; the caller holds
    the transaction. Returns how many workers were removed."""
    removed = 0
    with connection.cursor() as cursor:
        for first, last in roster_import.chunks.values_list("first_worker_id", "last_worker_id"):
            cursor.execute(
                f"DELETE FROM {Membership._meta.db_table} WHERE worker_id BETWEEN %s AND %s",
                [first, last],
            )
            cursor.execute(
                f"DELETE FROM {Worker._meta.db_table} WHERE id BETWEEN %s AND %s", [first, last]
            )
            removed += int(cursor.rowcount)
    roster_import.chunks.all().delete()
    return removed
