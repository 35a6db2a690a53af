"""Flags on money paid (DESIGN §4.3, issue point 5): the same need paid twice from two
funds, payments to people without an active file where the fund requires one, and
payments above the caps.

Only counted lines (approved, in a batch, paid or failed; cash) carry flags: a plan is not
money yet. Everything is set-based: :func:`flagged_lines` answers for any set of lines in
a constant number of queries, and :func:`flags_for_household` words the same findings for
one household's page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.hardship.choices import FileStatus
from gonghui.organisations.models import Region
from gonghui.rows import instances

from .choices import COUNTED_STATUSES, ONCE_A_YEAR_KINDS, AidKind, LineStatus
from .models import AidPolicy, AssistanceLine
from .money import format_fen, to_fen
from .planning import policy_day

DOUBLE_DIPPING = "double_dipping"
NO_ACTIVE_FILE = "no_active_file"
ABOVE_LINE_CAP = "above_line_cap"
ABOVE_HOUSEHOLD_CAP = "above_household_cap"
ABOVE_PERSON_CAP = "above_person_cap"

FLAG_LABELS = {
    DOUBLE_DIPPING: gettext_lazy("Paid twice from two funds"),
    NO_ACTIVE_FILE: gettext_lazy("No active hardship file"),
    ABOVE_LINE_CAP: gettext_lazy("Above the line's cap"),
    ABOVE_HOUSEHOLD_CAP: gettext_lazy("Above the yearly cap per household"),
    ABOVE_PERSON_CAP: gettext_lazy("Above the yearly cap per person"),
}


@dataclass(frozen=True)
class Flag:
    code: str
    line_ids: tuple[int, ...]
    message: str

    @property
    def label(self) -> str:
        return str(FLAG_LABELS[self.code])


def counted(lines: QuerySet[AssistanceLine]) -> QuerySet[AssistanceLine]:
    """Lines whose money counts: approved or further, cash, with an amount."""
    return lines.filter(status__in=COUNTED_STATUSES, cash=True, amount_fen__gt=0)


# --- the conditions, one place each ----------------------------------------------------------


def _member_key(ref: Any) -> Coalesce:
    # NULL = NULL is unknown in SQL: household-level lines (no member) compare as member 0.
    return Coalesce(ref, Value(0), output_field=BigIntegerField())


def double_dipping_q() -> Q:
    """Another counted line of the same household (or the same worker, for lines with no
    household), year, once-a-year kind and member, paid from a different fund."""
    others = (
        counted(AssistanceLine.objects.all())
        .filter(year=OuterRef("year"), kind=OuterRef("kind"), fund__isnull=False)
        .exclude(pk=OuterRef("pk"))
        .exclude(fund_id=OuterRef("fund_id"))
        .annotate(member_key=_member_key("member_id"))
        .filter(member_key=_member_key(OuterRef("member_id")))
    )
    same_household = others.filter(household_id=OuterRef("household_id"))
    same_worker = others.filter(household__isnull=True, worker_id=OuterRef("worker_id"))
    return Q(kind__in=ONCE_A_YEAR_KINDS, fund__isnull=False) & (
        Q(Exists(same_household)) | (Q(household__isnull=True) & Q(Exists(same_worker)))
    )


def no_active_file_q() -> Q:
    """The fund pays filed households only, and the line's file is missing or not filed
    now (the current status: the status at approval is in the file's history)."""
    return Q(fund__requires_file=True) & (Q(file__isnull=True) | ~Q(file__status=FileStatus.FILED))


def above_line_cap_q() -> Q:
    return Q(cap_fen__isnull=False, amount_fen__gt=F("cap_fen"))


def _flag(condition: Q) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


# --- yearly caps from the policy -------------------------------------------------------------


@dataclass(frozen=True)
class Caps:
    household_fen: int
    person_fen: int
    policy: AidPolicy


def caps_for(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Caps | None]:
    """The yearly caps for (region code, year) pairs, in one query: the policy in force on
    the year's policy day for the most specific region of the lineage, as
    :func:`gonghui.assistance.planning.aid_policy_for` finds it for a file."""
    wanted = set(keys)
    lineages = {region: Region(code=region).lineage_codes() for region, _year in wanted}
    codes = tuple(sorted({code for lineage in lineages.values() for code in lineage}))
    if not codes:
        return {}
    # Compiled once per set of regions: the case page asks this for its household's region.
    policies: list[AidPolicy] = instances(
        AidPolicy,
        ("regions", codes),
        lambda: AidPolicy.objects.filter(region_id__in=codes).order_by("valid_from"),
    )
    found: dict[tuple[str, int], Caps | None] = {}
    for region, year in wanted:
        day = policy_day(year)
        in_force = {
            p.region_id: p
            for p in policies
            if p.valid_from <= day and (p.valid_to is None or p.valid_to >= day)
        }
        policy = next((in_force[c] for c in lineages[region] if c in in_force), None)
        found[(region, year)] = (
            Caps(to_fen(policy.household_year_cap), to_fen(policy.person_year_cap), policy)
            if policy
            else None
        )
    return found


# --- evaluation --------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What :func:`evaluate` found: flag codes per line, and the totals and caps behind
    the yearly-cap flags (so the household page can word them without asking again)."""

    codes: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    household_totals: dict[tuple[int, int], int] = field(default_factory=dict)
    member_totals: dict[tuple[int, int], int] = field(default_factory=dict)
    caps: dict[tuple[str, int], Caps | None] = field(default_factory=dict)
    household_caps: dict[tuple[int, int], Caps | None] = field(default_factory=dict)
    member_caps: dict[tuple[int, int], Caps | None] = field(default_factory=dict)


def evaluate(lines: QuerySet[AssistanceLine]) -> Evaluation:
    """Every flag of every line in ``lines``, in at most five queries."""
    found = Evaluation()
    _line_flags(lines, found)
    _year_caps(lines, found)
    return found


def flagged_lines(lines: QuerySet[AssistanceLine]) -> dict[int, list[str]]:
    """The lines of the set that carry a flag, with their flag codes (for fund views)."""
    return {pk: sorted(codes) for pk, codes in evaluate(lines).codes.items() if codes}


def _line_flags(lines: QuerySet[AssistanceLine], found: Evaluation) -> None:
    conditions = {
        DOUBLE_DIPPING: double_dipping_q(),
        NO_ACTIVE_FILE: no_active_file_q(),
        ABOVE_LINE_CAP: above_line_cap_q(),
    }
    any_flag = Q()
    for condition in conditions.values():
        any_flag |= condition
    rows = (
        counted(lines)
        .filter(any_flag)
        .annotate(**{f"f_{code}": _flag(q) for code, q in conditions.items()})
        .values_list("pk", *(f"f_{code}" for code in conditions))
        .order_by()
    )
    for pk, *flags in rows:
        found.codes[pk].update(code for code, on in zip(conditions, flags, strict=True) if on)


def _year_caps(lines: QuerySet[AssistanceLine], found: Evaluation) -> None:
    base = counted(lines)
    everything = counted(AssistanceLine.objects.all()).filter(year__in=base.values("year"))
    households = list(
        everything.filter(household_id__in=base.values("household_id"))
        .values_list("household_id", "year", "household__region_id")
        .annotate(total=Sum("amount_fen"))
        .order_by()
    )
    members = list(
        everything.filter(member_id__in=base.filter(member__isnull=False).values("member_id"))
        .values_list("member_id", "year", "household__region_id")
        .annotate(total=Sum("amount_fen"))
        .order_by()
    )
    found.caps = caps_for({(region, year) for _k, year, region, _t in [*households, *members]})
    over_households: dict[int, set[int]] = defaultdict(set)  # year -> households
    over_members: dict[int, set[int]] = defaultdict(set)
    for household, year, region, total in households:
        caps = found.caps[(region, year)]
        found.household_totals[(household, year)] = total
        found.household_caps[(household, year)] = caps
        if caps is not None and total > caps.household_fen:
            over_households[year].add(household)
    for member, year, region, total in members:
        caps = found.caps[(region, year)]
        found.member_totals[(member, year)] = total
        found.member_caps[(member, year)] = caps
        if caps is not None and total > caps.person_fen:
            over_members[year].add(member)
    if not over_households and not over_members:
        return
    which = Q(pk__in=[])
    for year, ids in over_households.items():
        which |= Q(year=year, household_id__in=ids)
    for year, ids in over_members.items():
        which |= Q(year=year, member_id__in=ids)
    for pk, household, member, year in base.filter(which).values_list(
        "pk", "household_id", "member_id", "year"
    ):
        if household in over_households.get(year, ()):
            found.codes[pk].add(ABOVE_HOUSEHOLD_CAP)
        if member in over_members.get(year, ()):
            found.codes[pk].add(ABOVE_PERSON_CAP)


# --- one household, in words ---------------------------------------------------------------


FILED = FileStatus.FILED


class _Unset:
    """No caps given (``None`` is an answer: no policy in force)."""


UNSET = _Unset()


def flags_for_household(
    household_id: int,
    year: int,
    lines: Sequence[AssistanceLine] | None = None,
    caps: Caps | _Unset | None = UNSET,
) -> list[Flag]:
    """The flags on a household's money in a year, each with the lines it concerns.

    ``lines``, when the caller has them, are the household's lines of the year (all but
    the cancelled ones may be there; the fund, file and member with them) and ``caps`` the
    yearly caps of its region: the case page's money section has both, so its flags cost
    no query. Otherwise they are loaded here: one query for the lines, one for the caps
    when a line counts.
    """
    if lines is None:
        lines = list(
            AssistanceLine.objects.filter(household_id=household_id, year=year)
            .exclude(status=LineStatus.CANCELLED)
            .select_related("fund", "file", "member", "household")
        )
    base = [line for line in lines if _counts(line) and line.year == year]
    if not base:
        return []  # a plan is not money yet: only counted lines carry flags
    if isinstance(caps, _Unset):
        household = base[0].household
        assert household is not None  # the lines are the household's
        region = household.region_id
        caps = caps_for([(region, year)])[(region, year)]
    found = evaluate_household(base, household_id, year, caps)
    flagged = {pk for pk, codes in found.codes.items() if codes}
    if not flagged:
        return []
    details = sorted((line for line in base if line.pk in flagged), key=lambda line: line.pk)
    return [
        *_double_dipping(details, found),
        *_no_file(details, found),
        *_line_caps(details, found),
        *_household_cap(details, found, household_id, year),
        *_person_caps(details, found, year),
    ]


def _counts(line: AssistanceLine) -> bool:
    """:func:`counted`, for a loaded line."""
    return line.status in COUNTED_STATUSES and line.cash and line.amount_fen > 0


def evaluate_household(
    lines: Sequence[AssistanceLine], household_id: int, year: int, caps: Caps | None
) -> Evaluation:
    """:func:`evaluate` for one household's counted lines of one year, loaded with their
    fund and file: the same conditions read in Python, without a query.

    Every line the conditions compare a line with belongs to the same household and year
    (double dipping within a household; the household's yearly total; a member's total,
    a member being of one household), so the household's own lines are all it needs.
    The tests check it against :func:`evaluate` (tests/test_page_queries.py).
    """
    found = Evaluation()
    for line in lines:
        codes = found.codes[line.pk]
        if _double_dips(line, lines):
            codes.add(DOUBLE_DIPPING)
        fund = line.fund
        file = line.file
        if fund is not None and fund.requires_file and (file is None or file.status != FILED):
            codes.add(NO_ACTIVE_FILE)
        if line.cap_fen is not None and line.amount_fen > line.cap_fen:
            codes.add(ABOVE_LINE_CAP)
    household_total = sum(line.amount_fen for line in lines)
    member_totals: dict[int, int] = defaultdict(int)
    for line in lines:
        if line.member_id is not None:
            member_totals[line.member_id] += line.amount_fen
    found.household_totals[(household_id, year)] = household_total
    found.household_caps[(household_id, year)] = caps
    for member, total in member_totals.items():
        found.member_totals[(member, year)] = total
        found.member_caps[(member, year)] = caps
    if caps is None:
        return found
    over_household = household_total > caps.household_fen
    for line in lines:
        if over_household:
            found.codes[line.pk].add(ABOVE_HOUSEHOLD_CAP)
        if line.member_id is not None and member_totals[line.member_id] > caps.person_fen:
            found.codes[line.pk].add(ABOVE_PERSON_CAP)
    return found


def _double_dips(line: AssistanceLine, lines: Sequence[AssistanceLine]) -> bool:
    """:func:`double_dipping_q` for a line among its household's counted lines."""
    if line.kind not in ONCE_A_YEAR_KINDS or line.fund_id is None:
        return False
    member = line.member_id or 0
    return any(
        other.pk != line.pk
        and other.fund_id is not None
        and other.fund_id != line.fund_id
        and other.kind == line.kind
        and other.year == line.year
        and (other.member_id or 0) == member
        and other.household_id == line.household_id
        for other in lines
    )


