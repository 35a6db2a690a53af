"""Screening: run the rules over a snapshot of the analytical store, on DuckDB in process or
on Spark, and turn what they find into :class:`Candidate` rows.

    start_job(user, kind, rule, as_of)  # a dry run or run (one rule, or all on) to do
    run_job(job_id, progress)           # do it (a background process, the CLI, or inline)
    dry_run(user, rule)                 # what a run would add and drop, per organisation
    run_rule(user, rule)                # the same, applied: candidates added, changed, dropped
    find(rule, as_of, engine, tables)   # worker → (union, evidence): what both engines agree on
    check_rule(definition, parameters)  # compiled for both engines, or why not
    create_rule / change_rule           # rules are province policy (see below)

The tables a rule reads are the Parquet files of one snapshot (:mod:`.snapshots`): the
registry, the confirmed links of list rows to workers, and the rows of every finished
list, all as of one moment; a run pins its snapshot and records it. DuckDB reads them in
process; Spark reads the same files from shared storage (``GONGHUI_SPARK_DATA_URL`` names
the discovery directory as the cluster sees it).

**Who.** Rules are province-wide policy data, like the living standards: only a user of
the root organisation (the province federation) with ``EDIT_POLICY`` creates a rule,
changes its definition or parameters (a new version) or switches it on or off, and only
a user of the root organisation with ``IMPORT_ROSTERS`` (who loads the lists the rules
read) runs a rule, which fills every union's worklist. Every administrator below sees the
rules and may dry-run them: the counts are of their own subtree only.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import duckdb
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from gonghui import background
from gonghui.accounts.choices import Capability
from gonghui.audit.context import current_source
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.organisations.models import Organisation

from . import rules, snapshots
from .choices import JobStatus, RuleStatus, RunKind
from .models import (
    Candidate,
    ScreeningJob,
    ScreeningRule,
    ScreeningRuleVersion,
    ScreeningRun,
    work_root,
)
from .snapshots import Snapshot

LINKED = "linked"
# One piece of evidence: (source, import, row), and for a list row the fuzzy linkage tied
# to a worker also (LINKED, link method, match probability, review id or 0).
Item = tuple[Any, ...]
Evidence = tuple[Item, ...]
Found = dict[int, tuple[int, Evidence]]  # worker id → (organisation id, evidence)
Tables = Mapping[str, Sequence[Path]]
Progress = Callable[[str, int, int], None]


# --- who -----------------------------------------------------------------------------------


def _at_root(user: Any) -> bool:
    organisation = getattr(user, "organisation", None)
    return organisation is not None and organisation.parent_id is None


def may_see_rules(user: Any) -> bool:
    """Administrators anywhere see the rules and dry-run them for their subtree."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "organisation", None) is not None
        and (user.can(Capability.IMPORT_ROSTERS) or user.can(Capability.EDIT_POLICY))
    )


def may_define_rules(user: Any) -> bool:
    """A rule is policy: the province federation's policy administrators set it."""
    return may_see_rules(user) and user.can(Capability.EDIT_POLICY) and _at_root(user)


def may_run_rules(user: Any) -> bool:
    """A run fills every union's worklist: the province's list administrators start it."""
    return may_see_rules(user) and user.can(Capability.IMPORT_ROSTERS) and _at_root(user)


def require_viewer(user: Any) -> None:
    if not may_see_rules(user):
        raise NotAllowed(_("Your role may not see the screening rules."))


def require_definer(user: Any) -> None:
    if not may_define_rules(user):
        raise NotAllowed(
            _(
                "Screening rules are province-wide policy: only a policy administrator of "
                "the province federation may create a rule, change it or switch it on or off."
            )
        )


def require_runner(user: Any) -> None:
    if not may_run_rules(user):
        raise NotAllowed(
            _(
                "Only an administrator of the province federation may run a rule; your union "
                "may dry-run it to see its own counts."
            )
        )


# --- the tables ----------------------------------------------------------------------------


def tables() -> dict[str, list[Path]]:
    """The tables of a fresh snapshot (the caller owns it; :func:`snapshots.remove`)."""
    return snapshots.take().tables


@contextmanager
def pinned(snapshot: Snapshot | None) -> Iterator[Snapshot]:
    """The given snapshot, or a fresh one of our own, removed when we are done with it."""
    if snapshot is not None:
        yield snapshot
        return
    own = snapshots.take()
    try:
        yield own
    finally:
        snapshots.remove(own.id)


