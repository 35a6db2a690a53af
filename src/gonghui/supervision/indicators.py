"""The indicator library: documented formulas over Gonghui's records, computed for every
organisation's subtree and one or several periods in one set-based pass (DESIGN §1, §4.6;
issue 5). ``docs/indicators.md`` lists every indicator with its formula.

Each indicator names the records that make up its numerator and its denominator as a
queryset (:meth:`Indicator.denominator`, :meth:`Indicator.numerator`). The same querysets
serve both ends:

* :func:`compute` (one period) and :func:`compute_periods` (a trend: several periods) group
  them by organisation — one ``GROUP BY organisation`` query per part, a few per indicator,
  never one per organisation, and never one per period: the periods' grouped queries go to
  the database as one ``UNION ALL`` statement, each row tagged with its period — and roll
  the per-organisation counts up the tree in Python over the materialised paths;
* :func:`records` filters them to one organisation's subtree, so a value links to exactly
  the records behind it.

Why roll up in Python rather than join organisations to their ancestors by
``path LIKE ancestor.path || '%'``: the grouped rows number at most a few thousand (one per
organisation, or per organisation and day for medians); adding each to its at most five
ancestors is microseconds of work, where the LIKE join makes the database repeat the
aggregate for every ancestor (5× the rows) and cannot merge the histograms that exact
medians need. The one place the data is big (files, lines, memberships) stays in SQL.

Policy data: the "within the limit" shares read their limits from the hardship policy
(``Policy.filing_limit_days``, ``Policy.help_limit_days``) in force at the period's end for
each household's region, in the same query (:func:`policy_limit`).

The cross-check rate reads the external lists' rows, which live in Parquet beside the
database (``discovery.lists``): the ID numbers of the filed households' members go to DuckDB
once per computation and are matched there against every list imported in the period
(:class:`CrossCheckRate`).

A value is ``None`` ("no data") when its denominator is zero or its subtree has no records:
never a fake 0. Values are ``Decimal`` rounded to 4 places, so they compare exactly and
snapshot as text.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Concat, Substr, TruncDate
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from gonghui.assistance.choices import AidKind, FundSource, LedgerKind, LineStatus
from gonghui.assistance.models import AssistanceLine, LedgerEntry
from gonghui.discovery import lists
from gonghui.discovery.choices import CandidateStatus, ImportStatus
from gonghui.discovery.models import Candidate, ListImport, ListRowLink
from gonghui.errors import DomainError, NotAllowed
from gonghui.hardship.choices import (
    EventKind,
    ExitKind,
    FileStatus,
    FollowUpStatus,
    HardshipCategory,
    HardshipCause,
)
from gonghui.hardship.models import FileEvent, FollowUp, HardshipFile, IncomeReading, Policy
from gonghui.organisations.models import PATH_SEGMENT, PATH_SEP, Organisation
from gonghui.people.choices import MembershipStatus
from gonghui.people.models import HouseholdMember, Membership

from .models import Finding, FindingResult

PLACES = Decimal("0.0001")
PERCENT = Decimal(100)
PER_MILLE = Decimal(1000)
STEP = PATH_SEGMENT + len(PATH_SEP)

# Lines that are help given or committed: approved or further (planned and cancelled
# lines are not help; a failed payment was still approved help).
HELP_STATUSES = (LineStatus.APPROVED, LineStatus.BATCHED, LineStatus.PAID, LineStatus.FAILED)

# Help that fits a primary cause (分类帮扶). Causes not listed fit any help.
FITTING_KINDS: dict[int, tuple[str, ...]] = {
    HardshipCause.UNABLE_TO_WORK: (AidKind.LIVING,),
    HardshipCause.NOT_EMPLOYED: (AidKind.TRAINING, AidKind.JOB_REFERRAL),
    HardshipCause.LAID_OFF: (AidKind.TRAINING, AidKind.JOB_REFERRAL),
    HardshipCause.NO_INSURANCE: (AidKind.LEGAL_AID, AidKind.LIVING),
    HardshipCause.BENEFITS_UNPAID: (AidKind.LEGAL_AID,),
    HardshipCause.MAJOR_ILLNESS: (AidKind.MEDICAL, AidKind.MAJOR_ILLNESS),
    HardshipCause.DISASTER: (AidKind.ACCIDENT, AidKind.LIVING),
    HardshipCause.ACCIDENT: (AidKind.ACCIDENT,),
    HardshipCause.CHILDREN_IN_SCHOOL: (AidKind.EDUCATION,),
}

# Ledger kinds that bring money into a budget (+) or pass it on (−): the budget's total.
RECEIVED: dict[str, int] = {LedgerKind.GRANT: 1, LedgerKind.ALLOCATE_IN: 1, LedgerKind.RETURN_IN: 1}
PASSED_ON: dict[str, int] = {LedgerKind.ALLOCATE_OUT: -1, LedgerKind.RETURN_OUT: -1}
PAID: dict[str, int] = {LedgerKind.PAY: 1, LedgerKind.REVERSE: -1}

NUMERATOR, DENOMINATOR = "numerator", "denominator"


@dataclass(frozen=True)
class Period:
    """A closed range of days; ``as_of`` is the last day whose deadlines have passed."""

    start: datetime.date
    end: datetime.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DomainError(_("The period ends before it starts."), field="end")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(datetime.date(year, 1, 1), datetime.date(year, 12, 31))

    @property
    def years(self) -> list[int]:
        return list(range(self.start.year, self.end.year + 1))

    @property
    def as_of(self) -> datetime.date:
        return min(self.end, timezone.localdate())

    def days(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.start, f"{field}__lte": self.end})

    def moments(self, field: str) -> Q:
        """A date-time field within the period's days (local time): the same records as
        ``days(f"{field}__date")``, compared with two instants, so an index serves and no
        date conversion runs per row."""
        return Q(**{f"{field}__gte": start_of(self.start), f"{field}__lt": end_of(self.end)})


def start_of(day: datetime.date) -> datetime.datetime:
    """The first instant of a local day."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def end_of(day: datetime.date) -> datetime.datetime:
    """The first instant after a local day."""
    return start_of(day + datetime.timedelta(days=1))


