"""The eligibility rules with the numbers of DESIGN §4.1 (one city, 2024: 低保 620)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.hardship.choices import ExpenseKind, HardshipCategory, IncomeKind
from gonghui.hardship.rules import CaseFacts, Money, PolicyTerms, assess, months_above_standard

TERMS = PolicyTerms(living_standard=Decimal("620"), minimum_wage=Decimal("2060"))


def facts(yearly_wages: str, size: int = 1, **kwargs: object) -> CaseFacts:
    incomes = [Money(IncomeKind.WAGES, Decimal(yearly_wages))]
    return CaseFacts(household_size=size, incomes=incomes, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("monthly", "category"),
    [
        ("619.99", HardshipCategory.DEEP),
        ("620", HardshipCategory.RELATIVE),  # at the standard is no longer DEEP
        ("1239.99", HardshipCategory.RELATIVE),
        ("1240", HardshipCategory.NOT_ELIGIBLE),
    ],
)
def test_thresholds_620_and_1240(monthly: str, category: str) -> None:
    result = assess(facts(str(Decimal(monthly) * 12 * 3), size=3), TERMS)
    assert result.per_capita == Decimal(monthly)
    assert result.category == category


def test_accident_below_1860_with_costs_above_80_percent() -> None:
    # 3 people, 54,000 a year of wages, 45,000 of self-paid treatment after insurance:
    # (54,000 − 45,000) / 3 / 12 = 250 → DEEP, which outranks ACCIDENT.
    case = facts(
        "54000", size=3, sudden_event=True, expenses=[Money(ExpenseKind.ILLNESS, Decimal("45000"))]
    )
    assert assess(case, TERMS).category == HardshipCategory.DEEP
    # Income 200,000, losses 170,000 (85 %): (200,000 − 170,000)/2/12 = 1,250 → ACCIDENT.
    case = facts(
        "200000",
        size=2,
        sudden_event=True,
        expenses=[Money(ExpenseKind.ACCIDENT, Decimal("170000"))],
    )
    result = assess(case, TERMS)
    assert result.per_capita == Decimal("1250.00")
    assert result.category == HardshipCategory.ACCIDENT
    assert result.trace[-1].code == "accident" and result.trace[-1].decisive


def test_accident_needs_costs_above_80_percent() -> None:
    # 150,000 income, 110,000 losses = 73 %: (40,000)/2/12 = 1,666.67, tests not met.
    case = facts(
        "150000",
        size=2,
        sudden_event=True,
        expenses=[Money(ExpenseKind.ACCIDENT, Decimal("110000"))],
    )
    result = assess(case, TERMS)
    assert result.per_capita == Decimal("1666.67")
    assert result.category == HardshipCategory.NOT_ELIGIBLE


def test_accident_needs_a_sudden_event() -> None:
    case = facts("200000", size=2, expenses=[Money(ExpenseKind.ACCIDENT, Decimal("170000"))])
    result = assess(case, TERMS)
    assert result.category == HardshipCategory.NOT_ELIGIBLE
    assert "no_sudden_event" in [line.code for line in result.trace]


def test_accident_above_1860_is_not_eligible() -> None:
    # 500,000 income, 450,000 losses (90 %): 50,000/2/12 = 2,083.33 ≥ 1,860.
    case = facts(
        "500000",
        size=2,
        sudden_event=True,
        expenses=[Money(ExpenseKind.ACCIDENT, Decimal("450000"))],
    )
    assert assess(case, TERMS).category == HardshipCategory.NOT_ELIGIBLE


def test_an_exclusion_in_force_decides_whatever_the_income() -> None:
    case = facts("1200", size=2, exclusions_found=frozenset({"car"}))
    terms = PolicyTerms(living_standard=Decimal("620"), exclusions=frozenset({"car"}))
    result = assess(case, terms)
    assert result.category == HardshipCategory.NOT_ELIGIBLE
    decisive = [line for line in result.trace if line.decisive]
    assert [line.code for line in decisive] == ["exclusion"]


def test_an_exclusion_switched_off_by_policy_is_only_noted() -> None:
    case = facts("1200", size=2, exclusions_found=frozenset({"car"}))
    result = assess(case, TERMS)  # TERMS has no exclusions in force
    assert result.category == HardshipCategory.DEEP
    assert "exclusion_off" in [line.code for line in result.trace]


def test_compulsory_education_is_not_a_rigid_expense() -> None:
    case = facts(
        "24000",
        size=2,
        expenses=[
            Money(ExpenseKind.COMPULSORY_SCHOOLING, Decimal("6000")),
            Money(ExpenseKind.SCHOOLING, Decimal("3600")),
        ],
    )
    result = assess(case, TERMS)
    assert result.rigid_expenses == Decimal("3600.00")
    assert result.per_capita == Decimal("850.00")  # (24,000 − 3,600) / 2 / 12


def test_an_idle_able_member_is_counted_at_the_minimum_wage() -> None:
    result = assess(facts("0", size=2, idle_able_members=1), TERMS)
    assert result.per_capita == Decimal("1030.00")  # 2,060 × 12 / 2 / 12
    assert result.category == HardshipCategory.RELATIVE


def test_holiday_gifts_and_basic_pension_are_left_out_union_aid_counted() -> None:
    case = CaseFacts(
        household_size=1,
        incomes=[
            Money(IncomeKind.WAGES, Decimal("6000")),
            Money(IncomeKind.HOLIDAY_GIFTS, Decimal("1200")),
            Money(IncomeKind.BASIC_PENSION, Decimal("2400")),
            Money(IncomeKind.UNION_AID, Decimal("1200")),
        ],
    )
    assert assess(case, TERMS).per_capita == Decimal("600.00")  # (6,000 + 1,200) / 12
    counting = PolicyTerms(
        living_standard=Decimal("620"),
        count_holiday_gifts=True,
        count_basic_pension=True,
        count_union_aid=False,
    )
    assert assess(case, counting).per_capita == Decimal("800.00")  # (6,000+1,200+2,400)/12


def test_the_trace_explains_the_computation() -> None:
    result = assess(facts("18000", size=3), TERMS)
    texts = [line.text() for line in result.trace]
    assert any("500.00" in text for text in texts)  # 18,000 / 3 / 12
    assert result.trace[-1].code == "deep"


def test_terms_survive_a_round_trip_through_json() -> None:
    terms = PolicyTerms(living_standard=Decimal("620.00"), exclusions=frozenset({"car"}))
    assert PolicyTerms.from_json(terms.to_json()) == terms


amounts = st.decimals(min_value=0, max_value=1_000_000, places=2)


@given(wages=amounts, other=amounts, rigid=amounts, size=st.integers(1, 9))
def test_per_capita_is_net_income_over_people_and_months(
    wages: Decimal, other: Decimal, rigid: Decimal, size: int
) -> None:
    case = CaseFacts(
        household_size=size,
        incomes=[Money(IncomeKind.WAGES, wages), Money(IncomeKind.OTHER, other)],
        expenses=[Money(ExpenseKind.HOUSING, rigid)],
    )
    result = assess(case, TERMS)
    exact = (wages + other - rigid) / size / 12
    assert abs(result.per_capita - exact) <= Decimal("0.005")
    standard, limit = TERMS.living_standard, TERMS.living_standard * 2
    expected = (
        HardshipCategory.DEEP
        if result.per_capita < standard
        else HardshipCategory.RELATIVE
        if result.per_capita < limit
        else HardshipCategory.NOT_ELIGIBLE
    )
    assert result.category == expected


@given(extra=amounts, size=st.integers(1, 9))
def test_more_income_never_makes_a_household_poorer(extra: Decimal, size: int) -> None:
    base = facts("20000", size=size)
    richer = CaseFacts(household_size=size, incomes=[*base.incomes, Money(IncomeKind.OTHER, extra)])
    assert assess(richer, TERMS).per_capita >= assess(base, TERMS).per_capita


def test_six_consecutive_months_above_the_standard() -> None:
    import datetime as dt

    above = [(dt.date(2026, m, 1), Decimal("700"), Decimal("680")) for m in range(5, 11)]
    assert months_above_standard(above) == 6
    gap = [r for r in above if r[0].month != 7]
    assert months_above_standard(gap) == 3  # August to October, then a missing July
    dip = [*above[:-1], (dt.date(2026, 10, 1), Decimal("680"), Decimal("680"))]
    assert months_above_standard(dip) == 0  # the latest month is not above


def test_a_trace_written_in_one_language_reads_in_another() -> None:
    from django.utils import translation

    case = facts("12000", size=1, exclusions_found=frozenset({"car"}))
    line = assess(case, TERMS).trace[0]
    assert line.params["kind"] == "wages"  # stored as a code, not a label
    with translation.override("en"):
        assert "Wages" in line.text()
    with translation.override("zh-hans"):
        assert "工资" in line.text()
