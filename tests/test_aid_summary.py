"""One household, all money: every line of the year from every fund, against the caps."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gonghui.assistance import funds
from gonghui.assistance.choices import AidKind, FundSource, LineStatus
from gonghui.assistance.flags import ABOVE_LINE_CAP
from gonghui.assistance.models import AssistanceLine, Fund
from gonghui.assistance.summary import household_money
from gonghui.errors import NotAllowed
from gonghui.hardship.models import HardshipFile
from gonghui.people.models import HouseholdMember
from tests.aid import YEAR, build_money
from tests.cases import filed
from tests.factories import Province


def add(
    p: Province,
    file: HardshipFile,
    kind: str,
    fen: int,
    fund: Fund | None,
    status: str,
    **kw: object,
) -> AssistanceLine:
    return AssistanceLine.objects.create(
        worker=file.applicant,
        file=file,
        household=file.household,
        organisation=file.organisation,
        year=kw.pop("year", YEAR),  # type: ignore[arg-type]
        kind=kind,
        amount_fen=fen,
        fund=fund,
        status=status,
        created_by=p.alice,
        **kw,
    )


def test_the_household_sees_every_yuan_against_the_caps(province: Province) -> None:
    money = build_money(province)
    union = funds.define_fund(
        money.fiona,
        code="GH-2026",
        name="工会经费",
        source=FundSource.UNION,
        purposes=[AidKind.EDUCATION, AidKind.TRAINING],
    )
    file = filed(province, size=3, wages="6000")
    child = HouseholdMember.objects.filter(household=file.household).order_by("id")[1]
    add(province, file, AidKind.LIVING, 20_400_00, money.fund, LineStatus.APPROVED)
    add(province, file, AidKind.MEDICAL, 8_000_00, money.fund, LineStatus.PAID)
    add(province, file, AidKind.EDUCATION, 5_000_00, union, LineStatus.PLANNED, member=child)
    add(province, file, AidKind.HOLIDAY_VISIT, 800_00, money.holiday, LineStatus.PAID)
    add(province, file, AidKind.ACCIDENT, 3_000_00, money.fund, LineStatus.CANCELLED)
    add(province, file, AidKind.LIVING, 9_999_00, money.fund, LineStatus.PAID, year=YEAR - 1)
    add(province, file, AidKind.TRAINING, 0, None, LineStatus.PLANNED, cash=False)

    with CaptureQueriesContext(connection) as queries:
        summary = household_money(province.alice, file.household, YEAR)
        few = len(queries)
    assert few <= 10

    assert [line.kind for line in summary.lines] == sorted(
        [AidKind.EDUCATION, AidKind.HOLIDAY_VISIT, AidKind.LIVING, AidKind.MEDICAL, "training"]
    )
    t = summary.totals
    assert (t.paid_fen, t.committed_fen, t.planned_fen) == (8_800_00, 20_400_00, 5_000_00)
    assert {(f.fund.code if f.fund else None): f.totals for f in summary.by_fund} == {
        "ZY-2026": type(t)(8_000_00, 20_400_00, 0),
        "SWN-2026": type(t)(800_00, 0, 0),
        "GH-2026": type(t)(0, 0, 5_000_00),
    }
    assert [(k.kind, k.totals.counted_fen) for k in summary.by_kind] == [
        (AidKind.LIVING, 20_400_00),
        (AidKind.MEDICAL, 8_000_00),
        (AidKind.EDUCATION, 0),
        (AidKind.TRAINING, 0),
        (AidKind.HOLIDAY_VISIT, 800_00),
    ]
    # The policy: 40,000 a household and 20,000 a person a year.
    cap = summary.household_cap
    assert (cap.cap_fen, cap.used_fen, cap.left_fen, cap.left_after_plans_fen) == (
        40_000_00,
        29_200_00,
        10_800_00,
        5_800_00,
    )
    (person,) = summary.person_caps
    assert person.member == child
    assert (person.use.cap_fen, person.use.used_fen, person.use.left_after_plans_fen) == (
        20_000_00,
        0,
        15_000_00,
    )
    assert summary.flags == []


def test_the_flags_come_with_the_money_and_outsiders_see_nothing(province: Province) -> None:
    money = build_money(province)
    file = filed(province, size=3, wages="6000")
    over = add(
        province, file, AidKind.MEDICAL, 9_000_00, money.fund, LineStatus.PAID, cap_fen=8_000_00
    )
    summary = household_money(province.carl, file.household, YEAR)
    assert [f.code for f in summary.flags] == [ABOVE_LINE_CAP]
    assert summary.flagged_line_ids == {over.pk}
    assert summary.household_cap.left_fen == 31_000_00
    with pytest.raises(NotAllowed):
        household_money(province.charlie, file.household, YEAR)
