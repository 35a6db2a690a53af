"""Screening: run the rules over the analytical store, on DuckDB in process or on Spark, and
turn what they find into :class:`Candidate` rows.

    snapshot()                          # the registry as Parquet, beside the lists
    dry_run(user, rule)                 # what a run would add and drop, per organisation
    run_rule(user, rule)                # the same, applied: candidates added, changed, dropped
    find(rule, as_of, engine)           # worker → (union, evidence): what both engines agree on

The tables a rule reads are Parquet files: ``registry/*.parquet`` (written from the
database by :func:`snapshot`) and the ``rows.parquet`` of every finished import of a list.
DuckDB reads them in process; Spark reads the same files from shared storage
(``GONGHUI_SPARK_DATA_URL`` names the discovery directory as the cluster sees it).
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.audit.context import current_source
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.models import HardshipFile, IncomeReading
from gonghui.organisations.models import Organisation
from gonghui.people.models import HouseholdMember, Worker

from . import lists, rules
from .choices import ImportStatus, RuleStatus, RunKind
from .models import Candidate, ListImport, ScreeningRule, ScreeningRun, work_root

Evidence = tuple[tuple[str, int, int], ...]
Found = dict[int, tuple[int, Evidence]]  # worker id → (organisation id, evidence)
Tables = Mapping[str, Sequence[Path]]


def require_screener(user: Any) -> None:
    # Screening rules are managed by the administrators who import the lists they read.
    if not (getattr(user, "is_authenticated", False) and user.can(Capability.IMPORT_ROSTERS)):
        raise NotAllowed(_("Your role may not manage screening rules."))


# --- the tables ---------------------------------------------------------------------------


def registry_dir() -> Path:
    return work_root() / "registry"


def _write(con: Any, table: str, columns: list[tuple[str, str]], rows: Iterable[tuple]) -> Path:
    """Rows (streamed, in chunks) into a Parquet file of the given schema, written whole."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE t ({', '.join(f'{n} {s}' for n, s in columns)})")
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 100_000:
            _insert(con, len(columns), batch)
            batch = []
    _insert(con, len(columns), batch)
    target = registry_dir() / f"{table}.parquet"
    con.execute(f"COPY t TO '{target.with_suffix('.partial')}' (FORMAT parquet)")
    os.replace(target.with_suffix(".partial"), target)
    return target


def _insert(con: Any, width: int, rows: list[tuple]) -> None:
    if rows:
        lists_ = [list(values) for values in zip(*rows, strict=True)]
        con.execute(f"INSERT INTO t SELECT {', '.join(['unnest(?)'] * width)}", lists_)


def _fen(value: Any) -> int | None:
    return None if value is None else int(value * 100)


