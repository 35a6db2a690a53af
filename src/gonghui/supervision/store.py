"""The indicator value store: indicators computed once, read by every page (docs/indicators.md,
"Stored values").

Computing every indicator for every organisation of a province takes seconds (2.8 s for one
period at 1,000,000 workers, ~7 s for the indicator page's 4-year trend), while the records
change all day and the indicators are judged per month or year. So a page reads values
computed earlier and says when: "values as of 06:00 today".

* :func:`refresh` computes with the set-based library (:func:`indicators.compute_periods`:
  every period in one pass) for the whole tree and stores every value. One
  :class:`IndicatorRun` per period records when, by whom (or the schedule) and how it ended.
  Its values are written in batches while the run is ``running`` (nobody reads them), then
  the run becomes ``current`` and the run it replaces ``superseded`` in one transaction: a
  page never sees half a run, and the previous values stay readable until the new ones are
  complete. Superseded values are deleted a few minutes later (:data:`PRUNE_AFTER`), so a
  page that read the runs just before the switch still finds their values.
* Two refreshes of the same period never run at once: each holds a lock per period
  (:func:`gonghui.scheduling.exclusive`: an advisory lock on PostgreSQL, ``flock`` on
  SQLite), and the database refuses a second ``running`` run of a period.
* :func:`values` / :func:`values_periods` read the current runs (two queries, whatever the
  number of organisations and periods) and fall back to computing and storing when a period
  has no stored run yet, so a small deployment needs no schedule.
* Stored values are shown whatever their age; older than ``GONGHUI_INDICATOR_MAX_AGE``
  seconds they are marked stale, and a holder of SUPERVISE may :func:`start_refresh` (in a
  detached process, inline in tests). The daily job (:func:`refresh_daily`, registered in
  :mod:`gonghui.scheduling`) refreshes this year and the years of the trend.

Freezing a competition does not read the store: the snapshot is computed live
(``competition.freeze``), so it is exact at the moment of freezing.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui import background, scheduling
from gonghui.audit.context import acting_as, current_source
from gonghui.audit.models import AuditAction, record
from gonghui.errors import Conflict, DomainError
from gonghui.organisations.models import Organisation

from . import access
from . import indicators as lib
from .models import IndicatorRun, IndicatorValue, RunStatus, RunTrigger

logger = logging.getLogger(__name__)

TREND_YEARS = 3  # the period and the same days of the three years before
BATCH = 5_000  # values per INSERT batch
# Values of a superseded run stay this long, for pages that read the run just before.
PRUNE_AFTER = datetime.timedelta(minutes=10)
# A run still "running" after this long is taken for one whose process died.
RUNNING_LIMIT = datetime.timedelta(hours=1)


def max_age() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(settings.GONGHUI_INDICATOR_MAX_AGE))


# --- periods --------------------------------------------------------------------------------


def shifted(period: lib.Period, years: int) -> lib.Period:
    """The same days ``years`` earlier (29 February becomes the 28th)."""

    def back(day: datetime.date) -> datetime.date:
        try:
            return day.replace(year=day.year - years)
        except ValueError:
            return day.replace(year=day.year - years, day=28)

    return lib.Period(back(period.start), back(period.end))


def trend_periods(period: lib.Period, years: int = TREND_YEARS) -> list[lib.Period]:
    """The period and the same days of the ``years`` years before, oldest first."""
    return [*(shifted(period, n) for n in range(years, 0, -1)), period]


def _periods_q(periods: Iterable[lib.Period]) -> Q:
    return reduce(or_, (Q(period_start=p.start, period_end=p.end) for p in periods), Q(pk=None))


def _period_of(run: IndicatorRun) -> lib.Period:
    return lib.Period(run.period_start, run.period_end)


def _unique(periods: Iterable[lib.Period]) -> list[lib.Period]:
    return list(dict.fromkeys(periods))


# --- one refresh of a period at a time -------------------------------------------------------


def _lock_name(period: lib.Period) -> str:
    """One lock per database and period (a test database and the demo's on one machine do
    not share locks)."""
    database = str(connection.settings_dict.get("NAME") or "")
    tag = hashlib.sha256(database.encode()).hexdigest()[:10]
    return f"indicators-{tag}-{period.start:%Y%m%d}-{period.end:%Y%m%d}"


@contextmanager
def _locked(periods: Sequence[lib.Period]) -> Iterator[list[lib.Period]]:
    """Hold the lock of every period another process does not hold; yields those periods."""
    with ExitStack() as stack:
        held = [
            period
            for period in sorted(periods, key=lambda p: (p.start, p.end))
            if stack.enter_context(scheduling.exclusive(_lock_name(period)))
        ]
        yield [p for p in periods if p in held]


def being_refreshed(periods: Sequence[lib.Period]) -> list[lib.Period]:
    """The periods a refresh is working on right now (their lock is held elsewhere)."""
    with _locked(periods) as free:
        return [p for p in periods if p not in free]


# --- refresh ----------------------------------------------------------------------------------


@dataclass
class Refreshed:
    runs: list[IndicatorRun]  # now current, one per period refreshed
    skipped: list[lib.Period]  # another refresh was working on them
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(run.rows for run in self.runs)


def _codes(codes: Iterable[str] | None) -> list[str]:
    chosen = list(lib.LIBRARY) if codes is None else list(dict.fromkeys(codes))
    for code in chosen:
        lib.indicator(code)  # refuses an unknown code, naming it
    return chosen


def refresh(
    periods: Sequence[lib.Period],
    codes: Iterable[str] | None = None,
    by: Any = None,
    trigger: str = RunTrigger.COMMAND,
) -> Refreshed:
    """Compute every indicator (or those named) of the periods for every organisation and
    store them; each period's values replace its previous ones at once, when all are
    written. Periods that another refresh is working on are skipped (and returned so)."""
    chosen = _codes(codes)
    wanted = _unique(periods)
    started = time.perf_counter()
    with _locked(wanted) as held:
        if not held:
            return Refreshed([], wanted)
        runs = _start(held, chosen, by, trigger)
        try:
            computed = lib.compute_periods(held, chosen)
            _write(runs, computed)
        except BaseException as exc:
            _fail(runs, exc)
            raise
        _switch(runs)
    prune()
    skipped = [p for p in wanted if p not in held]
    return Refreshed(runs, skipped, time.perf_counter() - started)


def _start(
    periods: Sequence[lib.Period], codes: list[str], by: Any, trigger: str
) -> list[IndicatorRun]:
    """The periods' runs, ``running``. A run left ``running`` holds no lock any more (we hold
    it): its process died, so it is marked failed and its values go."""
    # A page's first view computes on nobody's decision: it names no one.
    user = by if getattr(by, "is_authenticated", False) and trigger != RunTrigger.PAGE else None
    with transaction.atomic():
        abandoned = IndicatorRun.objects.filter(_periods_q(periods), status=RunStatus.RUNNING)
        _delete_values(IndicatorValue.objects.filter(run__in=abandoned))
        abandoned.update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            error="its process ended before it finished",
        )
        now = timezone.now()
        runs = IndicatorRun.objects.bulk_create(
            IndicatorRun(
                period_start=p.start,
                period_end=p.end,
                codes=codes,
                status=RunStatus.RUNNING,
                trigger=trigger,
                started_by=user,
                started_at=now,
            )
            for p in periods
        )
        if user is not None:
            # A person replaced the values live rankings read: say who, like any change.
            with acting_as(user, current_source()):
                for run in runs:
                    record(run, AuditAction.CREATE, {"period": [None, str(_period_of(run))]})
    return runs


def _write(
    runs: Sequence[IndicatorRun], computed: Sequence[dict[str, dict[int, lib.Value]]]
) -> None:
    """Insert the values, batch by batch. Each batch commits on its own: nobody reads a
    running run's values, so no transaction needs to span them and hold up other writers."""
    batch: list[tuple[Any, ...]] = []
    for run, per_code in zip(runs, computed, strict=True):
        count = 0
        for code, by_org in per_code.items():
            for org_id, value in by_org.items():
                batch.append(
                    (run.pk, code, org_id, value.value, value.numerator, value.denominator)
                )
                count += 1
                if len(batch) >= BATCH:
                    _insert(batch)
                    batch = []
        run.rows = count
    if batch:
        _insert(batch)


