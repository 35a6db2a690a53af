"""Fuzzy linkage in the Django database (issue 4, point 4): the one set of functions the
pages, the API and the command line call around the Splink engine (:mod:`.linkage`).

    run_linkage(user, list_import)       # link a list's rows without a usable ID number
    run_dedupe(user)                     # workers registered twice, in the user's subtree
    decide(user, review, decision, note) # a reviewer's decision on one pair
    to_merge(user)                       # workers decided "same person", not yet merged
    labels_for(list_import)              # the decided pairs, as Splink's labels

**The registry side.** The engine reads Parquet; the workers live in the Django database,
which DuckDB cannot read. :func:`export_registry` streams the user's subtree
(``Worker.objects.for_user(user)``, ``values_list`` in chunks, one Arrow batch at a time)
into ``registry.parquet`` in the run's folder: memory stays one chunk whatever the size of
the registry. No existing file serves: the roster imports' Parquet files hold only the
rows each import loaded (not workers registered on the pages, nor later changes of phone
or union), and the screening snapshot (``screening.snapshot``) keeps no name, phone or
region. The export is deleted when the run ends (names and phones of the registry are not
left lying beside the database); the engine's outputs (ids and scores) and ``model.json``
stay in ``<list import>/linkage/``.

**The list side.** Only rows that the ID number cannot link go to the engine: rows without
a valid number (``id_number`` empty; the number as written is kept in ``id_given`` and is
still compared, typo by typo) and rows whose valid number is not in the exported registry
(a mistyped number that still passes the check digit). Rows whose number is a worker's are
linked by that number already; the screening rules join them on it.

**Loading.** ``links.parquet`` becomes :class:`ListRowLink` rows (method *auto*) and
``review.parquet`` :class:`LinkReview` rows (the queue of the worker's union), with
``bulk_create`` in batches, in one transaction. A run *replaces* its list's automatic links
and pending reviews and never touches a decision: a row a reviewer linked stays linked and
leaves the queue, a pair decided "different people" is neither linked nor asked again.
Every run leaves one audit entry (what it read, linked and queued, its ``run_key``); each
decision is audited by the models themselves.

**Workers registered twice.** "Same person" on a dedupe pair links nothing by itself: the
two records are merged by someone who edits people (``people.merge.merge_workers``, from the
review page or ``gonghui workers merge``); :func:`to_merge` is the list waiting for that.
Once merged, the pair's decision can no longer change.

Who: administrators (``IMPORT_ROSTERS``) run the linkage, case workers and reviewers
(``MANAGE_FILED``) decide, each in their subtree.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.errors import DomainError, NotAllowed
from gonghui.people.models import Worker

from . import linkage, lists
from .choices import ImportStatus
from .models import (
    LinkDecision,
    LinkKind,
    LinkMethod,
    LinkReview,
    ListImport,
    ListRowLink,
    work_root,
)
from .services import _source, fingerprint

CHUNK = 50_000  # workers per batch of the export
BATCH = 2_000  # rows per INSERT of the load
THRESHOLDS = linkage.Thresholds()

REGISTRY_COLUMNS = (
    ("worker_id", "id"),
    ("id_number", "id_number"),
    ("name", "name"),
    ("sex", "sex"),
    ("birth_date", "birth_date"),
    ("phone", "phone"),
    ("region_id", "region_id"),
    ("organisation_id", "organisation_id"),
)


@dataclass
class RunReport:
    kind: str
    run_key: str
    registry_rows: int = 0
    compared_rows: int = 0  # list rows (link) or workers (dedupe) given to the engine
    pairs: int = 0
    links: int = 0  # ListRowLink rows written (link) or pairs at or above the threshold
    reviews: int = 0  # LinkReview rows written
    kept_decided: int = 0  # pairs a person decided, left as they were
    replaced_links: int = 0  # automatic links of the previous run, deleted
    replaced_reviews: int = 0  # pending reviews of the previous run, deleted


# --- roles --------------------------------------------------------------------------------


def may_run(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.can(Capability.IMPORT_ROSTERS))


def may_decide(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.can(Capability.MANAGE_FILED))


def _require_runner(user: Any) -> None:
    if not may_run(user):
        raise NotAllowed(_("Your role may not run the linkage."))


# --- the registry as Parquet --------------------------------------------------------------


def export_registry(user: Any, target: Path, chunk: int = CHUNK) -> int:
    """The workers of the user's subtree as Parquet, streamed chunk by chunk; the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("worker_id", pa.int64()),
            ("id_number", pa.string()),
            ("name", pa.string()),
            ("sex", pa.string()),
            ("birth_date", pa.date32()),
            ("phone", pa.string()),
            ("region_id", pa.string()),
            ("organisation_id", pa.int64()),
        ]
    )
    rows = (
        Worker.objects.for_user(user)
        .order_by("pk")
        .values_list(*(field for _name, field in REGISTRY_COLUMNS))
        .iterator(chunk_size=chunk)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    count = 0
    with pq.ParquetWriter(partial, schema) as writer:
        for batch in _batches(rows, chunk):
            columns = [list(values) for values in zip(*batch, strict=True)]
            columns[5] = [phone or None for phone in columns[5]]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            count += len(batch)
    partial.replace(target)
    return count


def _batches(rows: Any, size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- running ------------------------------------------------------------------------------


def linkage_dir(imp: ListImport) -> Path:
    return imp.work_dir / "linkage"


def run_linkage(
    user: Any,
    list_import: ListImport,
    *,
    population: int | None = None,
    train: bool = False,
    thresholds: linkage.Thresholds = THRESHOLDS,
    seed: int = linkage.SEED,
) -> RunReport:
    """Link the rows of ``list_import`` that their ID number does not link to the workers
    of the user's subtree; load the links and the review queue (see the module's text).

    ``population`` is how many workers the registry stands for (the prior; default: the
    workers exported). With ``train`` the model is estimated on the data, its m
    probabilities from the pairs reviewers decided when there are any."""
    _require_runner(user)
    imp = ListImport.objects.for_user(user).filter(pk=list_import.pk).first()
    if imp is None:
        raise NotAllowed(_("This list belongs to another union."))
    rows = lists.rows_path(imp.work_dir)
    if imp.status != ImportStatus.DONE or not rows.exists():
        raise DomainError(_("Only a finished import of a list can be linked."), "list_import")
    folder = linkage_dir(imp)
    registry = folder / "registry.parquet"
    records = folder / "records.parquet"
    try:
        registry_rows = export_registry(user, registry)
        compared = _records(rows, registry, records)
        labels = labels_for(imp) if train else []
        params = {
            "population": population,
            "train": train,
            "labels": len(labels),
            "thresholds": asdict(thresholds),
            "seed": seed,
        }
        run_key = _run_key(imp.sha256, registry, params)
        report = RunReport(LinkKind.LINK, run_key, registry_rows, compared)
        result = linkage.link(
            registry,
            records,
            folder,
            train=train,
            population=population,
            thresholds=thresholds,
            seed=seed,
            labels=labels or None,
            registry_id="worker_id",
            records_id="row_no",
        )
        report.pairs = result.pairs
        with transaction.atomic():
            ListImport.objects.select_for_update().filter(pk=imp.pk).first()
            _load_links(imp, result, report)
            _load_reviews(LinkKind.LINK, imp, result, registry, report)
            _audit(user, report, imp, params)
    finally:
        registry.unlink(missing_ok=True)
        records.unlink(missing_ok=True)
    return report


def run_dedupe(
    user: Any,
    *,
    population: int | None = None,
    thresholds: linkage.Thresholds = THRESHOLDS,
    seed: int = linkage.SEED,
) -> RunReport:
    """Pairs of workers in the user's subtree who are likely one person, into the review
    queue (every pair from ``review`` up: merging two workers is a person's decision)."""
    _require_runner(user)
    folder = work_root() / "dedupe" / f"{user.organisation_id:08d}"
    registry = folder / "registry.parquet"
    try:
        registry_rows = export_registry(user, registry)
        params = {"population": population, "thresholds": asdict(thresholds), "seed": seed}
        run_key = _run_key("dedupe", registry, params)
        report = RunReport(LinkKind.DEDUPE, run_key, registry_rows, registry_rows)
        result = linkage.dedupe(
            registry, folder, population=population, thresholds=thresholds, seed=seed
        )
        report.pairs, report.links = result.pairs, result.links
        with transaction.atomic():
            _load_reviews(LinkKind.DEDUPE, None, result, registry, report)
            _audit(user, report, None, params)
    finally:
        registry.unlink(missing_ok=True)
    return report


def _records(rows: Path, registry: Path, target: Path) -> int:
    """The list rows the ID number does not link, as the engine's input; their count."""
    con = duckdb.connect()
    try:
        con.execute(
            f"""COPY (
                SELECT r.row_no, r.id_number, r.id_given, r.name, r.birth_date, r.phone,
                       r.region_id
                FROM read_parquet('{rows}') r
                WHERE r.id_number IS NULL OR r.id_number NOT IN (
                    SELECT id_number FROM read_parquet('{registry}'))
                ORDER BY r.row_no
            ) TO '{target}' (FORMAT parquet)"""
        ).fetchall()
        return int(con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0])
    finally:
        con.close()


def _run_key(what: str, registry: Path, params: dict[str, Any]) -> str:
    """The same inputs and settings give the same key (and, the engine being seeded, the
    same pairs)."""
    digest, _size = fingerprint(registry)
    text = json.dumps([what, digest, params], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _fetch(sql: str, params: Sequence[Any] = ()) -> Iterator[tuple]:
    con = duckdb.connect()
    try:
        cursor = con.execute(sql, list(params))
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    finally:
        con.close()


def _level_columns(path: Path) -> list[str]:
    con = duckdb.connect()
    try:
        names = [
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        ]
    finally:
        con.close()
    return [n for n in names if n.startswith("level_")]


def _load_links(imp: ListImport, result: linkage.Result, report: RunReport) -> None:
    """The model's links replace the earlier automatic ones; a reviewer's link stays, and a
    pair decided "different people" is not linked."""
    reviewed = set(
        ListRowLink.objects.filter(list_import=imp, method=LinkMethod.REVIEWED).values_list(
            "row_no", flat=True
        )
    )
    refused = set(
        LinkReview.objects.filter(
            kind=LinkKind.LINK, list_import=imp, decision=LinkDecision.DIFFERENT_PEOPLE
        ).values_list("row_no", "worker_id")
    )
    report.replaced_links = _delete(
        ListRowLink.objects.filter(list_import=imp, method=LinkMethod.AUTO)
    )
    batch: list[ListRowLink] = []
    sql = "SELECT row_no, worker_id, match_probability FROM read_parquet(?) ORDER BY row_no"
    for row_no, worker_id, probability in _fetch(sql, [str(result.links_path)]):
        if row_no in reviewed or (row_no, worker_id) in refused:
            continue
        batch.append(
            ListRowLink(
                list_import=imp,
                row_no=row_no,
                worker_id=worker_id,
                probability=probability,
                method=LinkMethod.AUTO,
            )
        )
        if len(batch) == BATCH:
            report.links += len(ListRowLink.objects.bulk_create(batch))
            batch = []
    report.links += len(ListRowLink.objects.bulk_create(batch))


def _load_reviews(
    kind: str,
    imp: ListImport | None,
    result: linkage.Result,
    registry: Path,
    report: RunReport,
) -> None:
    """The engine's queue replaces the pending reviews of the list (or of the subtree's
    dedupe); decided pairs stay, and a row a reviewer linked leaves the queue."""
    existing = LinkReview.objects.filter(kind=kind, list_import=imp)
    if kind == LinkKind.DEDUPE:
        # Only the pairs of the workers this run compared (a county re-runs its subtree).
        existing = existing.filter(worker_id__in=_ids(registry))
    report.replaced_reviews = _delete(existing.filter(decision=LinkDecision.PENDING))
    decided = set(existing.values_list("row_no", "worker_id", "other_worker_id"))
    report.kept_decided = len(decided)
    settled: set[int] = set()
    if imp is not None:
        settled = set(
            ListRowLink.objects.filter(list_import=imp, method=LinkMethod.REVIEWED).values_list(
                "row_no", flat=True
            )
        )
    levels = _level_columns(result.review_path)
    level_sql = "".join(f", r.{c}" for c in levels)
    if kind == LinkKind.LINK:
        ids = "r.row_no, r.worker_id, CAST(NULL AS BIGINT), r.rank"
        order = "r.row_no, r.rank"
        queued = [str(result.review_path)]
    else:
        ids = "CAST(NULL AS BIGINT), r.worker_id, r.other_worker_id, 1"
        order = "r.worker_id, r.other_worker_id"
        # Pairs above the link threshold too: merging two workers is a person's decision.
        queued = [str(result.links_path), str(result.review_path)]
    sql = (
        f"SELECT {ids}, g.organisation_id, r.match_probability, r.match_weight, r.agreed"
        f"{level_sql} FROM read_parquet(?) r "
        f"JOIN read_parquet(?) g ON g.worker_id = r.worker_id ORDER BY {order}"
    )
    batch: list[LinkReview] = []
    for row in _fetch(sql, [queued, str(registry)]):
        row_no, worker_id, other_id, rank, organisation_id, probability, weight, agreed = row[:8]
        if (row_no, worker_id, other_id) in decided or row_no in settled:
            continue
        batch.append(
            LinkReview(
                kind=kind,
                list_import=imp,
                row_no=row_no,
                worker_id=worker_id,
                other_worker_id=other_id,
                organisation_id=organisation_id,
                rank=rank,
                match_probability=probability,
                match_weight=weight,
                agreed=list(agreed or []),
                levels={
                    name[len("level_") :]: value
                    for name, value in zip(levels, row[8:], strict=True)
                    if value is not None
                },
                run_key=report.run_key,
            )
        )
        if len(batch) == BATCH:
            report.reviews += len(LinkReview.objects.bulk_create(batch))
            batch = []
    report.reviews += len(LinkReview.objects.bulk_create(batch))


def _delete(queryset: Any) -> int:
    """Delete in one statement, without an audit entry per row: the run's one entry records
    what it replaced (the rows were the previous run's output, recorded the same way)."""
    return int(queryset._raw_delete(queryset.db))


def _ids(registry: Path) -> list[int]:
    return [r[0] for r in _fetch("SELECT worker_id FROM read_parquet(?)", [str(registry)])]


def _audit(user: Any, report: RunReport, imp: ListImport | None, params: dict[str, Any]) -> None:
    AuditEntry.objects.create(
        actor=user,
        source=_source(),
        action=AuditAction.UPDATE,
        model=LinkReview._meta.label_lower,
        object_id=f"{report.kind}:{imp.pk if imp else user.organisation_id}:{report.run_key[:16]}",
        org_path=user.organisation.path,
        changes={"list_import": imp.pk if imp else None, **asdict(report), **params},
    )


# --- decisions ----------------------------------------------------------------------------

DECISIONS = (LinkDecision.SAME_PERSON, LinkDecision.DIFFERENT_PEOPLE, LinkDecision.UNSURE)


def decide(user: Any, review: LinkReview, decision: str, note: str = "") -> LinkReview:
    """A reviewer's decision on one pair (audited). "Same person" on a list row links the
    row to the worker (method *reviewed*: no later run replaces it) and takes the row's
    other candidates out of the queue; a changed mind undoes the link it made."""
    if not may_decide(user):
        raise NotAllowed(_("Your role may not decide on linkage."))
    if decision not in DECISIONS:
        raise DomainError(_("Choose same person, different people or unsure."), "decision")
    note = (note or "").strip()
    with transaction.atomic():
        found = (
            LinkReview.objects.for_user(user)
            .select_for_update()
            .select_related("organisation")
            .filter(pk=review.pk)
            .first()
        )
        if found is None:
            raise NotAllowed(_("This pair is in the queue of another union."))
        if found.kind == LinkKind.DEDUPE and _merged(found):
            raise DomainError(
                _("These two records are merged: the decision can no longer change."),
                "decision",
            )
        before = found.decision
        found.decision, found.note = decision, note
        found.decided_by, found.decided_at = user, timezone.now()
        found.save()
        if found.kind == LinkKind.LINK and found.list_import_id is not None:
            _apply_link(found, before)
    return found


def _merged(review: LinkReview) -> bool:
    ids = [review.worker_id, review.other_worker_id]
    return Worker.objects.filter(pk__in=ids, merged_into__in=ids).exists()


def to_merge(user: Any) -> QuerySet[LinkReview]:
    """Pairs of the user's subtree decided "same person" whose records are both still in
    the registry: the work left for someone who edits people."""
    return LinkReview.objects.for_user(user).filter(
        kind=LinkKind.DEDUPE,
        decision=LinkDecision.SAME_PERSON,
        worker__merged_into__isnull=True,
        other_worker__merged_into__isnull=True,
    )


def _apply_link(review: LinkReview, before: str) -> None:
    list_id, row_no = review.list_import_id, review.row_no
    assert list_id is not None and row_no is not None  # a link review names its row
    link = (
        ListRowLink.objects.select_related("worker__organisation")
        .filter(list_import_id=list_id, row_no=row_no)
        .first()
    )
    if review.decision == LinkDecision.SAME_PERSON:
        if link is None:
            link = ListRowLink(list_import_id=list_id, row_no=row_no)
        link.worker_id = review.worker_id
        link.probability = review.match_probability
        link.method = LinkMethod.REVIEWED
        link.save()
        for other in LinkReview.objects.filter(
            kind=LinkKind.LINK,
            list_import_id=review.list_import_id,
            row_no=review.row_no,
            decision=LinkDecision.PENDING,
        ).exclude(pk=review.pk):
            other.delete()
    elif (
        link is not None
        and link.worker_id == review.worker_id
        and (review.decision == LinkDecision.DIFFERENT_PEOPLE or before == LinkDecision.SAME_PERSON)
    ):
        # "Different people" (or "unsure" after "same person"): the row is not this worker
        # as far as anyone knows, whoever linked it.
        link.delete()


# --- labels -------------------------------------------------------------------------------


def labels_for(list_import: ListImport) -> list[dict[str, Any]]:
    """The pairs reviewers decided on this list, in Splink's pairwise-labels format (the
    registry is dataset ``registry``, the list's rows ``records``): 1.0 same person, 0.0
    different people; "unsure" teaches nothing and is left out."""
    score = {LinkDecision.SAME_PERSON: 1.0, LinkDecision.DIFFERENT_PEOPLE: 0.0}
    decided = LinkReview.objects.filter(
        kind=LinkKind.LINK, list_import=list_import, decision__in=list(score)
    ).order_by("row_no", "worker_id")
    return [
        {
            "unique_id_l": worker_id,
            "source_dataset_l": linkage.REGISTRY,
            "unique_id_r": row_no,
            "source_dataset_r": linkage.RECORDS,
            "clerical_match_score": score[LinkDecision(decision)],
        }
        for worker_id, row_no, decision in decided.values_list("worker_id", "row_no", "decision")
    ]


# --- what the pages show ------------------------------------------------------------------


def list_rows(imp: ListImport, row_nos: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Rows of a list by number, as read from its Parquet file (the rows are not in the
    database): name, ID number (valid or as written), birth date, phone, region."""
    path = lists.rows_path(imp.work_dir)
    if not row_nos or not path.exists():
        return {}
    sql = (
        "SELECT row_no, name, coalesce(id_number, id_given) AS id_number, birth_date, phone, "
        "region_id FROM read_parquet(?) WHERE row_no IN (SELECT unnest(?))"
    )
    found: dict[int, dict[str, Any]] = {}
    for row_no, name, number, birth, phone, region in _fetch(sql, [str(path), list(row_nos)]):
        found[row_no] = {
            "row_no": row_no,
            "name": name or "",
            "id_number": number or "",
            "birth_date": birth if isinstance(birth, datetime.date) else None,
            "phone": phone or "",
            "region": region or "",
        }
    return found


__all__ = [
    "RunReport",
    "decide",
    "export_registry",
    "labels_for",
    "list_rows",
    "may_decide",
    "may_run",
    "run_dedupe",
    "run_linkage",
    "to_merge",
]