# --- the engines -----------------------------------------------------------------------------


class Engine(Protocol):
    name: str

    def evidence(self, compiled: rules.Compiled, tables: Tables) -> list[tuple]: ...


def has_links(tables: Tables) -> bool:
    """Whether any list row is linked (a snapshot without links has no links file)."""
    return bool(tables.get(rules.LINKS))


def stored_inputs(needed: Iterable[str]) -> list[str]:
    """The tables an engine loads from files (or as empty tables) for a compiled rule."""
    return sorted(name for name in needed if name in rules.STORED)


class DuckDBEngine:
    """In process; beyond ``memory_limit`` DuckDB spills to disk."""

    name = "duckdb"

    def __init__(self, memory_limit: str | None = None, threads: int | None = None) -> None:
        self.memory_limit = memory_limit or getattr(settings, "GONGHUI_DUCKDB_MEMORY", "4GB")
        self.threads = threads

    def connect(self, tables: Tables, needed: Iterable[str]) -> Any:
        needed = frozenset(needed)
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{self.memory_limit}'")
        con.execute(f"SET temp_directory = '{work_root() / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        for name in stored_inputs(needed):
            target, paths = rules.stored_name(name), tables.get(name)
            if paths:
                files = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
                source = f"SELECT * FROM read_parquet({files})"
            else:
                source = rules.empty_sql(name, "duckdb")
            con.execute(f"CREATE OR REPLACE VIEW {target} AS {source}")
        for name, sql in rules.views(needed, "duckdb", has_links(tables)):
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        return con

    def evidence(self, compiled: rules.Compiled, tables: Tables) -> list[tuple]:
        con = self.connect(tables, compiled.tables)
        try:
            return con.execute(compiled.duckdb).fetchall()
        finally:
            con.close()


def spark_path(path: Path) -> str:
    """A file of the discovery directory as the Spark cluster reaches it."""
    base = getattr(settings, "GONGHUI_SPARK_DATA_URL", "")
    if not base:
        return str(path)
    return base.rstrip("/") + "/" + path.relative_to(work_root()).as_posix()


_spark: Any = None


def spark_session() -> Any:
    """One session per process: ``GONGHUI_SPARK_MASTER`` (``local[1]`` by default, or
    ``spark://host:7077``, ``yarn``, ``k8s://…``), with ``GONGHUI_SPARK_CONF`` on top."""
    global _spark
    if _spark is None:
        from pyspark.sql import SparkSession

        master = getattr(settings, "GONGHUI_SPARK_MASTER", "") or "local[1]"
        builder = SparkSession.builder.master(master).appName("gonghui-screening")
        conf = {
            "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.ansi.enabled": "false",
            "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -Xss4m",
        }
        if master.startswith("local"):
            conf.update(
                {
                    "spark.sql.shuffle.partitions": "1",
                    "spark.default.parallelism": "1",
                    "spark.sql.adaptive.enabled": "false",
                    "spark.ui.showConsoleProgress": "false",
                    "spark.driver.host": "127.0.0.1",
                    "spark.driver.bindAddress": "127.0.0.1",
                }
            )
        conf.update(getattr(settings, "GONGHUI_SPARK_CONF", {}) or {})
        for key, value in conf.items():
            builder = builder.config(key, value)
        _spark = builder.getOrCreate()
        _spark.sparkContext.setLogLevel("ERROR")
    return _spark


def stop_spark() -> None:
    global _spark
    if _spark is not None:
        _spark.stop()
        _spark = None


class SparkEngine:
    name = "spark"

    def evidence(self, compiled: rules.Compiled, tables: Tables) -> list[tuple]:
        spark = spark_session()
        for name in stored_inputs(compiled.tables):
            target, paths = rules.stored_name(name), tables.get(name)
            if paths:
                frame = spark.read.parquet(*(spark_path(p) for p in paths))
            else:
                frame = spark.sql(rules.empty_sql(name, "spark"))
            frame.createOrReplaceTempView(target)
        for name, sql in rules.views(compiled.tables, "spark", has_links(tables)):
            spark.sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        return [tuple(row) for row in spark.sql(compiled.spark).collect()]


def engine_named(name: str | None) -> Engine:
    name = name or getattr(settings, "GONGHUI_SCREENING_ENGINE", "duckdb")
    if name == "spark":
        return SparkEngine()
    if name == "duckdb":
        return DuckDBEngine()
    raise DomainError(_("Unknown engine “%(name)s”.") % {"name": name}, field="engine")


# --- finding ---------------------------------------------------------------------------------


def group(rows: Iterable[tuple]) -> Found:
    """Evidence rows (worker, union, source, import, row, link method, probability, review)
    to one entry per worker, the evidence sorted (so both engines give equal values)."""
    found: dict[int, tuple[int, list[Item]]] = {}
    for worker_id, organisation_id, source, import_id, row_no, method, probability, review in rows:
        item: Item = (str(source), int(import_id), int(row_no))
        if method is not None:
            item += (LINKED, str(method), float(probability), int(review or 0))
        entry = found.setdefault(int(worker_id), (int(organisation_id), []))
        entry[1].append(item)
    return {w: (org, tuple(sorted(set(ev)))) for w, (org, ev) in found.items()}


def find(
    rule: ScreeningRule | Mapping[str, Any],
    as_of: datetime.date,
    engine: Engine,
    table_files: Tables | Snapshot,
    parameters: Mapping[str, Any] | None = None,
) -> Found:
    if isinstance(rule, ScreeningRule):
        definition, values = rule.definition, rule.parameters
    else:
        definition, values = rule["definition"], rule.get("parameters", {})
    compiled = rules.compile_rule(
        definition, parameters if parameters is not None else values, as_of
    )
    files = table_files.tables if isinstance(table_files, Snapshot) else table_files
    return group(engine.evidence(compiled, files))


def evidence_json(evidence: Evidence) -> list[dict[str, Any]]:
    """The evidence as stored on the candidate. A linked row says so: ``method`` "linked",
    ``by`` (auto: the model above its threshold; reviewed: a person), ``score`` (the match
    probability) and ``review`` (the decision, for a reviewed link)."""
    out = []
    for item in evidence:
        entry: dict[str, Any] = {"source": item[0], "import": item[1], "row": item[2]}
        if len(item) > 3:
            entry.update({"method": LINKED, "by": item[4], "score": item[5]})
            if item[6]:
                entry["review"] = item[6]
        out.append(entry)
    return out


def evidence_key(items: Iterable[Mapping[str, Any]]) -> Evidence:
    keys = []
    for e in items:
        item: Item = (str(e["source"]), int(e["import"]), int(e["row"]))
        if e.get("method") == LINKED:
            item += (LINKED, str(e["by"]), float(e["score"]), int(e.get("review") or 0))
        keys.append(item)
    return tuple(sorted(keys))


# --- plans -----------------------------------------------------------------------------------


@dataclass
class Plan:
    """What applying ``found`` to the rule's current candidates (in the user's subtree)
    would do."""

    found: Found
    add: list[int] = field(default_factory=list)  # worker ids
    drop: list[int] = field(default_factory=list)  # candidate ids
    change: list[tuple[int, int]] = field(default_factory=list)  # (candidate id, worker id)
    per_org: dict[int, dict[str, int]] = field(default_factory=dict)


def _subtree_ids(user: Any) -> set[int]:
    return set(
        Organisation.objects.filter(user.organisation.subtree_q()).values_list("pk", flat=True)
    )


def plan(user: Any, rule: ScreeningRule, found: Found) -> Plan:
    scope = _subtree_ids(user)
    found = {w: v for w, v in found.items() if v[0] in scope}
    result = Plan(found=found)

    def bump(org: int, key: str) -> None:
        counts = result.per_org.setdefault(org, {"add": 0, "drop": 0, "keep": 0, "change": 0})
        counts[key] += 1

    current = Candidate.objects.for_user(user).filter(rule=rule)
    seen: set[int] = set()
    for pk, worker_id, org, evidence, dropped, version in current.values_list(
        "pk", "worker_id", "organisation_id", "evidence", "dropped_at", "rule_version"
    ).iterator(chunk_size=10_000):
        seen.add(worker_id)
        hit = found.get(worker_id)
        if hit is None:
            if dropped is None:
                result.drop.append(pk)
                bump(org, "drop")
            continue
        if dropped is not None:
            result.change.append((pk, worker_id))
            bump(hit[0], "add")
        elif hit[0] != org or evidence_key(evidence) != hit[1] or version != rule.version:
            result.change.append((pk, worker_id))
            bump(hit[0], "change")
        else:
            bump(org, "keep")
    for worker_id, (org, _evidence) in found.items():
        if worker_id not in seen:
            result.add.append(worker_id)
            bump(org, "add")
    return result


def summary(per_org: Mapping[int, Mapping[str, int]]) -> list[dict[str, Any]]:
    names = dict(Organisation.objects.filter(pk__in=list(per_org)).values_list("pk", "name"))
    paths = dict(Organisation.objects.filter(pk__in=list(per_org)).values_list("pk", "path"))
    return [
        {"organisation": org, "name": names.get(org, ""), **per_org[org]}
        for org in sorted(per_org, key=lambda o: paths.get(o, ""))
    ]


# --- dry runs and runs -----------------------------------------------------------------------


def _screen(
    user: Any,
    rule: ScreeningRule,
    kind: str,
    as_of: datetime.date | None,
    engine: str | None,
    snap: Snapshot,
    job: ScreeningJob | None,
) -> tuple[ScreeningRun, Found, float]:
    """Run the rule on the snapshot: the run record (not yet saved, not yet counted) and
    what the rule found."""
    as_of = as_of or timezone.localdate()
    chosen = engine_named(engine)
    started = time.monotonic()
    compiled = rules.compile_rule(rule.definition, rule.parameters, as_of)
    found = group(chosen.evidence(compiled, snap.tables))
    run = ScreeningRun(
        rule=rule,
        rule_version=rule.version,
        kind=kind,
        organisation=user.organisation,
        created_by=user,
        as_of=as_of,
        engine=chosen.name,
        parameters=compiled.parameters,
        list_imports=snap.imports_read(compiled.tables),
        snapshot=snap.id,
        job=job,
    )
    return run, found, started


def _count(run: ScreeningRun, result: Plan, started: float) -> None:
    run.found = len(result.found)
    run.added = len(result.add)
    run.dropped = len(result.drop)
    run.changed = len(result.change)
    run.summary = summary(result.per_org)
    run.milliseconds = int((time.monotonic() - started) * 1000)


def _done_in(job: ScreeningJob | None, rule: ScreeningRule) -> ScreeningRun | None:
    """The run a job already made of the rule (a resumed job does not do it again)."""
    return None if job is None else ScreeningRun.objects.filter(job=job, rule=rule).first()


def dry_run(
    user: Any,
    rule: ScreeningRule,
    as_of: datetime.date | None = None,
    engine: str | None = None,
    *,
    snapshot: Snapshot | None = None,
    job: ScreeningJob | None = None,
) -> ScreeningRun:
    """How many candidates the rule would add and drop, per organisation of the user's
    subtree, against its current candidates; nothing but the run record is written
    (audited)."""
    require_viewer(user)
    done = _done_in(job, rule)
    if done is not None:
        return done
    with pinned(snapshot) as snap:
        run, found, started = _screen(user, rule, RunKind.DRY_RUN, as_of, engine, snap, job)
        _count(run, plan(user, rule, found), started)
        run.save()
    return run


def run_rule(
    user: Any,
    rule: ScreeningRule,
    as_of: datetime.date | None = None,
    engine: str | None = None,
    *,
    snapshot: Snapshot | None = None,
    job: ScreeningJob | None = None,
) -> ScreeningRun:
    """Run a rule that is on and apply what it finds: new candidates, evidence brought up
    to date, candidates no longer found dropped. Idempotent: nothing changes when nothing
    changed, the same snapshot gives the same candidates (one per worker and rule), and a
    job's rule is done once. The run itself is recorded and audited."""
    require_runner(user)
    rule = ScreeningRule.objects.get(pk=rule.pk)
    _require_on(rule)
    done = _done_in(job, rule)
    if done is not None:
        return done
    with pinned(snapshot) as snap:
        run, found, started = _screen(user, rule, RunKind.RUN, as_of, engine, snap, job)
        with transaction.atomic():
            # One run of a rule applies at a time: the plan reads the candidates it changes.
            locked = ScreeningRule.objects.select_for_update().get(pk=rule.pk)
            if locked.version != rule.version:
                raise Conflict(_("The rule changed while it ran; run it again."), field="version")
            _require_on(locked)
            done = _done_in(job, rule)
            if done is not None:
                return done
            result = plan(user, rule, found)
            _count(run, result, started)
            run.save()
            _apply(user, rule, run, result)
    return run


def _require_on(rule: ScreeningRule) -> None:
    if rule.status != RuleStatus.ON:
        raise Conflict(
            _("The rule %(code)s is not switched on; try a dry run first.") % {"code": rule.code},
            field="status",
        )


def _apply(user: Any, rule: ScreeningRule, run: ScreeningRun, result: Plan) -> None:
    now = timezone.now()
    Candidate.objects.bulk_create(
        [
            Candidate(
                worker_id=worker_id,
                organisation_id=result.found[worker_id][0],
                rule=rule,
                rule_version=rule.version,
                evidence=evidence_json(result.found[worker_id][1]),
                found_by=run,
            )
            for worker_id in result.add
        ],
        batch_size=2_000,
    )
    changed = []
    for pk, worker_id in result.change:
        org, evidence = result.found[worker_id]
        changed.append(
            Candidate(
                pk=pk,
                organisation_id=org,
                evidence=evidence_json(evidence),
                rule_version=rule.version,
                dropped_at=None,
                found_by=run,
                updated_at=now,
            )
        )
    Candidate.objects.bulk_update(
        changed,
        ["organisation", "evidence", "rule_version", "dropped_at", "found_by", "updated_at"],
        batch_size=2_000,
    )
    for start in range(0, len(result.drop), 2_000):
        Candidate.objects.filter(pk__in=result.drop[start : start + 2_000]).update(
            dropped_at=now, updated_at=now
        )
    AuditEntry.objects.create(
        actor=user,
        source=current_source(),
        action=AuditAction.UPDATE,
        model=Candidate._meta.label_lower,
        object_id=f"screening_run:{run.pk}",
        org_path=user.organisation.path,
        changes={
            "rule": rule.code,
            "version": rule.version,
            "snapshot": run.snapshot,
            "added_workers": sorted(result.add),
            "changed_candidates": sorted(pk for pk, _w in result.change),
            "dropped_candidates": sorted(result.drop),
        },
    )


def switched_on() -> list[ScreeningRule]:
    return list(ScreeningRule.objects.filter(status=RuleStatus.ON).order_by("code"))


def run_all(
    user: Any, as_of: datetime.date | None = None, engine: str | None = None
) -> list[ScreeningRun]:
    """Every switched-on rule, on one snapshot."""
    require_runner(user)
    with pinned(None) as snap:
        return [run_rule(user, r, as_of, engine, snapshot=snap) for r in switched_on()]


# --- background jobs -------------------------------------------------------------------------

UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)
SNAPSHOT_STEP = "snapshot"


