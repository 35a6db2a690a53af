"""The indicator library: documented formulas over Gonghui's records, computed for every
organisation's subtree and a period in one set-based pass (DESIGN §1, §4.6; issue 5).

Each indicator names the records that make up its numerator and its denominator as a
queryset (:meth:`Indicator.denominator`, :meth:`Indicator.numerator`). The same querysets
serve both ends:

* :func:`compute` groups them by organisation (one ``GROUP BY organisation`` query per part,
  a few per indicator, never one per organisation) and rolls the per-organisation counts up
  the tree in Python over the materialised paths;
* :func:`records` filters them to one organisation's subtree, so a value links to exactly
  the records behind it.

Why roll up in Python rather than join organisations to their ancestors by
``path LIKE ancestor.path || '%'``: the grouped rows number at most a few thousand (one per
organisation, or per organisation and day for medians); adding each to its at most five
ancestors is microseconds of work, where the LIKE join makes the database repeat the
aggregate for every ancestor (5× the rows) and cannot merge the histograms that exact
medians need. The one place the data is big (files, lines, memberships) stays in SQL.

A value is ``None`` ("no data") when its denominator is zero or its subtree has no records:
never a fake 0. Values are ``Decimal`` rounded to 4 places, so they compare exactly and
snapshot as text.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus
from gonghui.assistance.models import AssistanceLine, LedgerEntry
from gonghui.errors import DomainError, NotAllowed
from gonghui.hardship.choices import (
    EventKind,
    ExitKind,
    FileStatus,
    FollowUpStatus,
    HardshipCategory,
    HardshipCause,
)
from gonghui.hardship.models import FileEvent, FollowUp, HardshipFile, IncomeReading
from gonghui.organisations.models import PATH_SEGMENT, PATH_SEP, Organisation
from gonghui.people.choices import MembershipStatus
from gonghui.people.models import Membership

PLACES = Decimal("0.0001")
PERCENT = Decimal(100)
PER_MILLE = Decimal(1000)
STEP = PATH_SEGMENT + len(PATH_SEP)

# Policy limits for the "within the limit" shares (days). DESIGN §4.2 gives 5 days to
# investigate and 5 working days of notice; a month from application to filing leaves room
# for review and filing. Help is due within a month of filing.
FILING_LIMIT_DAYS = 30
HELP_LIMIT_DAYS = 30

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

    # --- computing ---------------------------------------------------------------------

    def grouped(self, period: Period, tree: Tree) -> dict[int, tuple[int, int]]:
        """(numerator, denominator) per organisation id, over the records under the tree's root."""
        condition = self.numerator_q(period)
        org = f"{self.denominator_org}_id"
        base = self.denominator(period).filter(tree.q(self.denominator_org))
        if condition is not None:
            rows = base.values(org).annotate(den=Count("pk"), num=Count("pk", filter=condition))
            return {r[org]: (r["num"], r["den"]) for r in rows.order_by()}
        found: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for index, part in enumerate((NUMERATOR, DENOMINATOR)):
            field = f"{self.org_field(part)}_id"
            records = self.part(part, period).filter(tree.q(self.org_field(part)))
            for row in records.values(field).annotate(total=self.measure(part)).order_by():
                found[row[field]][index] += row["total"] or 0
        return {org_id: (num, den) for org_id, (num, den) in found.items()}

    def part(self, part: str, period: Period) -> QuerySet[Any]:
        if part == NUMERATOR:
            return self.numerator(period)
        if part == DENOMINATOR:
            return self.denominator(period)
        raise DomainError(_("Choose the numerator or the denominator."), field="part")

    def roll_up(self, per_org: dict[int, tuple[int, int]], tree: Tree) -> dict[int, Value]:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for org_id, (num, den) in per_org.items():
            for prefix in tree.prefixes(org_id):
                totals[prefix][0] += num
                totals[prefix][1] += den
        values = {}
        for org_id, path in tree.paths.items():
            num, den = totals.get(path, (0, 0))
            values[org_id] = Value(ratio(num, den, self.scale), num, den)
        return values

    def compute(self, period: Period, tree: Tree) -> dict[int, Value]:
        return self.roll_up(self.grouped(period, tree), tree)

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

    def histograms(self, period: Period, tree: Tree) -> dict[int, Counter[int]]:
        org = f"{self.denominator_org}_id"
        rows = (
            self.denominator(period)
            .filter(tree.q(self.denominator_org))
            .annotate(d=self.days(period))
            .values(org, "d")
            .annotate(n=Count("pk"))
            .order_by()
        )
        found: dict[int, Counter[int]] = defaultdict(Counter)
        for row in rows:
            if row["d"] is not None:
                found[row[org]][row["d"]] += row["n"]
        return found

    def compute(self, period: Period, tree: Tree) -> dict[int, Value]:
        merged: dict[str, Counter[int]] = defaultdict(Counter)
        for org_id, histogram in self.histograms(period, tree).items():
            for prefix in tree.prefixes(org_id):
                merged[prefix].update(histogram)
        values = {}
        for org_id, path in tree.paths.items():
            histogram = merged.get(path, Counter())
            count = sum(histogram.values())
            values[org_id] = Value(median(histogram), None, count)
        return values


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
        """Records whose organisation (through ``org_field``) lies under the root."""
        return self.root.subtree_q(f"{org_field}__") if self.root is not None else Q()

    def prefixes(self, org_id: int) -> list[str]:
        return self._prefixes.get(org_id, [])


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
    description = format_lazy(
        _(
            "Share of the files filed in the period that were filed within {days} days "
            "of the application."
        ),
        days=FILING_LIMIT_DAYS,
    )
    numerator_text = _("files filed within the limit")
    denominator_text = _("files filed in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(period.days("filed_on")).annotate(
            to_filing=DaysBetween("applied_on", "filed_on")
        )

    def numerator_q(self, period: Period) -> Q:
        return Q(to_filing__lte=FILING_LIMIT_DAYS)


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
    description = format_lazy(
        _(
            "Share of the files filed in the period whose first help was approved within "
            "{days} days of filing (files never helped count as late)."
        ),
        days=HELP_LIMIT_DAYS,
    )
    numerator_text = _("files helped within the limit")
    denominator_text = _("files filed in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return HardshipFile.objects.filter(period.days("filed_on")).annotate(
            to_help=DaysBetween("filed_on", first_help(period))
        )

    def numerator_q(self, period: Period) -> Q:
        return Q(to_help__isnull=False, to_help__lte=HELP_LIMIT_DAYS)


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
    name = _("Fund execution rate")
    description = _(
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


class Compliance(Indicator):
    code = "compliance"
    name = _("Payments with no flag")
    description = _(
        "Share of the cash lines paid in the period that carry no flag (paid twice from "
        "two funds, no active file where the fund needs one, above a cap)."
    )
    numerator_text = _("paid lines with no flag")
    denominator_text = _("cash lines paid in the period")

    def denominator(self, period: Period) -> QuerySet[Any]:
        return AssistanceLine.objects.filter(
            period.days("paid_on"), status=LineStatus.PAID, cash=True, amount_fen__gt=0
        )

    def flagged(self, lines: QuerySet[AssistanceLine]) -> set[int]:
        from gonghui.assistance.flags import evaluate

        return {pk for pk, codes in evaluate(lines).codes.items() if codes}

    def numerator(self, period: Period) -> QuerySet[Any]:
        lines = self.denominator(period)
        return lines.exclude(pk__in=self.flagged(lines))

    def grouped(self, period: Period, tree: Tree) -> dict[int, tuple[int, int]]:
        lines = self.denominator(period).filter(tree.q("organisation"))
        flagged = self.flagged(lines)
        found: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for pk, org_id in lines.values_list("pk", "organisation_id").order_by():
            found[org_id][1] += 1
            found[org_id][0] += pk not in flagged
        return {org_id: (num, den) for org_id, (num, den) in found.items()}

    def scoped_numerator(self, period: Period, organisation: Organisation) -> QuerySet[Any]:
        lines = self.denominator(period).filter(organisation.subtree_q("organisation__"))
        return lines.exclude(pk__in=self.flagged(lines))


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
        exited = self._events(EventKind.EXITED, period).filter(at__date__lte=period.end)
        return HardshipFile.objects.filter(Q(Exists(exited)) | self.numerator_q(period))

    def numerator_q(self, period: Period) -> Q:
        reopened = self._events(EventKind.REOPENED, period).filter(
            at__date__gte=period.start, at__date__lte=period.end
        )
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


LIBRARY: dict[str, Indicator] = {
    indicator.code: indicator
    for indicator in (
        FilesPerThousandMembers(),
        DaysToFiling(),
        FiledWithinLimit(),
        DaysToFirstHelp(),
        HelpedWithinLimit(),
        HelpFitsCause(),
        DeepWithLivingAid(),
        FundExecution(),
        Compliance(),
        ReviewsOnTime(),
        ExitsWithEvidence(),
        RelapseRate(),
        RecordsComplete(),
        FollowUpsOnTime(),
    )
}


def indicator(code: str) -> Indicator:
    try:
        return LIBRARY[code]
    except KeyError:
        raise DomainError(
            _("No indicator is named %(code)s.") % {"code": code}, field="indicator"
        ) from None


# --- the two entry points -----------------------------------------------------------------


def compute(
    period: Period, codes: Iterable[str] | None = None, root: Organisation | None = None
) -> dict[str, dict[int, Value]]:
    """Every indicator (or those named) for every organisation under ``root`` (the whole
    tree without one): code → organisation id → value. A few queries per indicator."""
    tree = Tree(root)
    chosen = list(codes) if codes is not None else list(LIBRARY)
    return {code: indicator(code).compute(period, tree) for code in chosen}


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
    chosen = indicator(code)
    if part == NUMERATOR and isinstance(chosen, Compliance):
        return chosen.scoped_numerator(period, organisation)
    field = chosen.org_field(part)
    return chosen.part(part, period).filter(organisation.subtree_q(f"{field}__"))
