"""One household, all money (issue point 5): every line of a year from every fund and
programme, holiday visits included, against the policy's yearly caps, with the flags.

A constant number of queries whatever the household has had: its lines (with their fund),
its members (none when the caller has them), the files its lines were paid under (none
when the caller has them all: the case page's file) and the policy; the flags are read
from the same lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from gonghui.accounts.models import User
from gonghui.errors import NotAllowed
from gonghui.hardship.models import HardshipFile
from gonghui.people.models import Household, HouseholdMember
from gonghui.rows import attach, instances

from .choices import COUNTED_STATUSES, AidKind, LineStatus
from .flags import Caps, Flag, caps_for, flags_for_household
from .models import AidPolicy, AssistanceLine, Fund

COMMITTED_STATUSES = frozenset(COUNTED_STATUSES - {LineStatus.PAID})


@dataclass(frozen=True)
class Totals:
    """Cash by stage: paid, committed (approved, in a batch or failed and not yet paid
    again) and planned (not yet approved)."""

    paid_fen: int = 0
    committed_fen: int = 0
    planned_fen: int = 0

    @property
    def counted_fen(self) -> int:
        """What counts against the caps: committed and paid."""
        return self.paid_fen + self.committed_fen

    @property
    def total_fen(self) -> int:
        return self.counted_fen + self.planned_fen


def totals_of(lines: Iterable[AssistanceLine]) -> Totals:
    paid = committed = planned = 0
    for line in lines:
        if not line.cash:
            continue
        if line.status == LineStatus.PAID:
            paid += line.amount_fen
        elif line.status in COMMITTED_STATUSES:
            committed += line.amount_fen
        elif line.status == LineStatus.PLANNED:
            planned += line.amount_fen
    return Totals(paid, committed, planned)


@dataclass(frozen=True)
class CapUse:
    """A yearly cap and how much of it is used (counted) or spoken for (planned)."""

    cap_fen: int | None
    used_fen: int
    planned_fen: int = 0

    @property
    def left_fen(self) -> int | None:
        return None if self.cap_fen is None else max(self.cap_fen - self.used_fen, 0)

    @property
    def left_after_plans_fen(self) -> int | None:
        if self.cap_fen is None:
            return None
        return max(self.cap_fen - self.used_fen - self.planned_fen, 0)

    @property
    def over_fen(self) -> int:
        return 0 if self.cap_fen is None else max(self.used_fen - self.cap_fen, 0)


@dataclass(frozen=True)
class FundTotal:
    fund: Fund | None
    totals: Totals


@dataclass(frozen=True)
class KindTotal:
    kind: str
    totals: Totals

    @property
    def label(self) -> str:
        return str(AidKind(self.kind).label)


@dataclass(frozen=True)
class PersonCap:
    member: HouseholdMember
    use: CapUse


@dataclass
class HouseholdMoney:
    household: Household
    year: int
    lines: list[AssistanceLine]
    totals: Totals
    by_fund: list[FundTotal]
    by_kind: list[KindTotal]
    household_cap: CapUse
    person_caps: list[PersonCap]
    policy: AidPolicy | None
    flags: list[Flag] = field(default_factory=list)

    @property
    def flagged_line_ids(self) -> set[int]:
        return {pk for flag in self.flags for pk in flag.line_ids}


def household_money(
    user: User,
    household: Household,
    year: int,
    members: Iterable[HouseholdMember] | None = None,
    files: Iterable[HardshipFile] = (),
) -> HouseholdMoney:
    """Everything the household had in ``year`` (cancelled lines left out).

    Two queries: the lines (with their fund, file and member) and the policies of the
    region; the flags are read from those lines (:func:`flags.flags_for_household`). A
    caller that has the household's ``members`` already (the case page) passes them, and
    the household's organisation too, as ``household.organisation``, and the ``files`` it
    has loaded (the page's file, which most lines were paid under); otherwise each is one
    more query.
    """
    if user.organisation is None or not user.organisation.contains(household.organisation):
        raise NotAllowed(_("This household is outside your organisation."))
    lines: list[AssistanceLine] = instances(
        AssistanceLine, ("household-year",), _lines_of, household.pk, int(year)
    )
    if members is None:
        members = HouseholdMember.objects.filter(household=household).order_by("id")
    in_order = sorted(members, key=lambda member: member.pk)
    _share_loaded(lines, in_order, files)
    caps = caps_for([(household.region_id, year)])[(household.region_id, year)]
    return HouseholdMoney(
        household=household,
        year=year,
        lines=lines,
        totals=totals_of(lines),
        by_fund=_by_fund(lines),
        by_kind=_by_kind(lines),
        household_cap=_household_cap(lines, caps),
        person_caps=_person_caps(lines, in_order, caps),
        policy=caps.policy if caps else None,
        flags=flags_for_household(household.pk, year, lines, caps),
    )


def _lines_of(household: int, year: int) -> QuerySet[AssistanceLine]:
    return (
        AssistanceLine.objects.filter(household=household, year=year)
        .exclude(status=LineStatus.CANCELLED)
        .select_related("fund")
        .order_by("kind", "id")
    )


def _share_loaded(
    lines: list[AssistanceLine], members: list[HouseholdMember], files: Iterable[HardshipFile]
) -> None:
    """Give each line its member and file from the rows the caller has already loaded.

    Why: joined to every line, the file (37 columns, two of them JSON) and the member cost
    the case page more than the lines themselves (1.4 ms -> 0.8 ms a household). A line's
    member is one of the household's; a file the caller does not have (an earlier file of
    the household) comes in one query of the two columns the section shows."""
    by_file = {file.pk: file for file in files}
    missing = {line.file_id for line in lines if line.file_id and line.file_id not in by_file}
    if missing:
        by_file.update(HardshipFile.objects.only("number", "status").in_bulk(missing))
    attach(lines, "member", {member.pk: member for member in members})
    attach(lines, "file", by_file)


def _by_fund(lines: list[AssistanceLine]) -> list[FundTotal]:
    groups: dict[int | None, list[AssistanceLine]] = defaultdict(list)
    funds: dict[int | None, Fund | None] = {}
    for line in lines:
        if line.cash:
            groups[line.fund_id].append(line)
            funds[line.fund_id] = line.fund

    def code(pk: int | None) -> tuple[bool, str]:
        fund = funds[pk]
        return (fund is None, fund.code if fund is not None else "")

    return [FundTotal(funds[pk], totals_of(groups[pk])) for pk in sorted(groups, key=code)]


def _by_kind(lines: list[AssistanceLine]) -> list[KindTotal]:
    groups: dict[str, list[AssistanceLine]] = defaultdict(list)
    for line in lines:
        groups[line.kind].append(line)
    return [KindTotal(kind, totals_of(groups[kind])) for kind in AidKind.values if kind in groups]


def _household_cap(lines: list[AssistanceLine], caps: Caps | None) -> CapUse:
    totals = totals_of(lines)
    return CapUse(caps.household_fen if caps else None, totals.counted_fen, totals.planned_fen)


def _person_caps(
    lines: list[AssistanceLine], members: list[HouseholdMember], caps: Caps | None
) -> list[PersonCap]:
    """A row for each member who has help of their own (education aid, say)."""
    by_member: dict[int, list[AssistanceLine]] = defaultdict(list)
    for line in lines:
        if line.member_id is not None:
            by_member[line.member_id].append(line)
    found = []
    for member in members:
        if member.pk not in by_member:
            continue
        totals = totals_of(by_member[member.pk])
        use = CapUse(caps.person_fen if caps else None, totals.counted_fen, totals.planned_fen)
        found.append(PersonCap(member, use))
    return found