def start_job(
    user: Any,
    kind: str,
    rule: ScreeningRule | None = None,
    as_of: datetime.date | None = None,
    engine: str | None = None,
) -> ScreeningJob:
    """A dry run or a run of ``rule`` (or, without one, of every switched-on rule), to be
    done by :func:`run_job`. Refused at once when the user may not do it or a run's rule
    is off. While the same job is queued or running, it is returned rather than a second
    one: starting it again goes on with it."""
    if kind == RunKind.RUN:
        require_runner(user)
    elif kind == RunKind.DRY_RUN:
        require_viewer(user)
    else:
        raise DomainError(_("Unknown kind of run “%(kind)s”.") % {"kind": kind}, "kind")
    if rule is not None and kind == RunKind.RUN:
        _require_on(ScreeningRule.objects.get(pk=rule.pk))
    if rule is None and not ScreeningRule.objects.filter(status=RuleStatus.ON).exists():
        raise Conflict(_("No rule is switched on."), field="status")
    as_of = as_of or timezone.localdate()
    engine_name = engine_named(engine).name
    wanted = {
        "kind": kind,
        "rule": rule,
        "organisation": user.organisation,
        "as_of": as_of,
        "engine": engine_name,
    }
    with transaction.atomic():
        same = ScreeningJob.objects.filter(status__in=UNFINISHED, **wanted).first()
        if same is not None:
            return same
        return ScreeningJob.objects.create(created_by=user, **wanted)


