"""Flags on money paid: double dipping, no active file, above caps; for one household and
for any set of lines in a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gonghui.assistance import funds, planning
from gonghui.assistance.choices import AidKind, FundSource, LineStatus
from gonghui.assistance.flags import (
    ABOVE_HOUSEHOLD_CAP,
    ABOVE_LINE_CAP,
    ABOVE_PERSON_CAP,
    DOUBLE_DIPPING,
    NO_ACTIVE_FILE,
    flagged_lines,
    flags_for_household,
)
from gonghui.assistance.models import AssistanceLine, Fund
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.people.models import HouseholdMember
from tests.aid import YEAR, Money, build_money
from tests.cases import filed
from tests.factories import Province, worker


@dataclass
class Setting:
    money: Money
    local: Fund  # local matching funds: living, medical, education
    file: HardshipFile  # a deep household of three in Yaohai


def setting(p: Province) -> Setting:
    money = build_money(p)
    local = funds.define_fund(
        money.fiona,
        code="DF-2026",
        name="地方配套资金",
        source=FundSource.LOCAL,
        purposes=[AidKind.LIVING, AidKind.MEDICAL, AidKind.EDUCATION],
    )
    top = funds.open_budget(money.fiona, local, p.anhui, YEAR)
    funds.receive(money.fiona, top, 500_000_00)
    funds.allocate(money.fiona, top, p.yaohai, 100_000_00)
    return Setting(money, local, filed(p, size=3, wages="6000"))


def line(
    s: Setting,
    p: Province,
    kind: str,
    fen: int,
    fund: Fund | None,
    status: str = LineStatus.APPROVED,
    **kw: object,
) -> AssistanceLine:
    """A line as it may stand in the database (imported, or older than today's checks)."""
    return AssistanceLine.objects.create(
        worker=s.file.applicant,
        file=s.file,
        household=s.file.household,
        organisation=s.file.organisation,
        year=YEAR,
        kind=kind,
        amount_fen=fen,
        fund=fund,
        status=status,
        created_by=p.alice,
        **kw,
    )


def codes(s: Setting) -> dict[int, list[str]]:
    return flagged_lines(AssistanceLine.objects.filter(household=s.file.household))


def test_living_aid_paid_from_two_funds_is_double_dipping(province: Province) -> None:
    s = setting(province)
    made = [
        planning.add_line(
            province.alice,
            s.file,
            planning.LineInput(kind=AidKind.LIVING, amount_fen=5_000_00, fund=fund),
            YEAR,
        )
        for fund in (s.money.fund, s.local)
    ]
    assert codes(s) == {}  # planned only: not money yet
    assert planning.approve_lines(province.rita, [m.pk for m in made]).count == 2
    assert codes(s) == {made[0].pk: [DOUBLE_DIPPING], made[1].pk: [DOUBLE_DIPPING]}
    (flag,) = flags_for_household(s.file.household_id, YEAR)
    assert flag.code == DOUBLE_DIPPING and set(flag.line_ids) == {m.pk for m in made}
    assert "中央财政帮扶资金" in flag.message and "地方配套资金" in flag.message


def test_the_same_fund_twice_or_a_kind_that_may_repeat_is_not_double_dipping(
    province: Province,
) -> None:
    s = setting(province)
    line(s, province, AidKind.LIVING, 3_000_00, s.money.fund)
    line(s, province, AidKind.LIVING, 2_000_00, s.money.fund)  # topped up, same fund
    line(s, province, AidKind.MEDICAL, 4_000_00, s.money.fund)
    line(s, province, AidKind.MEDICAL, 4_000_00, s.local)  # medical may come twice
    line(s, province, AidKind.LIVING, 1_000_00, s.local, status=LineStatus.CANCELLED)
    assert codes(s) == {}


def test_education_is_counted_per_member(province: Province) -> None:
    s = setting(province)
    first, second = HouseholdMember.objects.filter(household=s.file.household).order_by("id")[1:]
    a = line(s, province, AidKind.EDUCATION, 3_000_00, s.money.fund, member=first)
    b = line(s, province, AidKind.EDUCATION, 3_000_00, s.local, member=second)
    assert codes(s) == {}  # two children, one grant each
    c = line(s, province, AidKind.EDUCATION, 2_000_00, s.local, member=first)
    assert codes(s) == {a.pk: [DOUBLE_DIPPING], c.pk: [DOUBLE_DIPPING]}
    assert b.pk not in codes(s)


def test_double_dipping_of_a_worker_without_a_household(province: Province) -> None:
    s = setting(province)
    alone = worker(province.yaohai_union, province.yaohai_region, name="单身汉")
    other = worker(province.yaohai_union, province.yaohai_region, name="另一人")

    def solo(w: object, fund: Fund) -> AssistanceLine:
        return AssistanceLine.objects.create(
            worker=w,
            organisation=province.yaohai_union,
            year=YEAR,
            kind=AidKind.ACCIDENT,
            amount_fen=1_000_00,
            fund=fund,
            status=LineStatus.PAID,
            created_by=province.alice,
        )

    x, y = solo(alone, s.money.holiday), solo(alone, s.money.fund)
    z = solo(other, s.local)
    found = flagged_lines(AssistanceLine.objects.filter(pk__in=[x.pk, y.pk, z.pk]))
    # The holiday fund pays without a file; the central and local funds require one.
    assert found == {
        x.pk: [DOUBLE_DIPPING],
        y.pk: [DOUBLE_DIPPING, NO_ACTIVE_FILE],
        z.pk: [NO_ACTIVE_FILE],
    }


def test_a_fund_that_requires_a_file_flags_payments_after_the_file_closed(
    province: Province,
) -> None:
    s = setting(province)
    central = line(s, province, AidKind.LIVING, 5_000_00, s.money.fund, status=LineStatus.PAID)
    holiday = line(s, province, AidKind.HOLIDAY_VISIT, 500_00, s.money.holiday)
    assert codes(s) == {}
    HardshipFile.objects.filter(pk=s.file.pk).update(status=FileStatus.CLOSED)
    assert codes(s) == {central.pk: [NO_ACTIVE_FILE]}  # the holiday fund needs no file
    (flag,) = flags_for_household(s.file.household_id, YEAR)
    assert flag.line_ids == (central.pk,)
    assert s.file.number in flag.message and str(FileStatus.CLOSED.label) in flag.message
    assert holiday.pk not in flag.line_ids


def test_a_line_above_its_own_cap(province: Province) -> None:
    s = setting(province)
    at_cap = line(s, province, AidKind.MEDICAL, 8_000_00, s.money.fund, cap_fen=8_000_00)
    above = line(s, province, AidKind.ACCIDENT, 3_000_01, s.money.fund, cap_fen=3_000_00)
    uncapped = line(s, province, AidKind.MEDICAL, 9_000_00, s.local)
    found = codes(s)
    assert found == {above.pk: [ABOVE_LINE_CAP]}
    assert at_cap.pk not in found and uncapped.pk not in found
    (flag,) = flags_for_household(s.file.household_id, YEAR)
    assert "3,000.01" in flag.message and "3,000.00" in flag.message


def test_a_household_above_the_yearly_cap(province: Province) -> None:
    s = setting(province)
    # The policy's household cap is 40,000 a year: exactly 40,000 is allowed.
    a = line(s, province, AidKind.LIVING, 25_000_00, s.money.fund, status=LineStatus.PAID)
    b = line(s, province, AidKind.MEDICAL, 15_000_00, s.local)
    line(s, province, AidKind.MEDICAL, 9_000_00, s.local, status=LineStatus.PLANNED)
    assert codes(s) == {}
    c = line(s, province, AidKind.HOLIDAY_VISIT, 1, s.money.holiday, status=LineStatus.PAID)
    assert codes(s) == {pk: [ABOVE_HOUSEHOLD_CAP] for pk in (a.pk, b.pk, c.pk)}
    (flag,) = flags_for_household(s.file.household_id, YEAR)
    assert "40,000.01" in flag.message and "40,000.00" in flag.message
    # Another year is another cap.
    assert flags_for_household(s.file.household_id, YEAR - 1) == []


def test_a_person_above_the_yearly_cap(province: Province) -> None:
    s = setting(province)
    child = HouseholdMember.objects.filter(household=s.file.household).order_by("id")[1]
    a = line(s, province, AidKind.EDUCATION, 12_000_00, s.money.fund, member=child)
    b = line(s, province, AidKind.MEDICAL, 8_000_00, s.local, member=child)
    assert codes(s) == {}  # 20,000: the cap per person, not above it
    c = line(s, province, AidKind.MEDICAL, 1_00, s.money.fund, member=child)
    assert codes(s) == {pk: [ABOVE_PERSON_CAP] for pk in (a.pk, b.pk, c.pk)}
    (flag,) = flags_for_household(s.file.household_id, YEAR)
    assert child.name in flag.message and "20,001.00" in flag.message


@pytest.mark.parametrize("households", [1, 4])
def test_flagged_lines_costs_the_same_few_queries_for_any_set(
    province: Province, households: int
) -> None:
    s = setting(province)
    for index in range(households):
        f = filed(province, size=2, wages="6000", name=f"户主{index}")
        for fund in (s.money.fund, s.local):
            AssistanceLine.objects.create(
                worker=f.applicant,
                file=f,
                household=f.household,
                organisation=f.organisation,
                year=YEAR,
                kind=AidKind.LIVING,
                amount_fen=30_000_00,
                cap_fen=20_000_00,
                fund=fund,
                status=LineStatus.APPROVED,
                created_by=province.alice,
            )
    with CaptureQueriesContext(connection) as queries:
        found = flagged_lines(AssistanceLine.objects.all())
    assert len(queries) == 5
    assert len(found) == 2 * households
    assert all(
        codes == [ABOVE_HOUSEHOLD_CAP, ABOVE_LINE_CAP, DOUBLE_DIPPING] for codes in found.values()
    )