def _with(code: str, lines: list[AssistanceLine], found: Evaluation) -> list[AssistanceLine]:
    return [line for line in lines if code in found.codes.get(line.pk, ())]


def _double_dipping(lines: list[AssistanceLine], found: Evaluation) -> list[Flag]:
    groups: dict[tuple[str, int | None], list[AssistanceLine]] = defaultdict(list)
    for line in _with(DOUBLE_DIPPING, lines, found):
        groups[(line.kind, line.member_id)].append(line)
    flags = []
    for (kind, _member), group in groups.items():
        funds = sorted({line.fund.name for line in group if line.fund})
        who = group[0].member.name if group[0].member else _("the household")
        message = _(
            "%(kind)s for %(who)s was paid %(count)s times this year from different funds "
            "(%(funds)s): the same need paid twice."
        ) % {
            "kind": AidKind(kind).label,
            "who": who,
            "count": len(group),
            "funds": ", ".join(funds),
        }
        flags.append(Flag(DOUBLE_DIPPING, tuple(line.pk for line in group), message))
    return flags


def _no_file(lines: list[AssistanceLine], found: Evaluation) -> list[Flag]:
    flags = []
    for line in _with(NO_ACTIVE_FILE, lines, found):
        fund = line.fund.name if line.fund else "-"
        if line.file is None:
            message = _(
                "Paid from %(fund)s, which pays households with an active hardship file "
                "only; this payment has no file."
            ) % {"fund": fund}
        else:
            message = _(
                "Paid from %(fund)s, which pays households with an active hardship file "
                "only; the file %(number)s is %(status)s now (its current status: the status "
                "at approval is in the file's history)."
            ) % {
                "fund": fund,
                "number": line.file.number,
                "status": FileStatus(line.file.status).label,
            }
        flags.append(Flag(NO_ACTIVE_FILE, (line.pk,), message))
    return flags