@dataclass(frozen=True)
class Value:
    """An indicator for one subtree: the value (None = no data) and what it is made of.
    For a median, ``numerator`` is None and ``denominator`` counts the records."""

    value: Decimal | None
    numerator: int | None
    denominator: int

    def as_json(self) -> dict[str, Any]:
        return {
            "value": None if self.value is None else str(self.value),
            "numerator": self.numerator,
            "denominator": self.denominator,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Value:
        raw = data.get("value")
        return cls(None if raw is None else Decimal(raw), data["numerator"], data["denominator"])


def ratio(numerator: int, denominator: int, scale: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(PLACES, ROUND_HALF_UP)


class DaysBetween(models.Func):
    """Whole days from the first date expression to the second, on SQLite and PostgreSQL."""

    output_field = models.IntegerField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, *args: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        start_sql, start_params = compiler.compile(self.source_expressions[0])
        end_sql, end_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "sqlite":
            sql = f"CAST(ROUND(julianday({end_sql}) - julianday({start_sql})) AS INTEGER)"
        else:
            sql = f"(CAST({end_sql} AS date) - CAST({start_sql} AS date))"
        # The end comes first in the text, so its parameters do too.
        return sql, [*end_params, *start_params]


def union_all(parts: Sequence[QuerySet[Any]]) -> QuerySet[Any]:
    """The same grouped query for several periods as one statement (``UNION ALL``): the
    query count does not grow with the number of periods."""
    return parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]


def tagged(index: int) -> models.Value:
    """The period's position, as a constant column of each grouped row."""
    return models.Value(index, output_field=models.IntegerField())


class Indicator:
    """A ratio of two record sets, counted per organisation and rolled up the tree.

    Subclasses give ``denominator()`` and either ``numerator_q()`` (the numerator is the
    part of the denominator that meets a condition: one grouped query) or ``numerator()``
    with its own ``numerator_org`` and ``measure`` (two grouped queries)."""

    code = ""
    name: Promise | str = ""
    description: Promise | str = ""
    numerator_text: Promise | str = ""
    denominator_text: Promise | str = ""
    unit: Promise | str = _("%")
    scale = PERCENT
    higher_is_better = True
    # The lookup from each part's records to their Organisation.
    denominator_org = "organisation"
    numerator_org = "organisation"

    def denominator(self, period: Period) -> QuerySet[Any]:
        raise NotImplementedError

    def numerator_q(self, period: Period) -> Q | None:
        return None

    def numerator(self, period: Period) -> QuerySet[Any]:
        condition = self.numerator_q(period)
        assert condition is not None, f"{self.code}: give numerator_q or numerator"
        return self.denominator(period).filter(condition)

    def measure(self, part: str) -> Any:
        """What is added up per organisation: a count of records, or an amount."""
        return Count("pk")

    def org_field(self, part: str) -> str:
        return self.numerator_org if part == NUMERATOR else self.denominator_org

    def part(self, part: str, period: Period) -> QuerySet[Any]:
        if part == NUMERATOR:
            return self.numerator(period)
        if part == DENOMINATOR:
            return self.denominator(period)
        raise DomainError(_("Choose the numerator or the denominator."), field="part")

    def scoped(self, part: str, period: Period, organisation: Organisation) -> QuerySet[Any]:
        """The records of one part in the organisation's subtree."""
        field = self.org_field(part)
        return self.part(part, period).filter(organisation.subtree_q(f"{field}__"))

    # --- computing ---------------------------------------------------------------------

    def grouped(self, periods: Sequence[Period], tree: Tree) -> list[dict[int, tuple[int, int]]]:
        """Per period, (numerator, denominator) per organisation id, over the records under
        the tree's root: one statement per part whatever the number of periods."""
        if self.numerator_q(periods[0]) is not None:
            found: list[dict[int, tuple[int, int]]] = [{} for _ in periods]
            org = f"{self.denominator_org}_id"
            parts = [
                self.denominator(period)
                .filter(tree.q(self.denominator_org))
                .values(org)
                .annotate(
                    num=Count("pk", filter=self.numerator_q(period)),
                    den=Count("pk"),
                    bucket=tagged(index),
                )
                .order_by()
                for index, period in enumerate(periods)
            ]
            for row in union_all(parts):
                found[row["bucket"]][row[org]] = (row["num"], row["den"])
            return found
        numerators = self.totals(NUMERATOR, periods, tree)
        denominators = self.totals(DENOMINATOR, periods, tree)
        return [
            {org_id: (num.get(org_id, 0), den.get(org_id, 0)) for org_id in num.keys() | den.keys()}
            for num, den in zip(numerators, denominators, strict=True)
        ]

    def totals(self, part: str, periods: Sequence[Period], tree: Tree) -> list[dict[int, int]]:
        """Per period, the part's measure per organisation id: one statement."""
        field = f"{self.org_field(part)}_id"
        parts = [
            self.part(part, period)
            .filter(tree.q(self.org_field(part)))
            .values(field)
            .annotate(total=self.measure(part), bucket=tagged(index))
            .order_by()
            for index, period in enumerate(periods)
        ]
        found: list[dict[int, int]] = [defaultdict(int) for _ in periods]
        for row in union_all(parts):
            found[row["bucket"]][row[field]] += row["total"] or 0
        return found

    def roll_up(
        self,
        per_org: Mapping[int, tuple[int, int]],
        tree: Tree,
        only: Iterable[int] | None = None,
    ) -> dict[int, Value]:
        """Each organisation's value over its subtree (of those in ``only``, or all)."""
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for org_id, (num, den) in per_org.items():
            for prefix in tree.prefixes(org_id):
                totals[prefix][0] += num
                totals[prefix][1] += den
        values = {}
        for org_id, path in tree.chosen(only):
            num, den = totals.get(path, (0, 0))
            values[org_id] = Value(ratio(num, den, self.scale), num, den)
        return values

    def compute_periods(
        self, periods: Sequence[Period], tree: Tree, only: Iterable[int] | None = None
    ) -> list[dict[int, Value]]:
        """Per period (in order), organisation id → value."""
        chosen = None if only is None else list(only)
        return [self.roll_up(by_org, tree, chosen) for by_org in self.grouped(periods, tree)]

    def compute(self, period: Period, tree: Tree) -> dict[int, Value]:
        return self.compute_periods([period], tree)[0]

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": str(self.name),
            "description": str(self.description),
            "unit": str(self.unit),
            "higher_is_better": self.higher_is_better,
            "numerator": str(self.numerator_text),
            "denominator": str(self.denominator_text),
        }