def _stream(sql: str) -> Iterable[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(50_000):
            yield from rows


def snapshot() -> dict[str, Path]:
    """The registry tables the rules read, from the database, as Parquet."""
    registry_dir().mkdir(parents=True, exist_ok=True)
    worker, member = Worker._meta.db_table, HouseholdMember._meta.db_table
    files, _readings = HardshipFile._meta.db_table, IncomeReading._meta.db_table
    spec = rules.REGISTRY_TABLES
    con = duckdb.connect()
    try:
        return {
            "members": _write(
                con, "members", spec["members"],
                _stream(f"SELECT w.id, w.id_number, w.organisation_id, h.household_id "
                        f"FROM {worker} w LEFT JOIN {member} h ON h.worker_id = w.id"),
            ),
            "household_members": _write(
                con, "household_members", spec["household_members"],
                ((h, w, n or None, r, s, b) for h, w, n, r, s, b in _stream(
                    f"SELECT household_id, worker_id, id_number, relation, schooling, "
                    f"birth_date FROM {member}"))),
            "files": _write(
                con, "files", spec["files"],
                _stream(f"SELECT id, household_id, applicant_id, organisation_id, status "
                        f"FROM {files}"),
            ),
            "income_readings": _write(
                con, "income_readings", spec["income_readings"],
                ((i, f, m, _fen(p), _fen(s)) for i, f, m, p, s in IncomeReading.objects
                 .values_list("id", "file_id", "month", "per_capita_income", "living_standard")
                 .iterator(chunk_size=10_000)),
            ),
        }  # fmt: skip
    finally:
        con.close()


def list_files(kind: str) -> list[Path]:
    """The rows of every finished import of a kind (an empty file of the kind's schema when
    there is none, so that a rule always has its table)."""
    done = ListImport.objects.filter(kind=kind, status=ImportStatus.DONE).order_by("pk")
    paths = [lists.rows_path(imp.work_dir) for imp in done]
    paths = [p for p in paths if p.exists()]
    return paths or [lists.empty_parquet(kind, work_root() / "empty" / f"{kind}.parquet")]


def tables(registry: Mapping[str, Path] | None = None) -> dict[str, list[Path]]:
    registry = registry if registry is not None else snapshot()
    found: dict[str, list[Path]] = {name: [path] for name, path in registry.items()}
    for kind in lists.LIST_KINDS:
        found[rules.list_table(kind)] = list_files(kind)
    return found


# --- the engines --------------------------------------------------------------------------


class Engine(Protocol):
    name: str

    def evidence(self, compiled: rules.Compiled, tables: Tables) -> list[tuple]: ...


class DuckDBEngine:
    """In process; beyond ``memory_limit`` DuckDB spills to disk."""

    name = "duckdb"

    def __init__(self, memory_limit: str | None = None, threads: int | None = None) -> None:
        self.memory_limit = memory_limit or getattr(settings, "GONGHUI_DUCKDB_MEMORY", "4GB")
        self.threads = threads

    def connect(self, tables: Tables, needed: Iterable[str]) -> Any:
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{self.memory_limit}'")
        con.execute(f"SET temp_directory = '{work_root() / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        for name in needed:
            if name in tables:
                files = "[" + ", ".join(f"'{p}'" for p in tables[name]) + "]"
                con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({files})")
        for name in rules.DERIVED_VIEWS:
            if name in needed:
                con.execute(f"CREATE OR REPLACE VIEW {name} AS {rules.derived_sql(name, 'duckdb')}")
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
        for name in compiled.tables:
            if name in tables:
                frame = spark.read.parquet(*(spark_path(p) for p in tables[name]))
                frame.createOrReplaceTempView(name)
        for name in rules.DERIVED_VIEWS:
            if name in compiled.tables:
                spark.sql(
                    f"CREATE OR REPLACE TEMP VIEW {name} AS {rules.derived_sql(name, 'spark')}"
                )
        return [tuple(row) for row in spark.sql(compiled.spark).collect()]


def engine_named(name: str | None) -> Engine:
    name = name or getattr(settings, "GONGHUI_SCREENING_ENGINE", "duckdb")
    if name == "spark":
        return SparkEngine()
    if name == "duckdb":
        return DuckDBEngine()
    raise DomainError(_("Unknown engine “%(name)s”.") % {"name": name}, field="engine")


# --- finding ------------------------------------------------------------------------------


def group(rows: Iterable[tuple]) -> Found:
    """Evidence rows (worker, union, source, import, row) to one entry per worker, the
    evidence sorted (so both engines give equal values)."""
    found: dict[int, tuple[int, list[tuple[str, int, int]]]] = {}
    for worker_id, organisation_id, source, import_id, row_no in rows:
        entry = found.setdefault(int(worker_id), (int(organisation_id), []))
        entry[1].append((str(source), int(import_id), int(row_no)))
    return {w: (org, tuple(sorted(set(ev)))) for w, (org, ev) in found.items()}


def find(
    rule: ScreeningRule | Mapping[str, Any],
    as_of: datetime.date,
    engine: Engine,
    table_files: Tables,
    parameters: Mapping[str, Any] | None = None,
) -> Found:
    if isinstance(rule, ScreeningRule):
        definition, values = rule.definition, rule.parameters
    else:
        definition, values = rule["definition"], rule.get("parameters", {})
    compiled = rules.compile_rule(
        definition, parameters if parameters is not None else values, as_of
    )
    return group(engine.evidence(compiled, table_files))


def evidence_json(evidence: Evidence) -> list[dict[str, Any]]:
    return [{"source": s, "import": i, "row": r} for s, i, r in evidence]


def evidence_key(items: Iterable[Mapping[str, Any]]) -> Evidence:
    return tuple(sorted((str(e["source"]), int(e["import"]), int(e["row"])) for e in items))


# --- dry runs and runs --------------------------------------------------------------------


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


def _screen(
    user: Any, rule: ScreeningRule, kind: str, as_of: datetime.date | None, engine: str | None
) -> tuple[ScreeningRun, Plan]:
    require_screener(user)
    as_of = as_of or timezone.localdate()
    chosen = engine_named(engine)
    started = time.monotonic()
    table_files = tables()
    compiled = rules.compile_rule(rule.definition, rule.parameters, as_of)
    found = group(chosen.evidence(compiled, table_files))
    result = plan(user, rule, found)
    imports = sorted(
        int(p.parent.name)
        for name in compiled.tables
        if name.startswith("list_")
        for p in table_files.get(name, [])
        if p.name == "rows.parquet"
    )
    run = ScreeningRun(
        rule=rule,
        rule_version=rule.version,
        kind=kind,
        organisation=user.organisation,
        created_by=user,
        as_of=as_of,
        engine=chosen.name,
        parameters=compiled.parameters,
        list_imports=imports,
        found=len(result.found),
        added=len(result.add),
        dropped=len(result.drop),
        changed=len(result.change),
        summary=summary(result.per_org),
        milliseconds=int((time.monotonic() - started) * 1000),
    )
    return run, result


def dry_run(
    user: Any,
    rule: ScreeningRule,
    as_of: datetime.date | None = None,
    engine: str | None = None,
) -> ScreeningRun:
    """How many candidates the rule would add and drop, per organisation, against its
    current candidates; nothing but the run record is written (audited)."""
    run, _plan = _screen(user, rule, RunKind.DRY_RUN, as_of, engine)
    run.save()
    return run


def run_rule(
    user: Any,
    rule: ScreeningRule,
    as_of: datetime.date | None = None,
    engine: str | None = None,
) -> ScreeningRun:
    """Run a rule that is on and apply what it finds in the user's subtree: new candidates,
    evidence brought up to date, candidates no longer found dropped. Nothing changes when
    nothing changed; the run itself is recorded and audited."""
    rule = ScreeningRule.objects.get(pk=rule.pk)
    if rule.status != RuleStatus.ON:
        raise Conflict(
            _("The rule %(code)s is not switched on; try a dry run first.") % {"code": rule.code},
            field="status",
        )
    run, result = _screen(user, rule, RunKind.RUN, as_of, engine)
    now = timezone.now()
    with transaction.atomic():
        run.save()
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
                "added_workers": sorted(result.add),
                "changed_candidates": sorted(pk for pk, _w in result.change),
                "dropped_candidates": sorted(result.drop),
            },
        )
    return run


