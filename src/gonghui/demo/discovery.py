"""Finding them more completely, in the demo: the agencies' lists imported this year, the
fuzzy linkage of their rows without an ID number, the built-in screening rules switched on
and run once, and what the unions did with the candidates since.

The story, in the demo's calendar (relative to today):

1. a few days before the *screening day* (about four months ago, and always in this year)
   the province's administrator imports each agency's list through the real import
   (:func:`gonghui.discovery.external.start_list_import` / ``run_list_import``: a CSV with
   Chinese headers, checked by DuckDB, rows written to Parquet where every list import
   writes them); the linkage ties rows without a usable ID number to workers
   (:mod:`.linkrows`);
2. on the screening day the built-in rules are switched on and run as one background job
   through the real service (``screening.start_job`` / ``run_job``), over a snapshot of the
   registry *as it was that day*: the files opened since are left out of it, so a
   household on the 低保 list whose file was opened after the screening was flagged before
   — the discovery that found it;
3. since then the unions worked their candidates: opening a file marks them *filed* (as
   ``outreach.file_opened`` does), others were contacted, found not eligible with a
   reason, or could not be reached; the rest are still new in the worklists.

The services write "now"; the records of steps 1 and 2 are then dated back to their days
(one UPDATE per table). Everything but the list files runs inside the build's transaction.
"""

from __future__ import annotations

import datetime
import os
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.audit.context import acting_as
from gonghui.audit.models import AuditAction, AuditEntry, AuditSource
from gonghui.discovery import external, screening, snapshots
from gonghui.discovery.choices import CandidateStatus, RuleStatus, RunKind
from gonghui.discovery.models import (
    Candidate,
    LinkDecision,
    LinkKind,
    LinkReview,
    ListImport,
    ListRowLink,
    RosterImport,
    RosterImportChunk,
    RosterSource,
    ScreeningJob,
    ScreeningRule,
    ScreeningRun,
)
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.choices import RegionLevel
from gonghui.organisations.models import PATH_SEGMENT, PATH_SEP, Organisation, Region
from gonghui.people.models import Worker

from . import agencies, anhui, linkrows, reset
from .agencies import Days, Row
from .events import stamp
from .writer import Table

DAY = datetime.timedelta(days=1)
STEP = PATH_SEGMENT + len(PATH_SEP)  # characters per level of an organisation path
SCREENING_DAYS_AGO = 120
# Rules that look for households to help, and rules that question a filed household.
FINDING_RULES = ("dibao-no-file", "medical-out-of-pocket", "unemployed-children-in-school")

# Outcomes recorded since the screening day: (status, share, reasons).
FINDING_OUTCOMES = (
    (CandidateStatus.CONTACTED, 0.30, ("",)),
    (
        CandidateStatus.NOT_ELIGIBLE,
        0.12,
        (
            "经入户核实，家庭人均收入高于困难职工认定标准",
            "本人已办理退休，不属于在职会员",
            "家庭拥有非残疾人代步用机动车",
            "已由民政部门兜底保障，本人表示暂不申请",
        ),
    ),
    (CandidateStatus.UNREACHABLE, 0.08, ("电话空号，上门走访未遇", "")),
)
CHECK_OUTCOMES = (
    (CandidateStatus.CONTACTED, 0.35, ("已入户核实，情况说明已存档",)),
    (CandidateStatus.NOT_ELIGIBLE, 0.10, ("核实家庭拥有第二套住房，已提请复核撤档",)),
)


def screening_days(today: datetime.date) -> Days:
    """The screening day about four months ago (never before 21 January this year) and
    the lists imported five days before it (never before 1 January)."""
    year_start = datetime.date(today.year, 1, 1)
    day = max(today - SCREENING_DAYS_AGO * DAY, min(year_start + 20 * DAY, today))
    return Days(today, day, max(year_start, day - 5 * DAY))