class MedianIndicator(Indicator):
    """The median of a number of days over a set of records. Set-based: one query groups
    the records by organisation and number of days (a histogram per organisation); the
    histograms are added up the tree and the median read off the merged histogram, exact
    (the mean of the two middle values for an even count)."""

    unit = _("days")
    higher_is_better = False

    def days(self, period: Period) -> Any:
        raise NotImplementedError

    def numerator(self, period: Period) -> QuerySet[Any]:
        # The records that make up a median are its population.
        return self.denominator(period)

    def histograms(self, periods: Sequence[Period], tree: Tree) -> list[dict[int, Counter[int]]]:
        org = f"{self.denominator_org}_id"
        parts = [
            self.denominator(period)
            .filter(tree.q(self.denominator_org))
            .annotate(d=self.days(period))
            .values(org, "d")
            .annotate(n=Count("pk"), bucket=tagged(index))
            .order_by()
            for index, period in enumerate(periods)
        ]
        found: list[dict[int, Counter[int]]] = [defaultdict(Counter) for _ in periods]
        for row in union_all(parts):
            if row["d"] is not None:
                found[row["bucket"]][row[org]][row["d"]] += row["n"]
        return found

    def merge(
        self, histograms: Mapping[int, Counter[int]], tree: Tree, only: Iterable[int] | None
    ) -> dict[int, Value]:
        merged: dict[str, Counter[int]] = defaultdict(Counter)
        for org_id, histogram in histograms.items():
            for prefix in tree.prefixes(org_id):
                merged[prefix].update(histogram)
        values = {}
        for org_id, path in tree.chosen(only):
            histogram = merged.get(path, Counter())
            values[org_id] = Value(median(histogram), None, sum(histogram.values()))
        return values

    def compute_periods(
        self, periods: Sequence[Period], tree: Tree, only: Iterable[int] | None = None
    ) -> list[dict[int, Value]]:
        chosen = None if only is None else list(only)
        return [self.merge(found, tree, chosen) for found in self.histograms(periods, tree)]


class PickedIndicator(Indicator):
    """A ratio whose numerator is picked from the denominator's records outside the
    database (flags evaluated in Python, ID numbers matched in DuckDB) rather than by a
    condition: one statement lists every period's records under the tree, ``picks`` says
    which of them count; ``narrow`` picks them from one set of records."""

    def picks(self, periods: Sequence[Period], tree: Tree) -> Callable[[int, int], bool]:
        """Whether the record (period index, id) is in the numerator."""
        raise NotImplementedError

    def narrow(
        self, records: QuerySet[Any], period: Period, root: Organisation | None
    ) -> QuerySet[Any]:
        """The numerator's part of ``records``: the denominator's in ``root``'s subtree (all
        of them without a root)."""
        raise NotImplementedError

    def grouped(self, periods: Sequence[Period], tree: Tree) -> list[dict[int, tuple[int, int]]]:
        parts = [
            self.denominator(period)
            .filter(tree.q(self.denominator_org))
            .annotate(bucket=tagged(index))
            .values_list("bucket", "pk", f"{self.denominator_org}_id")
            .order_by()
            for index, period in enumerate(periods)
        ]
        rows = list(union_all(parts))
        picked = self.picks(periods, tree)
        found: list[dict[int, list[int]]] = [defaultdict(lambda: [0, 0]) for _ in periods]
        for bucket, pk, org_id in rows:
            found[bucket][org_id][1] += 1
            found[bucket][org_id][0] += picked(bucket, pk)
        return [{org_id: (num, den) for org_id, (num, den) in by_org.items()} for by_org in found]

    def numerator(self, period: Period) -> QuerySet[Any]:
        return self.narrow(self.denominator(period), period, None)

    def scoped(self, part: str, period: Period, organisation: Organisation) -> QuerySet[Any]:
        if part != NUMERATOR:
            return super().scoped(part, period, organisation)
        within = organisation.subtree_q(f"{self.denominator_org}__")
        return self.narrow(self.denominator(period).filter(within), period, organisation)