def run_all(
    user: Any, as_of: datetime.date | None = None, engine: str | None = None
) -> list[ScreeningRun]:
    return [
        run_rule(user, rule, as_of, engine)
        for rule in ScreeningRule.objects.filter(status=RuleStatus.ON).order_by("code")
    ]


# --- the rules themselves -----------------------------------------------------------------


def install_builtin_rules() -> list[ScreeningRule]:
    """The rules of issue 4, as drafts; an installed rule is left as it is."""
    installed = []
    for spec in rules.BUILTINS:
        rule, _created = ScreeningRule.objects.get_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "description": spec["description"],
                "builtin": True,
                "definition": spec["definition"],
                "parameters": {},
            },
        )
        installed.append(rule)
    return installed


def change_rule(
    user: Any,
    rule: ScreeningRule,
    *,
    definition: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    status: str | None = None,
) -> ScreeningRule:
    """Change a rule (audited on save). A new definition or new parameters make a new
    version, compiled first so a broken rule is never saved."""
    require_screener(user)
    new_definition = dict(definition) if definition is not None else rule.definition
    new_parameters = dict(parameters) if parameters is not None else rule.parameters
    if status is not None and status not in RuleStatus.values:
        raise DomainError(_("Unknown status “%(status)s”.") % {"status": status}, "status")
    rules.compile_rule(new_definition, new_parameters, timezone.localdate())
    with transaction.atomic():
        if new_definition != rule.definition or new_parameters != rule.parameters:
            rule.definition, rule.parameters = new_definition, new_parameters
            rule.version += 1
        if status is not None:
            rule.status = status
        rule.save()
    return rule
