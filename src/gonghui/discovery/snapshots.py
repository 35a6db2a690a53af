"""One consistent snapshot of everything a screening run reads, pinned for the whole run.

    take()               # registry, links and the finished lists, as of one moment
    open_snapshot(id)    # a snapshot taken earlier (a resumed job reads the one it began with)
    remove(id)           # gone when the run or job that took it is done
    prune()              # leftovers of crashed runs

**Why.** A rule joins the registry with the lists; if the registry tables were read at
different moments while a roster import commits its chunks (or a list is rolled back, or a
reviewer links a row), one run could see a worker in ``members`` but not in
``household_members``, or a list row whose file is gone. So:

- the database is read in *one* read transaction (PostgreSQL: ``REPEATABLE READ, READ
  ONLY``; SQLite: a deferred transaction, which under WAL reads one state and lets the
  importers write meanwhile): the registry tables, the links and which list imports are
  finished all come from the same moment;
- the files are written into a new directory ``registry/.<id>.partial`` that is renamed to
  ``registry/<id>`` only when whole (a rename is atomic), and never written again; the
  rows of each finished list are hard-linked into it (a rolled-back list's file may be
  deleted, the snapshot's link keeps the rows);
- the run pins the snapshot's id, records it on its :class:`ScreeningRun` and its job, and
  reads nothing else. A later snapshot is another directory: a refresh during a run does
  not touch it.

The snapshot holds ID numbers: it is removed when its run (or job) is done; a job that
failed keeps it for its resume (up to :data:`KEEP_FAILED`).
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.errors import DomainError
from gonghui.hardship.models import HardshipFile, IncomeReading
from gonghui.people.models import HouseholdMember, Worker

from . import lists, rules
from .choices import ImportStatus, JobStatus
from .models import LinkDecision, LinkKind, LinkReview, ListImport, ListRowLink, work_root

MANIFEST = "manifest.json"
BATCH = 100_000  # rows per insert into DuckDB while writing a table
KEEP_FAILED = datetime.timedelta(days=7)  # a failed job's snapshot, kept for its resume
STALE = datetime.timedelta(hours=6)  # an unpinned snapshot older than this is a leftover


@dataclass(frozen=True)
class Snapshot:
    id: str
    path: Path
    taken_at: str
    tables: dict[str, list[Path]]  # table name (rules.STORED) → its files
    lists: dict[str, list[int]] = field(default_factory=dict)  # kind → import ids read
    rows: dict[str, int] = field(default_factory=dict)  # registry table → rows

    def imports_read(self, names: Iterable[str]) -> list[int]:
        """The list imports behind the tables a rule reads."""
        kinds = {rules.LIST_TABLES[n] for n in names if n in rules.LIST_TABLES}
        return sorted(pk for kind in kinds for pk in self.lists.get(kind, []))


def root() -> Path:
    return work_root() / "registry"


def _new_id() -> str:
    # Sortable by time, unique across processes.
    return timezone.now().strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


# --- reading the database at one moment ----------------------------------------------------


@contextmanager
def consistent_read() -> Iterator[None]:
    """Every query inside reads the same state of the database."""
    if connection.in_atomic_block:
        # The caller's transaction (a test, a larger operation) already reads one state.
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    if connection.vendor == "sqlite":
        # Django opens SQLite transactions with BEGIN IMMEDIATE (settings), which would hold
        # the write lock for the whole snapshot and stop imports; a deferred transaction
        # under WAL reads one state and blocks nobody.
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("COMMIT")
        return
    with transaction.atomic():
        yield


def _stream(sql: str, params: Iterable[Any] = ()) -> Iterator[tuple]:
    # A server-side cursor on PostgreSQL: memory stays one batch whatever the registry.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, list(params))
        while rows := cursor.fetchmany(50_000):
            yield from rows


def _fen(value: Any) -> int | None:
    return None if value is None else int(value * 100)


def _write(con: Any, target: Path, columns: list[tuple[str, str]], rows: Iterable[tuple]) -> int:
    """Rows (streamed, in batches) into a Parquet file of the given schema; the count."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE t ({', '.join(f'{n} {s}' for n, s in columns)})")
    batch: list[tuple] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            count += _insert(con, len(columns), batch)
            batch = []
    count += _insert(con, len(columns), batch)
    con.execute(f"COPY t TO '{target}' (FORMAT parquet)")
    return count


def _insert(con: Any, width: int, rows: list[tuple]) -> int:
    if rows:
        columns = [list(values) for values in zip(*rows, strict=True)]
        con.execute(f"INSERT INTO t SELECT {', '.join(['unnest(?)'] * width)}", columns)
    return len(rows)


def _registry_rows() -> dict[str, Iterable[tuple]]:
    worker, member = Worker._meta.db_table, HouseholdMember._meta.db_table
    files = HardshipFile._meta.db_table
    readings = IncomeReading.objects.values_list(
        "id", "file_id", "month", "per_capita_income", "living_standard"
    ).order_by()
    return {
        # A record merged into another (people/merge.py) keeps its ID number and is the
        # survivor under it: a list row with either number is the survivor's row, and the
        # hidden duplicate is never flagged.
        "members": _stream(
            f"SELECT w.id, w.id_number, w.organisation_id, h.household_id "
            f"FROM {worker} w LEFT JOIN {member} h ON h.worker_id = w.id "
            f"WHERE w.merged_into_id IS NULL "
            f"UNION ALL SELECT s.id, w.id_number, s.organisation_id, h.household_id "
            f"FROM {worker} w JOIN {worker} s ON s.id = w.merged_into_id "
            f"LEFT JOIN {member} h ON h.worker_id = s.id"
        ),
        "household_members": (
            (h, w, n or None, r, s, b)
            for h, w, n, r, s, b in _stream(
                f"SELECT household_id, worker_id, id_number, relation, schooling, birth_date "
                f"FROM {member}"
            )
        ),
        "files": _stream(
            f"SELECT id, household_id, applicant_id, organisation_id, status FROM {files}"
        ),
        "income_readings": (
            (i, f, m, _fen(p), _fen(s)) for i, f, m, p, s in readings.iterator(chunk_size=10_000)
        ),
    }