def median(histogram: Mapping[int, int]) -> Decimal | None:
    """The median of a multiset given as value → count; None when it is empty."""
    count = sum(histogram.values())
    if not count:
        return None
    wanted = {(count - 1) // 2, count // 2}  # the middle position(s), 0-based
    picked: list[int] = []
    seen = 0
    for day in sorted(histogram):
        for position in sorted(wanted):
            if seen <= position < seen + histogram[day]:
                picked.append(day)
        seen += histogram[day]
    return (Decimal(sum(picked)) / Decimal(len(picked))).quantize(PLACES, ROUND_HALF_UP)


# --- the organisation tree ----------------------------------------------------------------


class Tree:
    """The organisations under a root (all of them without one): id → path, and the path
    prefixes of each organisation inside the tree (itself and its ancestors)."""

    def __init__(self, root: Organisation | None = None) -> None:
        self.root = root
        within = root.subtree_q() if root is not None else Q()
        orgs = Organisation.objects.filter(within).values_list("pk", "path")
        self.paths: dict[int, str] = dict(orgs)
        top = len(root.path) if root is not None else STEP
        self._prefixes = {
            pk: [path[:end] for end in range(top, len(path) + 1, STEP)]
            for pk, path in self.paths.items()
        }

    def q(self, org_field: str) -> Q:
        """Records whose organisation (through ``org_field``) lies under the root. Under a
        root at the top of the tree, no filter (and no join to the organisations): records
        of another top-level tree, if any, are grouped but rolled up nowhere."""
        if self.root is None or self.root.parent_id is None:
            return Q()
        return self.root.subtree_q(f"{org_field}__")

    def prefixes(self, org_id: int) -> list[str]:
        return self._prefixes.get(org_id, [])

    def chosen(self, only: Iterable[int] | None) -> list[tuple[int, str]]:
        """(id, path) of the organisations asked for (all without ``only``)."""
        if only is None:
            return list(self.paths.items())
        return [(pk, self.paths[pk]) for pk in only if pk in self.paths]


# --- shared record sets -------------------------------------------------------------------


def on_record(period: Period) -> Q:
    """Files filed on or before the period's end and not exited before it started."""
    return Q(status__in=[FileStatus.FILED, FileStatus.CLOSED], filed_on__lte=period.end) & ~Q(
        exit_on__lt=period.start
    )


def help_lines(period: Period, kinds: Iterable[str] | None = None) -> QuerySet[AssistanceLine]:
    lines = AssistanceLine.objects.filter(status__in=HELP_STATUSES, year__in=period.years)
    return lines.filter(kind__in=list(kinds)) if kinds is not None else lines


def first_help(period: Period) -> Subquery:
    """The day of a file's first help approved on or after its filing (any year: help
    before the period counts; a holiday visit before the household was filed does not)."""
    lines = (
        AssistanceLine.objects.filter(
            file=OuterRef("pk"),
            status__in=HELP_STATUSES,
            approved_at__isnull=False,
            approved_at__date__gte=OuterRef("filed_on"),
        )
        .values("file")
        .annotate(first=Min(TruncDate("approved_at")))
        .values("first")
    )
    return Subquery(lines, output_field=models.DateField())


def policy_limit(field: str, day: datetime.date, region: str = "household__region_id") -> Any:
    """A day limit of the hardship policy in force on ``day`` for each record's region,
    chosen as :func:`gonghui.hardship.policy.in_force_for` chooses (the most specific region
    of the lineage county → city → province, then the latest start), or the field's default
    where no policy is in force. One correlated subquery on the small policy table, so
    regions with different limits are exact in the same grouped query.

    The lineage of a 6-digit code is the code with its last two, then four, digits zeroed
    (``Region.lineage_codes``); its most specific member is therefore its largest code."""
    code = OuterRef(region)
    lineage = (
        Q(region_id=code)
        | Q(region_id=Concat(Substr(code, 1, 4), models.Value("00")))
        | Q(region_id=Concat(Substr(code, 1, 2), models.Value("0000")))
    )
    in_force = Q(valid_from__lte=day) & (Q(valid_to__isnull=True) | Q(valid_to__gte=day))
    found = (
        Policy.objects.filter(in_force, lineage)
        .order_by("-region_id", "-valid_from")
        .values(field)[:1]
    )
    model_field = Policy._meta.get_field(field)
    assert isinstance(model_field, models.Field)
    default = model_field.get_default()
    return Coalesce(
        Subquery(found, output_field=models.IntegerField()),
        models.Value(default),
        output_field=models.IntegerField(),
    )


def period_candidates(period: Period) -> QuerySet[Candidate]:
    """Discovery candidates of the period: flagged in it, and not dropped (no longer found
    by the rules) by its end while nobody had acted on them yet."""
    dropped_untouched = Q(
        status=CandidateStatus.NEW, dropped_at__isnull=False, dropped_at__lt=end_of(period.end)
    )
    return Candidate.objects.filter(period.moments("created_at")).exclude(dropped_untouched)


def candidates_before(worker: Any, moment: Any) -> QuerySet[Candidate]:
    """Candidates of ``worker`` flagged before ``moment`` and still found at it."""
    return Candidate.objects.filter(worker_id=worker, created_at__lt=moment).filter(
        Q(dropped_at__isnull=True) | Q(dropped_at__gt=moment)
    )


def later_files(extra: Q | None = None) -> tuple[Exists, Exists]:
    """Files of the outer candidate's worker (as applicant, or as a registered household
    member) opened after the candidate was flagged and filed since (``filed_on`` set)."""
    worker = OuterRef("worker_id")
    files = HardshipFile.objects.filter(
        filed_on__isnull=False, created_at__gt=OuterRef("created_at")
    )
    if extra is not None:
        files = files.filter(extra)
    return (
        Exists(files.filter(applicant_id=worker)),
        Exists(files.filter(household__members__worker_id=worker)),
    )


def signed_sum(signs: Mapping[str, int]) -> Sum:
    """SUM of ledger amounts, each kind with its sign; other kinds add nothing."""
    whens = [
        models.When(kind=kind, then=F("amount_fen") if sign > 0 else -F("amount_fen"))
        for kind, sign in signs.items()
    ]
    return Sum(models.Case(*whens, default=models.Value(0), output_field=models.BigIntegerField()))


# --- the library --------------------------------------------------------------------------


class FilesPerThousandMembers(Indicator):
    code = "files_per_1000_members"
    name = _("Files per 1,000 members")
    description = _(
        "Hardship files on record in the period per 1,000 active union members of the "
        "subtree; compare it with the province's own value (the root of the tree)."
    )
    numerator_text = _("files filed by the period's end and not exited before it began")
    denominator_text = _("active memberships")
    unit = _("per 1,000 members")
    scale = PER_MILLE

    def denominator(self, period: Period) -> QuerySet[Any]:
        return Membership.objects.filter(status=MembershipStatus.ACTIVE, since__lte=period.end)

    def numerator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(on_record(period))

    def totals(self, part: str, periods: Sequence[Period], tree: Tree) -> list[dict[int, int]]:
        if part != DENOMINATOR:
            return super().totals(part, periods, tree)
        # The memberships are the biggest table read here, and a period's denominator is
        # those started by its end: one scan labels each with the first period end it
        # started by, and a membership counts in every period ending on or after that.
        ends = sorted({period.end for period in periods})
        started_by = models.Case(
            *(models.When(since__lte=end, then=models.Value(i)) for i, end in enumerate(ends)),
            output_field=models.IntegerField(),
        )
        rows = (
            self.denominator(Period(ends[-1], ends[-1]))  # started by the last end
            .filter(tree.q("organisation"))
            .annotate(by=started_by)
            .values("organisation_id", "by")
            .annotate(total=Count("pk"))
            .order_by()
        )
        found: list[dict[int, int]] = [defaultdict(int) for _ in periods]
        for row in rows:
            for index, period in enumerate(periods):
                if ends[row["by"]] <= period.end:
                    found[index][row["organisation_id"]] += row["total"]
        return found


class DaysToFiling(MedianIndicator):
    code = "days_to_filing"
    name = _("Days from application to filing (median)")
    description = _(
        "The median number of days from application to filing of the files filed in the period."
    )
    numerator_text = _("days from application to filing")
    denominator_text = _("files filed in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(period.days("filed_on"), applied_on__isnull=False)

    def days(self, period: Period) -> Any:
        return DaysBetween("applied_on", "filed_on")


class FiledWithinLimit(Indicator):
    code = "filed_within_limit"
    name = _("Files filed within the limit")
    description = _(
        "Share of the files filed in the period that were filed within the limit of the "
        "policy in force at the period's end for the household's region (“file within "
        "(days of the application)”; 30 days where no policy is in force)."
    )
    numerator_text = _("files filed within the limit")
    denominator_text = _("files filed in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(period.days("filed_on")).annotate(
            to_filing=DaysBetween("applied_on", "filed_on"),
            limit_days=policy_limit("filing_limit_days", period.end),
        )

    def numerator_q(self, period: Period) -> Q:
        return Q(to_filing__lte=F("limit_days"))


class DaysToFirstHelp(MedianIndicator):
    code = "days_to_first_help"
    name = _("Days from filing to first help (median)")
    description = _(
        "For the files filed in the period that have been helped, the median number of "
        "days from filing to the approval of their first help."
    )
    numerator_text = _("days from filing to first help")
    denominator_text = _("files filed in the period with help")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(period.days("filed_on")).filter(
            Exists(AssistanceLine.objects.filter(file=OuterRef("pk"), status__in=HELP_STATUSES))
        )

    def days(self, period: Period) -> Any:
        return DaysBetween("filed_on", first_help(period))


class HelpedWithinLimit(Indicator):
    code = "helped_within_limit"
    name = _("Files helped within the limit")
    description = _(
        "Share of the files filed in the period whose first help was approved within the "
        "limit of the policy in force at the period's end for the household's region "
        "(“first help within (days of filing)”; 30 days where no policy is in force). Files "
        "never helped count as late."
    )
    numerator_text = _("files helped within the limit")
    denominator_text = _("files filed in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(period.days("filed_on")).annotate(
            to_help=DaysBetween("filed_on", first_help(period)),
            limit_days=policy_limit("help_limit_days", period.end),
        )

    def numerator_q(self, period: Period) -> Q:
        return Q(to_help__isnull=False, to_help__lte=F("limit_days"))


class HelpFitsCause(Indicator):
    code = "help_fits_cause"
    name = _("Help that fits the cause")
    description = _(
        "Share of the files on record that were helped in the period whose help includes "
        "a kind that fits their primary cause: illness → medical aid, school → education "
        "aid, laid off or not employed → training or job referral, disaster or accident → "
        "accident aid, and so on (分类帮扶)."
    )
    numerator_text = _("helped files with help that fits their primary cause")
    denominator_text = _("files on record helped in the period (cause with a fitting kind)")

    def denominator(self, period: Period) -> QuerySet[Any]:
        helped = help_lines(period).filter(file=OuterRef("pk"))
        return HardshipFile.objects.filter(
            on_record(period), Exists(helped), primary_cause__in=list(FITTING_KINDS)
        )

    def numerator_q(self, period: Period) -> Q:
        fits = Q(pk__in=[])
        for cause, kinds in FITTING_KINDS.items():
            lines = help_lines(period, kinds).filter(file=OuterRef("pk"))
            fits |= Q(primary_cause=cause) & Q(Exists(lines))
        return fits


class DeepWithLivingAid(Indicator):
    code = "deep_with_living_aid"
    name = _("Deep-hardship households with living aid")
    description = _(
        "Share of the deep-hardship files on record in the period that received living "
        "aid (approved or paid) in the period's years."
    )
    numerator_text = _("deep-hardship files with living aid")
    denominator_text = _("deep-hardship files on record")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(on_record(period), category=HardshipCategory.DEEP)

    def numerator_q(self, period: Period) -> Q:
        return Q(Exists(help_lines(period, [AidKind.LIVING]).filter(file=OuterRef("pk"))))


class FundExecution(Indicator):
    code = "fund_execution"
    name: Promise | str = _("Fund execution rate")
    description: Promise | str = _(
        "Money paid out (payments less reversals) as a share of the money the subtree's "
        "budgets of the period's years received (grants and allocations in, less what was "
        "passed on), from the ledger."
    )
    numerator_text = _("paid (fen)")
    denominator_text = _("budget received (fen)")
    denominator_org = numerator_org = "budget__organisation"

    def _entries(self, period: Period, kinds: Iterable[str]) -> QuerySet[LedgerEntry]:
        return LedgerEntry.objects.filter(budget__year__in=period.years, kind__in=list(kinds))

    def denominator(self, period: Period) -> QuerySet[Any]:
        return self._entries(period, [*RECEIVED, *PASSED_ON])

    def numerator(self, period: Period) -> QuerySet[Any]:
        return self._entries(period, PAID)

    def measure(self, part: str) -> Any:
        return signed_sum(PAID if part == NUMERATOR else {**RECEIVED, **PASSED_ON})


class FundExecutionBySource(FundExecution):
    """Fund execution over the budgets of the funds of one source (central budget, local
    matching, union funds …): one indicator per source, coded ``fund_execution:<source>``,
    so a competition can weigh each fund on its own."""

    def __init__(self, source: FundSource) -> None:
        self.source = source.value
        self.code = f"fund_execution:{source.value}"
        self.name = format_lazy(_("Fund execution rate: {source}"), source=source.label)
        self.description = format_lazy(
            _(
                "Money paid out (payments less reversals) as a share of the money received "
                "by the subtree's budgets of the period's years whose fund's source is "
                "“{source}” (grants and allocations in, less what was passed on), from the "
                "ledger."
            ),
            source=source.label,
        )

    def _entries(self, period: Period, kinds: Iterable[str]) -> QuerySet[LedgerEntry]:
        return super()._entries(period, kinds).filter(budget__fund__source=self.source)

    @staticmethod
    def compute_together(
        chosen: Sequence[FundExecutionBySource],
        periods: Sequence[Period],
        tree: Tree,
        only: Iterable[int] | None = None,
    ) -> dict[str, list[dict[int, Value]]]:
        """Several sources at once: each part grouped by organisation *and* fund source in
        one statement, instead of two statements per source."""
        if not chosen:
            return {}
        sources = {indicator.source: indicator for indicator in chosen}
        org = f"{FundExecution.denominator_org}_id"
        found: dict[str, list[dict[int, list[int]]]] = {
            source: [defaultdict(lambda: [0, 0]) for _ in periods] for source in sources
        }
        overall = FundExecution()
        for position, part in enumerate((NUMERATOR, DENOMINATOR)):
            parts = [
                overall.part(part, period)
                .filter(tree.q(FundExecution.denominator_org), budget__fund__source__in=sources)
                .values(org, "budget__fund__source")
                .annotate(total=overall.measure(part), bucket=tagged(index))
                .order_by()
                for index, period in enumerate(periods)
            ]
            for row in union_all(parts):
                by_org = found[row["budget__fund__source"]][row["bucket"]]
                by_org[row[org]][position] += row["total"] or 0
        wanted = None if only is None else list(only)
        return {
            indicator.code: [
                indicator.roll_up({k: (n, d) for k, (n, d) in by_org.items()}, tree, wanted)
                for by_org in found[source]
            ]
            for source, indicator in sources.items()
        }


class Compliance(PickedIndicator):
    code = "compliance"
    name = _("Payments with no flag")
    description = _(
        "Share of the cash lines paid in the period that carry no flag (paid twice from "
        "two funds, no active file where the fund needs one, above a cap)."
    )
    numerator_text = _("paid lines with no flag")
    denominator_text = _("cash lines paid in the period")

    def paid(self) -> QuerySet[AssistanceLine]:
        return AssistanceLine.objects.filter(status=LineStatus.PAID, cash=True, amount_fen__gt=0)

    def denominator(self, period: Period) -> QuerySet[Any]:
        return self.paid().filter(period.days("paid_on"))

    def flagged(self, lines: QuerySet[AssistanceLine]) -> set[int]:
        from gonghui.assistance.flags import evaluate

        return {pk for pk, codes in evaluate(lines).codes.items() if codes}

    def narrow(
        self, records: QuerySet[Any], period: Period, root: Organisation | None
    ) -> QuerySet[Any]:
        return records.exclude(pk__in=self.flagged(records))

    def picks(self, periods: Sequence[Period], tree: Tree) -> Callable[[int, int], bool]:
        # A line's flags do not depend on the other lines asked about (each compares the
        # line with all lines of its household and year), so the lines of every period are
        # evaluated together: the flags' few queries once, not once per period.
        any_period = Q(pk__in=[])
        for period in periods:
            any_period |= period.days("paid_on")
        flagged = self.flagged(self.paid().filter(tree.q("organisation"), any_period))
        return lambda bucket, pk: pk not in flagged


class ReviewsOnTime(Indicator):
    code = "reviews_on_time"
    name = _("Reviews done on time")
    description = _(
        "Of the files whose periodic review fell due in the period (and before today), the "
        "share reviewed on or before the due day."
    )
    numerator_text = _("files reviewed on time")
    denominator_text = _("files with a review due in the period")

    def _reviews(self, period: Period) -> Any:
        from gonghui.hardship.models import PeriodicReview

        return PeriodicReview.objects.filter(file=OuterRef("pk"), due_on__gte=period.start).filter(
            due_on__lte=period.as_of
        )

    def denominator(self, period: Period) -> QuerySet[Any]:
        overdue = Q(
            status=FileStatus.FILED, review_due__gte=period.start, review_due__lte=period.as_of
        )
        return HardshipFile.objects.filter(Q(Exists(self._reviews(period))) | overdue)

    def numerator_q(self, period: Period) -> Q:
        on_time = self._reviews(period).filter(done_on__lte=F("due_on"))
        return Q(Exists(on_time))


class ExitsWithEvidence(Indicator):
    code = "exits_with_evidence"
    name = _("Exits with evidence")
    description = _(
        "Share of the files exited in the period whose exit is documented: out of hardship "
        "(脱困) with at least 6 monthly income readings above the standard, any other exit "
        "with its evidence described."
    )
    numerator_text = _("exits with evidence")
    denominator_text = _("files exited in the period")
    readings_needed = 6

    def denominator(self, period: Period) -> QuerySet[Any]:
        above = (
            IncomeReading.objects.filter(
                file=OuterRef("pk"), per_capita_income__gt=F("living_standard")
            )
            .values("file")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return HardshipFile.objects.filter(
            period.days("exit_on"), status=FileStatus.CLOSED
        ).annotate(readings_above=Subquery(above, output_field=models.IntegerField()))

    def numerator_q(self, period: Period) -> Q:
        recovered = Q(exit_kind=ExitKind.RECOVERED, readings_above__gte=self.readings_needed)
        other = ~Q(exit_kind__in=[ExitKind.RECOVERED, ""]) & ~Q(exit_reason="")
        return recovered | other


class RelapseRate(Indicator):
    code = "relapse_rate"
    name = _("Relapse rate")
    description = _(
        "Share of the households that had left the file (exited by the period's end) that "
        "fell back and were reopened during the period (防返困)."
    )
    numerator_text = _("files reopened in the period")
    denominator_text = _("files exited by the period's end, or reopened in it")
    higher_is_better = False

    def _events(self, kind: str, period: Period) -> QuerySet[FileEvent]:
        return FileEvent.objects.filter(file=OuterRef("pk"), kind=kind)

    def denominator(self, period: Period) -> QuerySet[Any]:
        exited = self._events(EventKind.EXITED, period).filter(at__lt=end_of(period.end))
        return HardshipFile.objects.filter(Q(Exists(exited)) | self.numerator_q(period))

    def numerator_q(self, period: Period) -> Q:
        reopened = self._events(EventKind.REOPENED, period).filter(period.moments("at"))
        return Q(Exists(reopened))


class RecordsComplete(Indicator):
    code = "records_complete"
    name = _("Records complete")
    description = _(
        "Share of the files on record in the period whose record is complete: income "
        "pledge and finance-check authorisation signed, income assessed, category set, and "
        "a home investigation with at least one attachment."
    )
    numerator_text = _("complete files")
    denominator_text = _("files on record")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(on_record(period))

    def numerator_q(self, period: Period) -> Q:
        from gonghui.hardship.models import Attachment

        attached = Attachment.objects.filter(file=OuterRef("pk"), investigation__isnull=False)
        return (
            Q(income_pledge=True, finance_check_authorised=True, per_capita_income__isnull=False)
            & ~Q(category="")
            & Q(Exists(attached))
        )


class FollowUpsOnTime(Indicator):
    code = "follow_ups_on_time"
    name = _("Follow-ups on time")
    description = _(
        "Of the follow-ups due in the period (and before today), the share done on or "
        "before the due day."
    )
    numerator_text = _("follow-ups done on time")
    denominator_text = _("follow-ups due")
    denominator_org = numerator_org = "file__organisation"

    def denominator(self, period: Period) -> QuerySet[Any]:
        return FollowUp.objects.filter(due_on__gte=period.start, due_on__lte=period.as_of)

    def numerator_q(self, period: Period) -> Q:
        return Q(status=FollowUpStatus.DONE, done_on__lte=F("due_on"))


class FindingsRectifiedOnTime(Indicator):
    code = "findings_rectified_on_time"
    name = _("Supervision findings rectified on time")
    description = _(
        "Of the problems that spot checks and site inspections found whose rectification "
        "deadline fell in the period (and before today), the share rectified on or before "
        "the deadline. The organisation is the one the task was assigned to."
    )
    numerator_text = _("problems rectified by their deadline")
    denominator_text = _("problems due for rectification in the period")
    denominator_org = numerator_org = "task__organisation"

    def denominator(self, period: Period) -> QuerySet[Any]:
        return Finding.objects.filter(
            result=FindingResult.PROBLEM,
            rectify_by__gte=period.start,
            rectify_by__lte=period.as_of,
        )

    def numerator_q(self, period: Period) -> Q:
        return Q(rectified_on__isnull=False, rectified_on__lte=F("rectify_by"))


# --- finding: discovery ---------------------------------------------------------------------

# Outcomes beyond "new", and those that close a candidate (DESIGN §4.6: coverage of outreach).
ACTED_ON = (
    CandidateStatus.CONTACTED,
    CandidateStatus.FILED,
    CandidateStatus.NOT_ELIGIBLE,
    CandidateStatus.UNREACHABLE,
)
RESOLVED = (CandidateStatus.FILED, CandidateStatus.NOT_ELIGIBLE, CandidateStatus.UNREACHABLE)


class CandidatesContacted(Indicator):
    code = "candidates_contacted"
    name = _("Discovery candidates contacted")
    description = _(
        "Of the discovery candidates flagged in the period for the subtree's unions (the "
        "union responsible for each), the share whose status has moved beyond new: "
        "contacted, filed, not eligible or unreachable. A candidate the rules stopped "
        "finding by the period's end before anyone acted on it is left out. The status is "
        "the latest recorded; freeze a competition to keep a period's value."
    )
    numerator_text = _("candidates acted on")
    denominator_text = _("candidates flagged in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return period_candidates(period)

    def numerator_q(self, period: Period) -> Q:
        return Q(status__in=ACTED_ON)


class CandidatesResolved(CandidatesContacted):
    code = "candidates_resolved"
    name = _("Discovery candidates resolved")
    description = _(
        "Of the discovery candidates flagged in the period for the subtree's unions, the "
        "share with a final outcome: filed, not eligible or unreachable (the same "
        "candidates as “candidates contacted”)."
    )
    numerator_text = _("candidates with a final outcome")

    def numerator_q(self, period: Period) -> Q:
        return Q(status__in=RESOLVED)


class FilesFromDiscovery(Indicator):
    code = "files_from_discovery"
    name = _("Files that came from discovery")
    description = _(
        "Of the files filed in the period, the share whose applicant or a registered "
        "member of whose household was a discovery candidate (of any rule, in any union) "
        "when the file was opened: flagged before the file was recorded and not dropped "
        "by then."
    )
    numerator_text = _("files of households flagged before the file was opened")
    denominator_text = _("files filed in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(period.days("filed_on"))

    def numerator_q(self, period: Period) -> Q:
        opened = OuterRef("created_at")
        applicant = candidates_before(OuterRef("applicant_id"), opened)
        flagged_member = candidates_before(OuterRef("worker_id"), OuterRef(opened))
        members = HouseholdMember.objects.filter(
            household_id=OuterRef("household_id"), worker__isnull=False
        ).filter(Exists(flagged_member))
        return Q(Exists(applicant)) | Q(Exists(members))


class MissedRate(Indicator):
    code = "missed_rate"
    name = _("Missed-rate estimate")
    description = _(
        "Of the discovery candidates flagged in the period for the subtree's unions whose "
        "household was filed afterwards (a file opened after the flag that reached "
        "filing, anywhere), the share filed only by a union outside the responsible "
        "union's own subtree: households the responsible union missed (漏评). A file "
        "filed after the period still counts, so a past period's value can rise."
    )
    numerator_text = _("candidates filed only by another union")
    denominator_text = _("candidates filed afterwards")
    higher_is_better = False

    def denominator(self, period: Period) -> QuerySet[Any]:
        applicant, member = later_files()
        return period_candidates(period).filter(Q(applicant) | Q(member))

    def numerator_q(self, period: Period) -> Q:
        here = Q(organisation__path__startswith=OuterRef("organisation__path"))
        applicant, member = later_files(here)
        return ~Q(applicant) & ~Q(member)


class CrossCheckRate(PickedIndicator):
    """Which filed households an external list names, matched where the rows are: the list
    rows are Parquet files beside the database (no table holds them), so the members' ID
    numbers are sent to DuckDB once per computation and matched there against every list
    imported in each period; rows linked to a worker without a usable ID number
    (``ListRowLink``, the fuzzy linkage) are matched in the database."""

    code = "cross_check_rate"
    name = _("Filed households cross-checked against external lists")
    description = _(
        "Share of the files on record in the period at least one of whose household "
        "members (or the applicant) appears on an external list imported in the period "
        "(低保, medical expenses, unemployment …): a list row with the member's ID number, "
        "or a row linked to the member's worker record by the linkage (建档信息比对率). A "
        "household on no list cannot be told from one never compared, so this is a lower "
        "bound."
    )
    numerator_text = _("files with a member on a list imported in the period")
    denominator_text = _("files on record")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(on_record(period))

    def imports(self, periods: Sequence[Period]) -> list[list[str]]:
        """Per period, the Parquet files of the list imports finished in it (one query)."""
        first = min(p.start for p in periods)
        last = max(p.end for p in periods)
        done = ListImport.objects.filter(
            status=ImportStatus.DONE,
            finished_at__gte=start_of(first),
            finished_at__lt=end_of(last),
        )
        found: list[list[str]] = [[] for _ in periods]
        for imp in done.order_by("pk"):
            assert imp.finished_at is not None
            day = timezone.localdate(imp.finished_at)
            path = lists.rows_path(imp.work_dir)
            for index, period in enumerate(periods):
                if period.start <= day <= period.end and path.exists():
                    found[index].append(str(path))
        return found

    def linked_q(self, period: Period) -> Q:
        """A member's (or the applicant's) worker is linked to a row of a list of the period."""
        links = ListRowLink.objects.filter(
            period.moments("list_import__finished_at"), list_import__status=ImportStatus.DONE
        )
        member = links.filter(worker__household_memberships__household_id=OuterRef("household_id"))
        return Q(Exists(links.filter(worker_id=OuterRef("applicant_id")))) | Q(Exists(member))

    def matched(self, periods: Sequence[Period], tree: Tree) -> list[set[int]]:
        """Per period, the ids of the denominator's files under the tree's root with a
        member on a list of the period: one query for the lists, one for the members of
        the periods that have lists, one DuckDB statement per such period."""
        paths = self.imports(periods)
        wanted = [index for index, found in enumerate(paths) if found]
        matched: list[set[int]] = [set() for _ in periods]
        if not wanted:
            return matched
        parts = [
            self.denominator(periods[index])
            .filter(tree.q("organisation"))
            .annotate(bucket=tagged(index), linked=self.linked_q(periods[index]))
            .values_list(
                "bucket",
                "pk",
                "linked",
                "applicant__id_number",
                "household__members__id_number",
                "household__members__worker__id_number",
            )
            .order_by()
            for index in wanted
        ]
        buckets: list[int] = []
        files: list[int] = []
        numbers: list[str] = []
        for bucket, pk, linked, *ids in union_all(parts):
            if linked:
                matched[bucket].add(pk)
                continue
            for number in set(ids):
                if number:
                    buckets.append(bucket)
                    files.append(pk)
                    numbers.append(number)
        for index, pk in on_lists(buckets, files, numbers, {i: paths[i] for i in wanted}):
            matched[index].add(pk)
        return matched

    def picks(self, periods: Sequence[Period], tree: Tree) -> Callable[[int, int], bool]:
        matched = self.matched(periods, tree)
        return lambda bucket, pk: pk in matched[bucket]

    def narrow(
        self, records: QuerySet[Any], period: Period, root: Organisation | None
    ) -> QuerySet[Any]:
        return records.filter(pk__in=self.matched([period], Tree(root))[0])


def on_lists(
    buckets: Sequence[int],
    files: Sequence[int],
    numbers: Sequence[str],
    paths: Mapping[int, Sequence[str]],
) -> list[tuple[int, int]]:
    """(period index, file id) of the files one of whose ID numbers is on a list of that
    period: the (period, file, ID number) triples go to DuckDB as one Arrow table, and each
    period's lists are read once (only their ``id_number`` column)."""
    import duckdb
    import pyarrow as pa

    if not numbers:
        return []
    table = pa.table({"bucket": buckets, "file_id": files, "id_number": numbers})
    found: list[tuple[int, int]] = []
    con = duckdb.connect()
    try:
        con.register("members", table)
        for index, period_paths in paths.items():
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in period_paths)
            rows = con.execute(
                "SELECT DISTINCT m.file_id FROM members m WHERE m.bucket = ? AND m.id_number IN "
                f"(SELECT id_number FROM read_parquet([{listed}], union_by_name = true) "
                "WHERE id_number IS NOT NULL)",
                [index],
            ).fetchall()
            found.extend((index, file_id) for (file_id,) in rows)
    finally:
        con.close()
    return found


LIBRARY: dict[str, Indicator] = {
    indicator.code: indicator
    for indicator in (
        FilesPerThousandMembers(),
        CandidatesContacted(),
        CandidatesResolved(),
        FilesFromDiscovery(),
        MissedRate(),
        DaysToFiling(),
        FiledWithinLimit(),
        DaysToFirstHelp(),
        HelpedWithinLimit(),
        HelpFitsCause(),
        DeepWithLivingAid(),
        FundExecution(),
        *(FundExecutionBySource(source) for source in FundSource),
        Compliance(),
        ReviewsOnTime(),
        ExitsWithEvidence(),
        RelapseRate(),
        RecordsComplete(),
        CrossCheckRate(),
        FollowUpsOnTime(),
        FindingsRectifiedOnTime(),
    )
}


def indicator(code: str) -> Indicator:
    try:
        return LIBRARY[code]
    except KeyError:
        raise DomainError(
            _("No indicator is named %(code)s.") % {"code": code}, field="indicator"
        ) from None


# --- the entry points -------------------------------------------------------------------------


def compute_periods(
    periods: Sequence[Period],
    codes: Iterable[str] | None = None,
    root: Organisation | None = None,
    only: Iterable[int] | None = None,
) -> list[dict[str, dict[int, Value]]]:
    """Per period (in order), every indicator (or those named) for every organisation under
    ``root`` (the whole tree without one; of those in ``only`` when given): code →
    organisation id → value. The same few queries per indicator as for one period."""
    if not periods:
        return []
    tree = Tree(root)
    chosen = list(codes) if codes is not None else list(LIBRARY)
    wanted = None if only is None else list(only)
    by_source = [i for i in map(indicator, chosen) if isinstance(i, FundExecutionBySource)]
    per_code = FundExecutionBySource.compute_together(by_source, periods, tree, wanted)
    for code in chosen:
        if code not in per_code:
            per_code[code] = indicator(code).compute_periods(periods, tree, wanted)
    return [{code: per_code[code][index] for code in chosen} for index in range(len(periods))]


def compute(
    period: Period, codes: Iterable[str] | None = None, root: Organisation | None = None
) -> dict[str, dict[int, Value]]:
    """Every indicator (or those named) for every organisation under ``root`` (the whole
    tree without one): code → organisation id → value. A few queries per indicator."""
    return compute_periods([period], codes, root)[0]


def records(
    code: str,
    organisation: Organisation,
    period: Period,
    part: str = DENOMINATOR,
    user: Any = None,
) -> QuerySet[Any]:
    """The records behind one value: the numerator's or the denominator's, in the
    organisation's subtree. With a user, the organisation must lie in their subtree."""
    if user is not None:
        own = getattr(user, "organisation", None)
        if own is None or not own.contains(organisation):
            raise NotAllowed(_("This organisation is outside your part of the tree."))
    return indicator(code).scoped(part, period, organisation)