def moment(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """A moment of the demo's calendar, never later than now."""
    return min(stamp(day, hour, minute), timezone.now())


@dataclass
class Staff:
    """Who works a union's candidates and link reviews: a case worker of its county (the
    showcase county's own fixed login), else of its city, else of the province."""

    by_path: dict[str, User]
    paths: dict[int, str]
    fallback: User

    @classmethod
    def of(cls, root: Organisation) -> Staff:
        users = (
            User.objects.filter(
                root.subtree_q("organisation__"), is_active=True, role=Role.CASE_WORKER
            )
            .select_related("organisation")
            .order_by("username")
        )
        by_path: dict[str, User] = {}
        for user in users:
            assert user.organisation is not None
            by_path.setdefault(user.organisation.path, user)
        showcase = User.objects.select_related("organisation").get(username="yaohai_caseworker")
        assert showcase.organisation is not None
        by_path[showcase.organisation.path] = showcase
        paths = dict(Organisation.objects.filter(root.subtree_q()).values_list("pk", "path"))
        return cls(by_path, paths, by_path.get(root.path) or showcase)

    def for_path(self, path: str) -> User:
        for length in range(len(path), 0, -STEP):
            found = self.by_path.get(path[:length])
            if found is not None:
                return found
        return self.fallback

    def for_organisation(self, organisation: int) -> User:
        return self.for_path(self.paths.get(organisation, ""))


def build(rng: random.Random, root: Organisation, today: datetime.date, size: int) -> None:
    """The discovery step of the demo (inside the build's transaction), in the order of its
    story; each sub-step draws from its own generator."""
    base = rng.getrandbits(64)

    def rng_for(step: str) -> random.Random:
        return random.Random(f"{base}:{step}")

    days = screening_days(today)
    admin = User.objects.get(username="admin")
    staff = Staff.of(root)
    twins = linkrows.make_twins(rng_for("twins"), root, agencies.scaled(size, 40, 4))
    population = Worker.objects.filter(root.subtree_q("organisation__"), merged_into=None).count()
    people = agencies.People.load(rng_for("people"), root, today)
    with acting_as(admin, AuditSource.CLI):
        imported = import_lists(rng_for("lists"), admin, people, days, size, population)
    listed = {row.person.worker for _imp, rows in imported for row in rows.values()}
    unions = dict(
        Worker.objects.filter(pk__in=[w for w in listed if w is not None]).values_list(
            "pk", "organisation_id"
        )
    )

    def after_import(offset: int) -> datetime.datetime:
        return moment(min(days.imported + offset * DAY, days.screening), 11)

    linkrows.write_links(
        rng_for("linkage"), imported, staff.for_organisation, unions, population, after_import
    )
    linkrows.write_twins(rng_for("dedupe"), twins, staff.for_organisation, population, after_import)
    with acting_as(admin, AuditSource.CLI):
        job = screen(admin, days)
    date_back(job, [imp for imp, _rows in imported], days)
    record_outcomes(rng_for("outcomes"), job, days, staff)


# --- the lists ---------------------------------------------------------------------------------


def counties_by_city() -> dict[str, list[str]]:
    """The province's county codes by city prefix (市辖区, xx01, is no place)."""
    found: dict[str, list[str]] = {}
    counties = Region.objects.filter(
        level=RegionLevel.COUNTY, code__startswith=anhui.PROVINCE_CODE
    ).order_by("code")
    for code in counties.values_list("code", flat=True):
        if not code.endswith("01"):
            found.setdefault(code[:4], []).append(code)
    return found


def import_lists(
    rng: random.Random,
    admin: User,
    people: agencies.People,
    days: Days,
    size: int,
    population: int,
) -> list[tuple[ListImport, dict[int, Row]]]:
    """Each agency's list as a CSV, imported through the real service; the import and the
    truth of its rows by row number (the header is row 1)."""
    budget = [min(max(size // 20_000, 12), 60)]  # rows for the linkage's grey zone
    counties = counties_by_city()
    done = []
    with tempfile.TemporaryDirectory(prefix="gonghui-demo-lists-") as folder:
        for agency in agencies.AGENCIES:
            rows = agency.make(rng, people, days, size)
            if not rows:
                continue
            agencies.add_noise(rng, rows, agency)
            linkrows.blur(rng, rows, agency.columns, population, budget, counties)
            name = agency.file_name.format(year=days.today.year)
            path = agencies.write_csv(rows, agency, Path(folder) / name)
            source = external.list_source(admin, agency.source, agency.kind, create=True)
            period_from, period_to = agency.period(days)
            imp = external.start_list_import(
                admin, source, path, period_from, period_to, agency=agency.agency, file_name=name
            )
            imp = external.run_list_import(imp.pk)
            done.append((imp, dict(enumerate(rows, start=2))))
    return done


# --- the screening ------------------------------------------------------------------------------


def screen(admin: User, days: Days) -> ScreeningJob:
    """The built-in rules switched on and run as one job on the screening day, over the
    registry of that day."""
    for rule in screening.install_builtin_rules():
        if rule.status != RuleStatus.ON:
            screening.change_rule(admin, rule, status=RuleStatus.ON)
    job = screening.start_job(admin, RunKind.RUN, None, days.screening)
    snap = snapshots.take()
    as_of(snap, moment(days.screening, 15))
    job.snapshot = snap.id
    job.save()
    return screening.run_job(job.pk)


def as_of(snap: snapshots.Snapshot, when: datetime.datetime) -> int:
    """The snapshot's files as they stood at ``when``: files opened since left out, and
    each other file in the status it had then (filed files exited since were filed,
    files filed since were still on their way, files rejected or reopened since were
    open or closed). The rules read nothing else that changed since. Returns the files
    left out."""
    day = timezone.localtime(when).date()
    rows = HardshipFile.objects.values_list(
        "pk", "status", "created_at", "filed_on", "exit_on", "updated_at", "reopen_count"
    )
    changed: list[tuple[int, str | None]] = []
    for pk, status, created, filed, exit_on, updated, reopened in rows.iterator(chunk_size=20_000):
        then = status_then(status, created, filed, exit_on, updated, reopened, when, day)
        if then != status:
            changed.append((pk, then))
    target = snap.path / "files.parquet"
    partial = target.with_suffix(".partial")
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE then_ (file_id BIGINT, status VARCHAR)")
        if changed:
            ids, statuses = zip(*changed, strict=True)
            con.execute(
                "INSERT INTO then_ SELECT unnest(?), unnest(?)", [list(ids), list(statuses)]
            )
        con.execute(
            f"COPY (SELECT f.file_id, f.household_id, f.applicant_id, f.organisation_id, "
            f"CASE WHEN t.file_id IS NULL THEN f.status ELSE t.status END AS status "
            f"FROM read_parquet('{target}') f LEFT JOIN then_ t USING (file_id) "
            f"WHERE t.file_id IS NULL OR t.status IS NOT NULL ORDER BY f.file_id) "
            f"TO '{partial}' (FORMAT parquet)"
        )
    finally:
        con.close()
    os.replace(partial, target)
    return sum(1 for _pk, then in changed if then is None)


def status_then(
    status: str,
    created: datetime.datetime,
    filed: datetime.date | None,
    exit_on: datetime.date | None,
    updated: datetime.datetime,
    reopened: int,
    when: datetime.datetime,
    day: datetime.date,
) -> str | None:
    """A file's status at ``when`` from its dates (None: not opened yet)."""
    if created > when:
        return None
    if reopened and updated > when:  # reopened since: it was out, or still filed
        return FileStatus.FILED if exit_on and exit_on > day else FileStatus.CLOSED
    if status == FileStatus.CLOSED and exit_on and exit_on > day:
        return FileStatus.FILED
    if status == FileStatus.REJECTED and updated > when:
        return FileStatus.REVIEWED  # still under way then (any open status excludes it)
    if status == FileStatus.FILED and filed and filed > day:
        return FileStatus.REVIEWED
    return status


def date_back(job: ScreeningJob, imported: Sequence[ListImport], days: Days) -> None:
    """Date the imports and the screening to their days: the services wrote "now"."""
    for index, imp in enumerate(imported):
        began = moment(days.imported, 9, 5 * index)
        ListImport.objects.filter(pk=imp.pk).update(
            created_at=began, started_at=began, finished_at=began + datetime.timedelta(minutes=2)
        )
        RosterSource.objects.filter(pk=imp.source_id).update(created_at=moment(days.imported, 8))
    ran = moment(days.screening, 15)
    ScreeningJob.objects.filter(pk=job.pk).update(
        created_at=ran, started_at=ran, finished_at=ran + datetime.timedelta(minutes=3)
    )
    ScreeningRun.objects.filter(job=job).update(created_at=ran + datetime.timedelta(minutes=2))
    found = ran + datetime.timedelta(minutes=2)
    Candidate.objects.filter(found_by__job=job).update(created_at=found, updated_at=found)


# --- outcomes -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    candidate: int
    organisation_path: str
    before: tuple[str, str]
    status: str
    reason: str
    at: datetime.datetime
    actor: int


def record_outcomes(rng: random.Random, job: ScreeningJob, days: Days, staff: Staff) -> int:
    """Since the screening day: the candidates whose household got a file are *filed*
    (``outreach.file_opened``: the file's number as the reason, by whoever opened it);
    of the others, some contacted, some not eligible with a reason, some unreachable.
    Written set-based, each change with the audit entry ``record_outcome`` leaves."""
    found = moment(days.screening, 15, 2)
    # In an order of their own (the engine returns its rows in any order, so the keys the
    # candidates got are no order for a seeded draw).
    candidates = list(
        Candidate.objects.filter(found_by__job=job)
        .order_by("rule__code", "worker_id")
        .values_list("pk", "worker_id", "organisation__path", "rule__code", "status", "reason")
    )
    opened = files_opened_since(found)
    filed_text = _("File %(number)s opened.")
    done: list[Outcome] = []
    for pk, worker, path, rule, status, reason in candidates:
        if status != CandidateStatus.NEW:
            continue
        file = opened.get(worker)
        if file is not None:
            number, at, actor = file
            text = filed_text % {"number": number}
            done.append(Outcome(pk, path, (status, reason), CandidateStatus.FILED, text, at, actor))
            continue
        picked = pick(rng, FINDING_OUTCOMES if rule in FINDING_RULES else CHECK_OUTCOMES)
        if picked is None:
            continue
        new_status, text = picked
        later = rng.randint(3, max((days.today - days.screening).days, 3))
        at = moment(days.screening + later * DAY, 10, rng.randint(0, 59))
        actor = staff.for_path(path).pk
        done.append(Outcome(pk, path, (status, reason), new_status, text, at, actor))
    write_outcomes(done)
    return len(done)


def pick(
    rng: random.Random, outcomes: Sequence[tuple[str, float, tuple[str, ...]]]
) -> tuple[str, str] | None:
    draw = rng.random()
    for status, share, reasons in outcomes:
        if draw < share:
            return status, rng.choice(reasons)
        draw -= share
    return None


def files_opened_since(when: datetime.datetime) -> dict[int, tuple[str, datetime.datetime, int]]:
    """Worker → (number, moment, who opened it) of the first file opened for them, as
    applicant or registered household member, after ``when``."""
    found: dict[int, tuple[str, datetime.datetime, int]] = {}
    rows = (
        HardshipFile.objects.filter(created_at__gt=when)
        .order_by("created_at", "pk")
        .values_list("applicant_id", "household__members__worker_id", "number", "created_at",
                     "created_by_id")
    )  # fmt: skip
    for applicant, member, number, at, actor in rows:
        for worker in (applicant, member):
            if worker is not None:
                found.setdefault(worker, (number, at, actor))
    return found


AUDIT_COLUMNS = ("at", "actor_id", "source", "action", "model", "object_id", "org_path", "changes")


def write_outcomes(done: Sequence[Outcome]) -> None:
    """One UPDATE per candidate, sent as one batch (a CASE over thousands of keys, as
    ``bulk_update`` writes it, takes the database seconds to plan)."""
    quote = connection.ops.quote_name
    table = quote(Candidate._meta.db_table)
    sql = (
        f"UPDATE {table} SET {quote('status')} = %s, {quote('reason')} = %s, "
        f"{quote('updated_at')} = %s WHERE {quote('id')} = %s"
    )
    moment_of = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(o.status, o.reason, moment_of(o.at), o.candidate) for o in done])
    label = Candidate._meta.label_lower
    rows = [
        (o.at, o.actor, AuditSource.WEB, AuditAction.UPDATE, label, str(o.candidate),
         o.organisation_path, _changes(o))
        for o in done
    ]  # fmt: skip
    Table(AuditEntry, AUDIT_COLUMNS).write(rows)


def _changes(outcome: Outcome) -> dict[str, Any]:
    status, reason = outcome.before
    changes: dict[str, Any] = {"status": [status, outcome.status]}
    if reason != outcome.reason:
        changes["reason"] = [reason, outcome.reason]
    return changes


# --- what there is, and removing it ---------------------------------------------------------------


def counts_text(root: Organisation) -> list[str]:
    imports = ListImport.objects.filter(root.subtree_q("organisation__"), status="done")
    rows = sum(imports.values_list("rows_loaded", flat=True))
    without = sum(imports.values_list("rows_without_id", flat=True))
    links = Counter(
        ListRowLink.objects.filter(list_import__in=imports).values_list("method", flat=True)
    )
    reviews = LinkReview.objects.filter(root.subtree_q("organisation__"))
    pending = Counter(reviews.filter(decision=LinkDecision.PENDING).values_list("kind", flat=True))
    candidates = Candidate.objects.filter(root.subtree_q("organisation__"))
    statuses = Counter(candidates.values_list("status", flat=True))
    outcome = ", ".join(f"{s} {statuses[s]:,}" for s in CandidateStatus.values if statuses[s])
    rules = ScreeningRule.objects.filter(status=RuleStatus.ON).count()
    job = ScreeningJob.objects.filter(root.subtree_q("organisation__")).order_by("-pk").first()
    ran = f" as of {job.as_of}" if job else ""
    return [
        f"External lists {imports.count()}: {rows:,} rows, {without:,} without a valid ID "
        f"number; linked {links['auto']:,} by the model and {links['reviewed']:,} by "
        f"reviewers; waiting for review {pending[LinkKind.LINK]:,} rows and "
        f"{pending[LinkKind.DEDUPE]:,} workers registered twice",
        f"Screening: {rules} rules on, run{ran}: {sum(statuses.values()):,} candidates: {outcome}",
    ]


def wipe(root: Organisation) -> dict[str, int]:
    """Remove the demo's discovery records (before its workers go) and the list files."""
    tree = Organisation.objects.filter(root.subtree_q())
    workers = Worker.objects.filter(organisation__in=tree)
    imports = ListImport.objects.filter(organisation__in=tree)
    rosters = RosterImport.objects.filter(organisation__in=tree)
    folders = [ListImport(pk=pk).work_dir for pk in imports.values_list("pk", flat=True)] + [
        RosterImport(pk=pk).work_dir for pk in rosters.values_list("pk", flat=True)
    ]
    gone: dict[str, int] = {}
    gone["Candidate"] = reset.delete_rows(
        Candidate.objects.filter(Q(organisation__in=tree) | Q(worker__in=workers))
    )
    gone["ScreeningRun"] = reset.delete_rows(ScreeningRun.objects.filter(organisation__in=tree))
    gone["ScreeningJob"] = reset.delete_rows(ScreeningJob.objects.filter(organisation__in=tree))
    gone["LinkReview"] = reset.delete_rows(
        LinkReview.objects.filter(
            Q(organisation__in=tree) | Q(list_import__in=imports) | Q(worker__in=workers)
        )
    )
    gone["ListRowLink"] = reset.delete_rows(
        ListRowLink.objects.filter(Q(list_import__in=imports) | Q(worker__in=workers))
    )
    gone["ListImport"] = reset.delete_rows(imports)
    gone["RosterImportChunk"] = reset.delete_rows(
        RosterImportChunk.objects.filter(roster_import__in=rosters)
    )
    gone["RosterImport"] = reset.delete_rows(rosters)
    gone["RosterSource"] = reset.delete_rows(RosterSource.objects.filter(organisation__in=tree))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return gone


MODELS = (RosterSource, ListImport, ListRowLink, LinkReview, ScreeningJob, ScreeningRun, Candidate)