def run_job(job_id: int, progress: Progress | None = None) -> ScreeningJob:
    """Do a job to its end, as the user who started it, from wherever it stopped: on the
    snapshot it began with, skipping the rules it already did. A refusal or a fault is
    recorded on the job (failed, with the message) and raised."""
    job = ScreeningJob.objects.select_related("created_by__organisation", "rule").get(pk=job_id)
    if job.status == JobStatus.DONE:
        return job
    job.status, job.error, job.finished_at = JobStatus.RUNNING, "", None
    job.started_at = job.started_at or timezone.now()
    job.save()
    stopped = _("The job stopped: %(error)s. Start it again to go on.")
    with background.failure_recorded(partial(_fail, job), stopped):
        _work(job, progress)
    return job


def _work(job: ScreeningJob, progress: Progress | None) -> None:
    todo = _job_rules(job)
    total = len(todo) + 1
    _report(job, SNAPSHOT_STEP, 0, total, progress)
    snap = _job_snapshot(job)
    for done, rule in enumerate(todo, start=1):
        _report(job, rule.code, done, total, progress)
        _job_rule(job, rule, snap)
    _report(job, "", total, total, progress)
    job.status, job.finished_at = JobStatus.DONE, timezone.now()
    job.save()
    # The snapshot holds ID numbers: gone once nothing will read it again.
    snapshots.remove(job.snapshot)