VALUE_COLUMNS = ("run", "code", "organisation", "value", "numerator", "denominator")


def _insert(batch: list[tuple[Any, ...]]) -> None:
    """One prepared INSERT run over the batch (``executemany``): 82,000 values in 0.3 s on
    SQLite where ``bulk_create`` took 2.4 s (a model instance per value, and statements of
    at most 999 parameters)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(name)) for name in VALUE_COLUMNS)
    marks = ", ".join(["%s"] * len(VALUE_COLUMNS))
    sql = f"INSERT INTO {quote(IndicatorValue._meta.db_table)} ({columns}) VALUES ({marks})"
    # One transaction per batch: in autocommit mode each row would be its own.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, batch)


def _column(name: str) -> str:
    found = IndicatorValue._meta.get_field(name)
    assert isinstance(found, Field) and found.column
    return str(found.column)


def _switch(runs: Sequence[IndicatorRun]) -> None:
    """The runs become current and those they replace superseded, in one transaction: one
    UPDATE for the old, one for the new. A current run is replaced by a new one of its
    period that computed at least its indicators."""
    for run in runs:
        IndicatorRun.objects.filter(pk=run.pk).update(rows=run.rows)
    now = timezone.now()
    ids = [run.pk for run in runs]
    with transaction.atomic():
        older = IndicatorRun.objects.filter(
            _periods_q(_period_of(r) for r in runs), status=RunStatus.CURRENT
        ).exclude(pk__in=ids)
        replaced = [
            old.pk
            for old in older.only("pk", "period_start", "period_end", "codes")
            for new in runs
            if (old.period_start, old.period_end) == (new.period_start, new.period_end)
            and set(old.codes) <= set(new.codes)
        ]
        IndicatorRun.objects.filter(pk__in=replaced).update(
            status=RunStatus.SUPERSEDED, superseded_at=now
        )
        IndicatorRun.objects.filter(pk__in=ids).update(status=RunStatus.CURRENT, finished_at=now)
    for run in runs:
        run.status, run.finished_at = RunStatus.CURRENT, now


def _fail(runs: Sequence[IndicatorRun], exc: BaseException) -> None:
    ids = [run.pk for run in runs]
    _delete_values(IndicatorValue.objects.filter(run_id__in=ids))
    IndicatorRun.objects.filter(pk__in=ids).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error=f"{type(exc).__name__}: {exc}"[:2000],
    )


def _delete_values(values: QuerySet[IndicatorValue]) -> int:
    """DELETE in one statement: ``QuerySet.delete()`` would load every row for the audit
    trail's delete signal, and stored values are not audited (they are derived)."""
    return int(values._raw_delete(values.db))