def _line_caps(lines: list[AssistanceLine], found: Evaluation) -> list[Flag]:
    return [
        Flag(
            ABOVE_LINE_CAP,
            (line.pk,),
            _("%(amount)s yuan of %(kind)s is above the line's cap of %(cap)s yuan.")
            % {
                "amount": format_fen(line.amount_fen),
                "kind": AidKind(line.kind).label,
                "cap": format_fen(line.cap_fen or 0),
            },
        )
        for line in _with(ABOVE_LINE_CAP, lines, found)
    ]


def _household_cap(
    lines: list[AssistanceLine], found: Evaluation, household_id: int, year: int
) -> list[Flag]:
    over = _with(ABOVE_HOUSEHOLD_CAP, lines, found)
    caps = found.household_caps.get((household_id, year))
    if not over or caps is None:
        return []
    message = _(
        "The household received %(total)s yuan in %(year)s, above the yearly cap per "
        "household of %(cap)s yuan."
    ) % {
        "total": format_fen(found.household_totals[(household_id, year)]),
        "year": year,
        "cap": format_fen(caps.household_fen),
    }
    return [Flag(ABOVE_HOUSEHOLD_CAP, tuple(line.pk for line in over), message)]


def _person_caps(lines: list[AssistanceLine], found: Evaluation, year: int) -> list[Flag]:
    by_member: dict[int, list[AssistanceLine]] = defaultdict(list)
    for line in _with(ABOVE_PERSON_CAP, lines, found):
        if line.member_id is not None:
            by_member[line.member_id].append(line)
    flags = []
    for member_id, group in by_member.items():
        caps = found.member_caps.get((member_id, year))
        if caps is None or group[0].member is None:
            continue
        message = _(
            "%(name)s received %(total)s yuan in %(year)s, above the yearly cap per person "
            "of %(cap)s yuan."
        ) % {
            "name": group[0].member.name,
            "total": format_fen(found.member_totals[(member_id, year)]),
            "year": year,
            "cap": format_fen(caps.person_fen),
        }
        flags.append(Flag(ABOVE_PERSON_CAP, tuple(line.pk for line in group), message))
    return flags