def _job_rules(job: ScreeningJob) -> list[ScreeningRule]:
    """The job's rules, fixed when it first started (so a resume does the same ones)."""
    if not job.rule_ids:
        job.rule_ids = [job.rule_id] if job.rule_id else [r.pk for r in switched_on()]
        job.save()
    found = ScreeningRule.objects.in_bulk(job.rule_ids)
    return [found[pk] for pk in job.rule_ids if pk in found]


def _job_snapshot(job: ScreeningJob) -> Snapshot:
    """The snapshot the job began with; a new one only if that one is gone (pruned)."""
    if snapshots.exists(job.snapshot):
        return snapshots.open_snapshot(job.snapshot)
    snap = snapshots.take()
    job.snapshot = snap.id
    job.save()
    return snap


def _job_rule(job: ScreeningJob, rule: ScreeningRule, snap: Snapshot) -> None:
    user = job.created_by
    if job.kind == RunKind.DRY_RUN:
        dry_run(user, rule, job.as_of, job.engine, snapshot=snap, job=job)
    elif job.rule_id is None and ScreeningRule.objects.get(pk=rule.pk).status != RuleStatus.ON:
        return  # switched off since the job began: "all switched-on rules" leaves it out
    else:
        run_rule(user, rule, job.as_of, job.engine, snapshot=snap, job=job)