def _link_rows(import_ids: list[int]) -> Iterable[tuple]:
    """The confirmed links of the finished lists' rows: the model's links above its
    threshold and reviewers' "same person" (a "different people" decision removes the
    link, a pending pair is no link), with the review that decided a reviewed one."""
    review = LinkReview.objects.filter(
        kind=LinkKind.LINK,
        list_import_id=OuterRef("list_import_id"),
        row_no=OuterRef("row_no"),
        worker_id=OuterRef("worker_id"),
        decision=LinkDecision.SAME_PERSON,
    ).values("pk")[:1]
    found = (
        ListRowLink.objects.filter(list_import_id__in=import_ids)
        .annotate(
            review_id=Subquery(review),
            # A link to a record merged since is a link to the record that stayed.
            person=Coalesce("worker__merged_into_id", "worker_id"),
            number=Coalesce("worker__merged_into__id_number", "worker__id_number"),
        )
        .order_by("list_import_id", "row_no")
        .values_list(
            "list_import_id",
            "row_no",
            "person",
            "number",
            "method",
            "probability",
            "review_id",
        )
    )
    return found.iterator(chunk_size=10_000)


# --- taking, opening, removing ---------------------------------------------------------------


def take() -> Snapshot:
    """A new snapshot: the registry, the links and the finished lists at one moment."""
    snapshot_id = _new_id()
    partial = root() / f".{snapshot_id}.partial"
    partial.mkdir(parents=True)
    try:
        manifest = _fill(partial, snapshot_id)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.rename(partial, root() / snapshot_id)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    prune()
    return open_snapshot(snapshot_id)


def _fill(folder: Path, snapshot_id: str) -> dict[str, Any]:
    tables: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        with consistent_read():
            taken_at = timezone.now().isoformat()
            for name, rows in _registry_rows().items():
                counts[name] = _write(
                    con, folder / f"{name}.parquet", rules.REGISTRY_TABLES[name], rows
                )
                tables[name] = [f"{name}.parquet"]
            done = list(
                ListImport.objects.filter(status=ImportStatus.DONE, kind__in=lists.LIST_KINDS)
                .order_by("pk")
                .values_list("pk", "kind")
            )
            counts[rules.LINKS] = _write(
                con,
                folder / f"{rules.LINKS}.parquet",
                rules.LINK_COLUMNS,
                _link_rows([pk for pk, _kind in done]),
            )
            if counts[rules.LINKS]:  # no file, no join: see rules.list_view_sql
                tables[rules.LINKS] = [f"{rules.LINKS}.parquet"]
    finally:
        con.close()
    read: dict[str, list[int]] = {}
    for pk, kind in done:
        source = lists.rows_path(ListImport(pk=pk).work_dir)
        target = folder / "lists" / kind / f"{pk:08d}.parquet"
        if _pin(source, target):
            read.setdefault(kind, []).append(pk)
            tables.setdefault(rules.list_table(kind), []).append(
                target.relative_to(folder).as_posix()
            )
    return {
        "id": snapshot_id,
        "taken_at": taken_at,
        "tables": tables,
        "lists": read,
        "rows": counts,
    }


def _pin(source: Path, target: Path) -> bool:
    """The list's rows into the snapshot: a hard link (no copy, and the rows stay if the
    list is rolled back meanwhile), a copy where links are not possible. False when the
    file is gone (rolled back since the database was read)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileNotFoundError:
        return False
    except OSError:
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            return False
    return True


def open_snapshot(snapshot_id: str) -> Snapshot:
    folder = root() / snapshot_id
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DomainError(
            _("The snapshot %(id)s is no longer there.") % {"id": snapshot_id}, "snapshot"
        ) from None
    return Snapshot(
        id=snapshot_id,
        path=folder,
        taken_at=str(manifest.get("taken_at", "")),
        tables={name: [folder / p for p in paths] for name, paths in manifest["tables"].items()},
        lists={kind: [int(pk) for pk in pks] for kind, pks in manifest.get("lists", {}).items()},
        rows=dict(manifest.get("rows", {})),
    )


def exists(snapshot_id: str) -> bool:
    return bool(snapshot_id) and (root() / snapshot_id / MANIFEST).exists()


def remove(snapshot_id: str) -> None:
    if snapshot_id and "/" not in snapshot_id and not snapshot_id.startswith("."):
        shutil.rmtree(root() / snapshot_id, ignore_errors=True)


def pinned() -> set[str]:
    """Snapshots that unfinished jobs will read again when they are resumed."""
    from .models import ScreeningJob

    since = timezone.now() - KEEP_FAILED
    return set(
        ScreeningJob.objects.filter(
            status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED],
            created_at__gte=since,
        )
        .exclude(snapshot="")
        .values_list("snapshot", flat=True)
    )


def prune(now: datetime.datetime | None = None) -> list[str]:
    """Remove the leftovers of runs that crashed: snapshots no unfinished job pins, older
    than :data:`STALE` (a run of another process may still be reading a younger one)."""
    folder = root()
    if not folder.exists():
        return []
    keep = pinned()
    limit = (now or timezone.now()).timestamp() - STALE.total_seconds()
    removed = []
    for entry in folder.iterdir():
        name = entry.name
        if name in keep or not entry.is_dir() or entry.stat().st_mtime > limit:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(name)
    return removed