def prune() -> int:
    """Delete the values of runs superseded more than :data:`PRUNE_AFTER` ago (the runs stay,
    as the history of computations). Returns the number of values deleted."""
    cutoff = timezone.now() - PRUNE_AFTER
    old = IndicatorRun.objects.filter(status=RunStatus.SUPERSEDED, superseded_at__lt=cutoff)
    return _delete_values(IndicatorValue.objects.filter(run__in=old))


# --- reading ----------------------------------------------------------------------------------


@dataclass
class Stored:
    """Values of one or more periods as a page shows them, and where they come from."""

    periods: list[lib.Period]
    # Per period (in order): code → organisation id → value.
    values: list[dict[str, dict[int, lib.Value]]]
    runs: list[IndicatorRun] = field(default_factory=list)  # the current runs read
    running: list[IndicatorRun] = field(default_factory=list)  # refreshes under way
    live: bool = False  # some values were computed now and not stored
    # Per period, the codes asked for that no current run holds.
    missing: list[set[str]] = field(default_factory=list)

    @property
    def now(self) -> dict[str, dict[int, lib.Value]]:
        """The last period's values (the page's own period; the others are its trend)."""
        return self.values[-1]

    @property
    def as_of(self) -> datetime.datetime | None:
        """When the oldest values shown were read from the records; None when computed now."""
        if self.live or not self.runs:
            return None
        return min(run.started_at for run in self.runs)

    @property
    def stale(self) -> bool:
        as_of = self.as_of
        return as_of is not None and timezone.now() - as_of > max_age()

    @property
    def running_since(self) -> datetime.datetime | None:
        return min((run.started_at for run in self.running), default=None)

    @property
    def oldest_run(self) -> IndicatorRun | None:
        """The run of the oldest values shown: who or what started it."""
        return min(self.runs, key=lambda r: r.started_at, default=None)