def _report(job: ScreeningJob, step: str, done: int, total: int, progress: Progress | None) -> None:
    # An update, not a save: progress is not history (the state changes are audited).
    ScreeningJob.objects.filter(pk=job.pk).update(
        step=step, progress_done=done, progress_total=total
    )
    job.step, job.progress_done, job.progress_total = step, done, total
    if progress is not None:
        progress(step, done, total)


def _fail(job: ScreeningJob, message: str) -> None:
    job.status, job.error, job.finished_at = JobStatus.FAILED, message, timezone.now()
    job.save()


def job_runs(job: ScreeningJob) -> list[ScreeningRun]:
    return list(job.runs.select_related("rule").order_by("rule__code"))


# --- the rules themselves --------------------------------------------------------------------


def install_builtin_rules() -> list[ScreeningRule]:
    """The rules of issue 4, as drafts; an installed rule is left as it is."""
    installed = []
    for spec in rules.BUILTINS:
        rule, created = ScreeningRule.objects.get_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "description": spec["description"],
                "builtin": True,
                "definition": spec["definition"],
                "parameters": {},
            },
        )
        if created:
            _keep_version(rule, None)
        installed.append(rule)
    return installed


def check_rule(
    definition: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    as_of: datetime.date | None = None,
) -> rules.Compiled:
    """The definition compiled for DuckDB and Spark (:func:`rules.compile_rule`: one query
    over the known tables and columns, its parameters declared and typed), then bound by
    DuckDB over empty tables of the real columns, which finds what only the engine knows
    (an ambiguous column, a function that does not exist, a date compared with a number).
    A :class:`DomainError` on ``definition`` or ``parameters`` says what is wrong. Reads
    no data, so anyone may check; saving is :func:`create_rule` / :func:`change_rule`."""
    compiled = rules.compile_rule(definition, parameters or {}, as_of or timezone.localdate())
    con = DuckDBEngine(memory_limit="256MB", threads=1).connect({}, compiled.tables)
    try:
        con.execute(f"SELECT * FROM ({compiled.duckdb}) AS checked LIMIT 0")
    except duckdb.Error as exc:
        raise DomainError(
            _("DuckDB cannot run the rule: %(error)s") % {"error": str(exc).splitlines()[0]},
            field="definition",
        ) from None
    finally:
        con.close()
    return compiled


