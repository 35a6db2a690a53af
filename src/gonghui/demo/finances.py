"""Income and rigid-expense lines that put a household where the demo wants it.

The demo picks a target (say RELATIVE at 1.4 × the local standard), lays down the expenses
the family's situation implies, then sets the income so that (income − rigid expenses) ÷
size ÷ 12 lands on the target. The category stored on the file is never the target: it is
what :func:`gonghui.hardship.rules.assess` says about these lines.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from gonghui.hardship.choices import Exclusion, ExpenseKind, HardshipCategory, IncomeKind
from gonghui.hardship.rules import CaseFacts, Money, PolicyTerms
from gonghui.people.choices import Employment, Health, Relation, Schooling

from .households import Member

MONTHS = 12
# Per-capita income as a multiple of the standard, by target, safely inside each band.
BANDS: dict[str, tuple[float, float]] = {
    HardshipCategory.DEEP: (0.35, 0.92),
    HardshipCategory.RELATIVE: (1.08, 1.9),
    HardshipCategory.ACCIDENT: (2.1, 2.85),
    HardshipCategory.NOT_ELIGIBLE: (3.1, 4.5),
}
MIN_YEARLY_INCOME = 1_800  # odd jobs and small benefits: nobody lives on nothing
EXCLUSIONS_SEEN = (
    Exclusion.CAR,
    Exclusion.RUNS_BUSINESS,
    Exclusion.MULTIPLE_HOMES,
    Exclusion.HIDING_INCOME,
    Exclusion.CONTROLLING_SHAREHOLDER,
)


@dataclass(frozen=True)
class Line:
    kind: str
    amount: Decimal
    member: Member | None
    note: str = ""


@dataclass
class Finances:
    incomes: list[Line] = field(default_factory=list)
    expenses: list[Line] = field(default_factory=list)
    idle: int = 0
    exclusions: list[str] = field(default_factory=list)

    def facts(self, size: int, sudden_event: bool) -> CaseFacts:
        return CaseFacts(
            household_size=size,
            incomes=[Money(line.kind, line.amount) for line in self.incomes],
            expenses=[Money(line.kind, line.amount) for line in self.expenses],
            idle_able_members=self.idle,
            exclusions_found=frozenset(self.exclusions),
            sudden_event=sudden_event,
        )


def idle_members(members: list[Member], day: datetime.date) -> int:
    """Able-bodied members of working age without a job: counted at the minimum wage."""
    return sum(
        1
        for m in members
        if m.employment == Employment.UNEMPLOYED
        and m.health in (Health.HEALTHY, Health.CHRONIC)
        and 16 <= m.age(day) < 60
    )


def compose(
    rng: random.Random,
    members: list[Member],
    target: str,
    terms: PolicyTerms,
    applied_on: datetime.date,
    sudden_event: bool,
) -> Finances:
    money = Finances(idle=idle_members(members, applied_on))
    money.expenses = natural_expenses(rng, members, sudden_event)
    low, high = BANDS[target]
    if target == HardshipCategory.NOT_ELIGIBLE and rng.random() < 0.5:
        # Poor enough, but excluded: a car, a shop with employees, a second home...
        low, high = BANDS[HardshipCategory.DEEP]
        money.exclusions = [rng.choice(EXCLUSIONS_SEEN)]
    per_capita = terms.living_standard * Decimal(str(round(rng.uniform(low, high), 3)))
    net = whole(per_capita * len(members) * MONTHS)
    if target == HardshipCategory.ACCIDENT:
        _catastrophe(rng, money, members, net)
    imputed = terms.minimum_wage * MONTHS * money.idle
    income = max(net + rigid(money.expenses) - imputed, Decimal(MIN_YEARLY_INCOME))
    _balance(money, members, income + imputed - net)
    money.incomes = split_income(rng, members, income) + extras(rng, members)
    _record_incomes(money.incomes)
    return money


def whole(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("1"))


def rigid(lines: list[Line]) -> Decimal:
    return sum((x.amount for x in lines if x.kind != ExpenseKind.COMPULSORY_SCHOOLING), Decimal(0))


def _yuan(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low // 10, high // 10) * 10)


def natural_expenses(rng: random.Random, members: list[Member], sudden: bool) -> list[Line]:
    """The costs the family's situation implies, member by member."""
    lines = []
    for m in members:
        if m.health == Health.SERIOUS:
            lines.append(
                Line(ExpenseKind.ILLNESS, _yuan(rng, 12_000, 60_000), m, "住院及门诊自付费用")
            )
        elif m.health == Health.CHRONIC and rng.random() < 0.5:
            lines.append(Line(ExpenseKind.ILLNESS, _yuan(rng, 1_500, 8_000), m, "慢性病门诊自付"))
        if m.health == Health.DISABLED:
            lines.append(Line(ExpenseKind.DISABILITY, _yuan(rng, 3_000, 12_000), m, "康复及护理"))
        if m.schooling in (Schooling.SENIOR, Schooling.VOCATIONAL):
            lines.append(Line(ExpenseKind.SCHOOLING, _yuan(rng, 3_000, 8_000), m, "学费住宿费"))
        elif m.schooling in (Schooling.UNIVERSITY, Schooling.GRADUATE):
            lines.append(Line(ExpenseKind.SCHOOLING, _yuan(rng, 8_000, 16_000), m, "大学学费"))
        elif m.schooling in (Schooling.PRIMARY, Schooling.JUNIOR) and rng.random() < 0.3:
            # Shown on the file, but compulsory education is not a rigid expense.
            lines.append(
                Line(ExpenseKind.COMPULSORY_SCHOOLING, _yuan(rng, 500, 2_000), m, "课后服务及校服")
            )
    if sudden and not any(x.kind == ExpenseKind.ILLNESS for x in lines):
        lines.append(
            Line(
                ExpenseKind.ACCIDENT,
                _yuan(rng, 10_000, 50_000),
                members[0],
                "事故损失（已扣除赔偿）",
            )
        )
    if rng.random() < 0.25:
        lines.append(Line(ExpenseKind.HOUSING, _yuan(rng, 6_000, 15_000), None, "租房"))
    return lines


