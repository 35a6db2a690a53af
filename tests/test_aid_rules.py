"""Classified help by cause with the numbers of DESIGN §4.3, as pure functions."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gonghui.assistance.choices import AidKind
from gonghui.assistance.rules import AidFacts, AidTerms, Pupil, Received, needs_level, propose
from gonghui.hardship.choices import HardshipCategory as Cat
from gonghui.hardship.choices import HardshipCause as Cause

EDU = {"university": Decimal("5000"), "senior": Decimal("3000")}
HEFEI_2024 = AidTerms(living_standard=Decimal("620"), education_amounts=EDU)


def cash(plan: list) -> dict[str, int]:
    return {p.kind: p.amount_fen for p in plan if p.cash}


def test_deep_household_gets_ten_months_of_the_standard_per_person() -> None:
    facts = AidFacts(Cat.DEEP, [Cause.UNABLE_TO_WORK], household_size=3)
    (line,) = propose(facts, HEFEI_2024)
    assert (line.kind, line.amount_fen, line.cap_rule) == (
        AidKind.LIVING,
        18_600_00,
        "deep_living_months",
    )
    assert "10" in line.explanation() and "620.00" in line.explanation()


def test_relative_household_gets_eight_months_and_one_kind_only() -> None:
    facts = AidFacts(
        Cat.RELATIVE,
        [Cause.MAJOR_ILLNESS, Cause.CHILDREN_IN_SCHOOL],
        household_size=3,
        self_paid_medical=Decimal("10000"),
        pupils=[Pupil(7, "张小明", "university")],
    )
    plan = propose(facts, HEFEI_2024)
    # The primary cause's help comes first, and then no other kind of cash help.
    assert cash(plan) == {AidKind.MEDICAL: 8_000_00}
    without_illness = AidFacts(Cat.RELATIVE, [Cause.UNABLE_TO_WORK], household_size=3)
    assert cash(propose(without_illness, HEFEI_2024)) == {AidKind.LIVING: 620 * 8 * 3 * 100}


def test_relative_household_that_already_had_one_kind_keeps_to_it() -> None:
    facts = AidFacts(
        Cat.RELATIVE,
        [Cause.MAJOR_ILLNESS],
        household_size=2,
        self_paid_medical=Decimal("5000"),
        received=Received(household_fen=1_000_00, cash_kinds=frozenset({AidKind.LIVING})),
    )
    assert cash(propose(facts, HEFEI_2024)) == {AidKind.LIVING: 620 * 8 * 2 * 100}


def test_medical_aid_is_eighty_percent_of_self_paid_up_to_16000() -> None:
    facts = AidFacts(Cat.DEEP, [Cause.MAJOR_ILLNESS], 1, self_paid_medical=Decimal("25000"))
    medical = next(p for p in propose(facts, HEFEI_2024) if p.kind == AidKind.MEDICAL)
    assert (medical.amount_fen, medical.cap_rule) == (16_000_00, "medical_cap")
    facts = AidFacts(Cat.DEEP, [Cause.MAJOR_ILLNESS], 1, self_paid_medical=Decimal("12345.67"))
    medical = next(p for p in propose(facts, HEFEI_2024) if p.kind == AidKind.MEDICAL)
    assert (medical.amount_fen, medical.cap_rule) == (9_876_54, "medical_ratio")


def test_accident_aid_is_fifteen_percent_of_the_cost_up_to_10000() -> None:
    facts = AidFacts(Cat.ACCIDENT, [Cause.ACCIDENT], 3, accident_cost=Decimal("50000"))
    assert cash(propose(facts, HEFEI_2024)) == {AidKind.ACCIDENT: 7_500_00}
    facts = AidFacts(Cat.ACCIDENT, [Cause.DISASTER], 3, accident_cost=Decimal("100000"))
    (line,) = propose(facts, HEFEI_2024)
    assert (line.amount_fen, line.cap_rule) == (10_000_00, "accident_cap")


def test_education_aid_by_school_level_for_each_child() -> None:
    facts = AidFacts(
        Cat.DEEP,
        [Cause.CHILDREN_IN_SCHOOL],
        4,
        pupils=[
            Pupil(1, "大女儿", "university"),
            Pupil(2, "小儿子", "senior"),
            Pupil(3, "老三", "primary"),
        ],
    )
    lines = [p for p in propose(facts, HEFEI_2024) if p.kind == AidKind.EDUCATION]
    assert [(p.member_id, p.amount_fen) for p in lines] == [(1, 5_000_00), (2, 3_000_00)]


def test_the_household_cap_cuts_the_last_line_and_says_so() -> None:
    facts = AidFacts(
        Cat.DEEP,
        [Cause.MAJOR_ILLNESS, Cause.CHILDREN_IN_SCHOOL],
        3,
        self_paid_medical=Decimal("30000"),
        pupils=[Pupil(9, "张小明", "university")],
    )
    plan = [p for p in propose(facts, HEFEI_2024) if p.cash]
    # medical 16,000 + living 18,600 = 34,600; 5,400 left of the 40,000 household cap.
    assert [(p.kind, p.amount_fen) for p in plan] == [
        (AidKind.MEDICAL, 16_000_00),
        (AidKind.LIVING, 18_600_00),
        (AidKind.EDUCATION, 5_000_00),
    ]
    already = Received(household_fen=5_000_00)
    plan = [
        p
        for p in propose(
            AidFacts(
                Cat.DEEP,
                facts.causes,
                3,
                facts.self_paid_medical,
                pupils=facts.pupils,
                received=already,
            ),
            HEFEI_2024,
        )
        if p.cash
    ]
    assert plan[-1].kind == AidKind.EDUCATION
    assert (plan[-1].amount_fen, plan[-1].cap_rule) == (
        40_000_00 - 5_000_00 - 34_600_00,
        "household_year_cap",
    )


def test_laid_off_and_unpaid_benefits_get_non_cash_help() -> None:
    facts = AidFacts(Cat.DEEP, [Cause.LAID_OFF, Cause.BENEFITS_UNPAID], 2)
    kinds = {p.kind for p in propose(facts, HEFEI_2024) if not p.cash}
    assert kinds == {AidKind.TRAINING, AidKind.JOB_REFERRAL, AidKind.LEGAL_AID}


def test_not_eligible_gets_nothing() -> None:
    assert propose(AidFacts(Cat.NOT_ELIGIBLE, [Cause.LAID_OFF], 2), HEFEI_2024) == []


def test_amounts_above_the_thresholds_need_a_higher_level() -> None:
    levels = [["20000", "province"], ["50000", "national"]]
    assert needs_level(20_000_00, levels, "county") == "county"
    assert needs_level(20_000_01, levels, "county") == "province"
    assert needs_level(50_000_01, levels, "county") == "national"


@given(
    category=st.sampled_from([Cat.DEEP, Cat.RELATIVE, Cat.ACCIDENT]),
    causes=st.lists(st.sampled_from(list(Cause)), min_size=1, max_size=4, unique=True),
    size=st.integers(1, 8),
    medical=st.decimals(0, 500_000, places=2),
    accident=st.decimals(0, 500_000, places=2),
    already=st.integers(0, 60_000_00),
    standard=st.decimals(300, 1500, places=2),
)
def test_a_plan_never_breaks_a_cap(
    category: str,
    causes: list[int],
    size: int,
    medical: Decimal,
    accident: Decimal,
    already: int,
    standard: Decimal,
) -> None:
    terms = AidTerms(living_standard=standard, education_amounts=EDU)
    facts = AidFacts(
        category,
        causes,
        size,
        medical,
        accident,
        pupils=[Pupil(1, "甲", "university"), Pupil(2, "乙", "senior")],
        received=Received(household_fen=already),
    )
    plan = [p for p in propose(facts, terms) if p.cash]
    assert sum(p.amount_fen for p in plan) <= max(40_000_00 - already, 0)
    assert all(0 < p.amount_fen <= (p.cap_fen or 0) for p in plan)
    assert all(p.amount_fen <= 20_000_00 for p in plan if p.member_id is not None)
    if category == Cat.RELATIVE:
        assert len({p.kind for p in plan}) <= 1