def _empty(code: str) -> lib.Value:
    """The value of an organisation without records: what a run gives an organisation created
    after it (it had no records when the run read them)."""
    median = isinstance(lib.LIBRARY.get(code), lib.MedianIndicator)
    return lib.Value(None, None if median else 0, 0)


def _org_ids(organisations: Iterable[Organisation | int] | None) -> list[int] | None:
    if organisations is None:
        return None
    return [o.pk if isinstance(o, Organisation) else int(o) for o in organisations]


def read(
    periods: Sequence[lib.Period],
    organisations: Iterable[Organisation | int] | None = None,
    codes: Iterable[str] | None = None,
) -> Stored:
    """The current stored values, never computing: two queries (the runs, their values)
    whatever the number of periods and organisations. An organisation asked for that a run
    does not hold (created since) gets the value of no records."""
    chosen = _codes(codes)
    ids = _org_ids(organisations)
    runs = list(
        IndicatorRun.objects.filter(
            _periods_q(periods), status__in=[RunStatus.CURRENT, RunStatus.RUNNING]
        )
        .select_related("started_by")
        .order_by("started_at", "pk")
    )
    current = [r for r in runs if r.status == RunStatus.CURRENT]
    recent = timezone.now() - RUNNING_LIMIT
    running = [r for r in runs if r.status == RunStatus.RUNNING and r.started_at >= recent]
    index = {p: i for i, p in enumerate(periods)}
    covered: list[set[str]] = [set() for _ in periods]
    used: list[IndicatorRun] = []
    for run in current:
        codes_here = set(run.codes) & set(chosen)
        if codes_here:
            covered[index[_period_of(run)]] |= codes_here
            used.append(run)
    values: list[dict[str, dict[int, lib.Value]]] = [
        {code: {} for code in chosen if code in covered[i]} for i in range(len(periods))
    ]
    if used:
        rows = IndicatorValue.objects.filter(run_id__in=[r.pk for r in used])
        if codes is not None:
            rows = rows.filter(code__in=chosen)
        if ids is not None:
            rows = rows.filter(organisation_id__in=ids)
        order = {run.pk: (rank, index[_period_of(run)]) for rank, run in enumerate(used)}
        found = rows.values_list(
            "run_id", "code", "organisation_id", "value", "numerator", "denominator"
        )
        # Oldest run first, so a newer run's value of a code wins over an older one's.
        for run_id, code, org_id, value, numerator, denominator in sorted(
            found, key=lambda row: order[row[0]][0]
        ):
            by_code = values[order[run_id][1]]
            if code in by_code:
                by_code[code][org_id] = lib.Value(value, numerator, denominator)
    if ids is not None:
        for by_code in values:
            for code, by_org in by_code.items():
                for org_id in ids:
                    if org_id not in by_org:
                        by_org[org_id] = _empty(code)
    missing = [set(chosen) - covered[i] for i in range(len(periods))]
    return Stored(list(periods), values, used, running, False, missing)


def values_periods(
    periods: Sequence[lib.Period],
    organisations: Iterable[Organisation | int] | None = None,
    codes: Iterable[str] | None = None,
) -> Stored:
    """The stored values of the periods (:func:`read`); a period with no stored run is
    computed and stored first (every indicator, so the next page finds them all), one that
    lacks some of the codes gets those. When another refresh holds a period, its values are
    computed live for this page and not stored."""
    wanted = _unique(periods)
    ids = _org_ids(organisations)
    found = read(wanted, ids, codes)
    if not any(found.missing):
        return found
    groups: dict[frozenset[str], list[lib.Period]] = defaultdict(list)
    for period, missing, by_code in zip(wanted, found.missing, found.values, strict=True):
        if missing:
            todo = frozenset(lib.LIBRARY) if not by_code else frozenset(missing)
            groups[todo].append(period)
    skipped: list[lib.Period] = []
    for todo, group in groups.items():
        done = refresh(group, sorted(todo, key=list(lib.LIBRARY).index), None, RunTrigger.PAGE)
        skipped += done.skipped
    found = read(wanted, ids, codes)
    if skipped:
        _fill_live(found, skipped, ids, codes)
    return found