def _keep_version(rule: ScreeningRule, user: Any) -> None:
    """The rule's version as saved, kept for the candidates and runs that carry it."""
    ScreeningRuleVersion.objects.create(
        rule=rule,
        version=rule.version,
        definition=rule.definition,
        parameters=rule.parameters,
        created_by=user if getattr(user, "pk", None) else None,
    )


def create_rule(
    user: Any,
    code: str,
    name: str,
    definition: Mapping[str, Any],
    *,
    parameters: Mapping[str, Any] | None = None,
    description: str = "",
) -> ScreeningRule:
    """A new rule, as a draft, version 1 (audited, and kept as its first version); checked
    first (:func:`check_rule`) so a broken rule is never saved."""
    require_definer(user)
    code, name = (code or "").strip(), (name or "").strip()
    if not code or slugify(code) != code:
        raise DomainError(
            _("A rule's code is lower-case letters, digits and hyphens, such as dibao-no-file."),
            field="code",
        )
    if not name:
        raise DomainError(_("Give the rule a name."), field="name")
    if ScreeningRule.objects.filter(code=code).exists():
        raise Conflict(_("A rule with the code %(code)s exists.") % {"code": code}, field="code")
    check_rule(definition, parameters)
    with transaction.atomic():
        rule = ScreeningRule.objects.create(
            code=code,
            name=name,
            description=(description or "").strip(),
            definition=dict(definition),
            parameters=dict(parameters or {}),
        )
        _keep_version(rule, user)
    return rule


def kept_parameters(rule: ScreeningRule, definition: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's parameter values that a new definition keeps: those of parameters it
    still declares with the same type (a value of another type would not fit)."""
    old = (rule.definition or {}).get("parameters") or {}
    new = definition.get("parameters") or {}
    return {
        name: value
        for name, value in (rule.parameters or {}).items()
        if name in new and new[name].get("type") == old.get(name, {}).get("type")
    }


def change_rule(
    user: Any,
    rule: ScreeningRule,
    *,
    definition: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    status: str | None = None,
    name: str | None = None,
    description: str | None = None,
    expected_version: int | None = None,
) -> ScreeningRule:
    """Change a rule (audited on save). A new definition or new parameters make a new
    version, checked first (:func:`check_rule`) so a broken rule is never saved; the old
    version is kept (:class:`ScreeningRuleVersion`). A new definition without new
    parameters keeps the values of the parameters it still declares
    (:func:`kept_parameters`). ``name`` and ``description`` are a custom rule's own text
    (a built-in rule's are translated, so they stay). ``expected_version``: the version
    the person edited; a rule changed meanwhile is refused rather than overwritten."""
    require_definer(user)
    if status is not None and status not in RuleStatus.values:
        raise DomainError(_("Unknown status “%(status)s”.") % {"status": status}, "status")
    new_definition = dict(definition) if definition is not None else rule.definition
    if parameters is not None:
        new_parameters = dict(parameters)
    elif definition is not None:
        new_parameters = kept_parameters(rule, new_definition)
    else:
        new_parameters = rule.parameters
    versioned = new_definition != rule.definition or new_parameters != rule.parameters
    if versioned or status == RuleStatus.ON:
        check_rule(new_definition, new_parameters)
    with transaction.atomic():
        _require_current(rule, expected_version)
        _set_text(rule, name, description)
        if versioned:
            rule.definition, rule.parameters = new_definition, new_parameters
            rule.version += 1
        if status is not None:
            rule.status = status
        rule.save()
        if versioned:
            _keep_version(rule, user)
    return rule


def _require_current(rule: ScreeningRule, expected_version: int | None) -> None:
    """Lock the rule; refuse if it changed since ``rule`` (or the person's form) was read."""
    version = ScreeningRule.objects.select_for_update().values_list("version", flat=True)
    found = version.get(pk=rule.pk)
    if found != rule.version or expected_version not in (None, found):
        raise Conflict(
            _(
                "Someone changed the rule meanwhile (it is now version %(version)s); load it "
                "again and redo your change."
            )
            % {"version": found},
            field="version",
        )


def _set_text(rule: ScreeningRule, name: str | None, description: str | None) -> None:
    if rule.builtin:
        return  # translated msgids: a copy of the rule takes its own text
    if name is not None:
        if not name.strip():
            raise DomainError(_("Give the rule a name."), field="name")
        rule.name = name.strip()
    if description is not None:
        rule.description = description.strip()