def _catastrophe(rng: random.Random, money: Finances, members: list[Member], net: Decimal) -> None:
    """An ACCIDENT case: hardship costs far above the year's income (the 80 % test)."""
    others = rigid([x for x in money.expenses if x.kind not in _HARDSHIP_KINDS])
    cost = whole(net * Decimal(str(round(rng.uniform(4.6, 6.0), 2))) + others * 4)
    kept = [x for x in money.expenses if x.kind not in _HARDSHIP_KINDS]
    sick = next((m for m in members if m.health == Health.SERIOUS), None)
    kind = ExpenseKind.ILLNESS if sick else ExpenseKind.ACCIDENT
    note = "重大疾病治疗自付" if sick else "意外事故损失（已扣除赔偿）"
    money.expenses = [*kept, Line(kind, cost, sick or members[0], note)]


_HARDSHIP_KINDS = frozenset({ExpenseKind.ILLNESS, ExpenseKind.ACCIDENT})


def _balance(money: Finances, members: list[Member], needed: Decimal) -> None:
    """If income had to be raised to its floor, the expenses rise with it."""
    gap = needed - rigid(money.expenses)
    if gap > 0:
        money.expenses.append(Line(ExpenseKind.HOUSING, gap, None, "房租及水电"))


def split_income(rng: random.Random, members: list[Member], total: Decimal) -> list[Line]:
    """Spread the counted income over the earners, to the yuan."""
    shares = _earners(rng, members)
    weight = sum(w for _m, _k, w in shares)
    lines, left = [], total
    for index, (member, kind, w) in enumerate(shares):
        amount = left if index == len(shares) - 1 else whole(total * Decimal(w / weight))
        amount = min(amount, left)
        left -= amount
        lines.append(Line(kind, amount, member, _INCOME_NOTES[kind]))
    return lines


_INCOME_NOTES: dict[str, str] = {
    IncomeKind.WAGES: "工资性收入",
    IncomeKind.BUSINESS: "经营性收入",
    IncomeKind.TRANSFERS: "养老金及各类补贴",
    IncomeKind.OTHER: "其他收入",
    IncomeKind.HOLIDAY_GIFTS: "节日慰问品",
    IncomeKind.BASIC_PENSION: "城乡居民基础养老金",
}


def _earners(rng: random.Random, members: list[Member]) -> list[tuple[Member | None, str, float]]:
    shares: list[tuple[Member | None, str, float]] = []
    for m in members:
        if m.employment == Employment.EMPLOYED:
            shares.append((m, IncomeKind.WAGES, rng.uniform(0.8, 1.4)))
        elif m.employment == Employment.FLEXIBLE:
            kind = IncomeKind.BUSINESS if rng.random() < 0.2 else IncomeKind.WAGES
            shares.append((m, kind, rng.uniform(0.4, 0.9)))
        elif m.employment == Employment.RETIRED:
            shares.append((m, IncomeKind.TRANSFERS, rng.uniform(0.3, 0.7)))
    return shares or [(members[0], IncomeKind.TRANSFERS, 1.0)]


def extras(rng: random.Random, members: list[Member]) -> list[Line]:
    """Lines the policy leaves out of the count: they show on the trace, not in the sum."""
    lines = []
    if rng.random() < 0.3:
        lines.append(Line(IncomeKind.HOLIDAY_GIFTS, _yuan(rng, 200, 800), None, "节日慰问品"))
    for m in members:
        if m.relation == Relation.PARENT and m.employment == Employment.RETIRED:
            lines.append(
                Line(IncomeKind.BASIC_PENSION, _yuan(rng, 1_500, 2_600), m, "城乡居民基础养老金")
            )
    return lines


def _record_incomes(lines: list[Line]) -> None:
    """Members' monthly income on the family page follows the lines of their file."""
    earned: dict[int, Decimal] = {}
    for line in lines:
        if line.member is not None and line.kind not in (IncomeKind.HOLIDAY_GIFTS,):
            earned[line.member.pk] = earned.get(line.member.pk, Decimal(0)) + line.amount
    for line in lines:
        if line.member is not None:
            line.member.monthly_income = (earned.get(line.member.pk, Decimal(0)) / MONTHS).quantize(
                Decimal("0.01")
            )