def _fill_live(
    found: Stored, periods: list[lib.Period], ids: list[int] | None, codes: Iterable[str] | None
) -> None:
    """Compute what is still missing for the page alone (another refresh holds the period)."""
    chosen = _codes(codes)
    computed = lib.compute_periods(periods, chosen, only=ids)
    for period, values in zip(periods, computed, strict=True):
        index = found.periods.index(period)
        for code in found.missing[index]:
            found.values[index][code] = values[code]
        found.missing[index] = set()
    found.live = True


def values(
    period: lib.Period,
    organisations: Iterable[Organisation | int] | None = None,
    codes: Iterable[str] | None = None,
) -> Stored:
    """:func:`values_periods` for one period (``.now`` holds its values)."""
    return values_periods([period], organisations, codes)


def fresh(
    period: lib.Period,
    organisations: Iterable[Organisation | int] | None,
    codes: Iterable[str],
) -> Stored | None:
    """The stored values of the period when every code is stored and none is older than the
    maximum age; None otherwise (the caller computes live). Never computes."""
    found = read([period], organisations, codes)
    if any(found.missing) or found.stale:
        return None
    return found


def stored_value(
    code: str, period: lib.Period, organisation: Organisation
) -> tuple[lib.Value, IndicatorRun] | None:
    """The value a page shows for one organisation, and its run; None when none is stored."""
    found = read([period], [organisation], [code])
    if found.missing[0]:
        return None
    run = max(found.runs, key=lambda r: r.started_at)
    return found.now[code][organisation.pk], run


# --- recompute now, and the daily job ---------------------------------------------------------


def start_refresh(user: Any, organisation: Organisation, periods: Sequence[lib.Period]) -> None:
    """ "Recompute now": a holder of SUPERVISE, for an organisation of their subtree, starts a
    refresh of the periods (every organisation's values: the tree shares one computation).
    It runs in a detached process, so the page answers at once and a restarted web worker
    does not take the work with it; inline with ``GONGHUI_JOBS_INLINE`` (tests)."""
    access.require_supervise(user, organisation)
    wanted = _unique(periods)
    if not wanted:
        raise DomainError(_("Choose a period."), field="period")
    if being_refreshed(wanted):
        raise Conflict(
            _("These indicators are being recomputed already; reload the page in a minute."),
            field="period",
        )
    if background.inline():
        refresh(wanted, by=user, trigger=RunTrigger.USER)
        return
    _detach(command(user.get_username(), wanted))


def command(username: str, periods: Sequence[lib.Period]) -> list[str]:
    """The command that refreshes the periods as the user: what an administrator would type."""
    argv = [sys.executable, "-m", "gonghui", "indicators", "refresh", "--as", username]
    for period in periods:
        argv += ["--period", f"{period.start.isoformat()}:{period.end.isoformat()}"]
    return argv


def _detach(argv: list[str]) -> int:
    """Start the refresh detached, its output appended to ``DATA_DIR/indicators/refresh.log``."""
    pid = background.detach(argv, settings.DATA_DIR / "indicators" / "refresh.log")
    logger.info("indicator refresh started as process %s: %s", pid, argv[3:])
    return pid


def daily_periods(day: datetime.date) -> list[lib.Period]:
    """What the daily job keeps fresh: the day's year and the years of the trend."""
    return trend_periods(lib.Period.year(day.year))


def refresh_daily(day: datetime.date) -> Refreshed:
    """The daily job: refresh each of :func:`daily_periods` that has no current run of every
    indicator computed on ``day`` or later. Idempotent per day: a second run the same day,
    or one after a "recompute now" that day, computes nothing."""
    periods = daily_periods(day)
    since = lib.start_of(day)
    done = IndicatorRun.objects.filter(
        _periods_q(periods), status=RunStatus.CURRENT, started_at__gte=since
    ).values_list("period_start", "period_end", "codes")
    complete = {(s, e) for s, e, codes in done if set(lib.LIBRARY) <= set(codes)}
    due = [p for p in periods if (p.start, p.end) not in complete]
    if not due:
        prune()
        return Refreshed([], [])
    return refresh(due, trigger=RunTrigger.SCHEDULE)
