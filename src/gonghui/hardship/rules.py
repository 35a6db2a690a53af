"""The eligibility rules of DESIGN §4.1 as pure functions over plain values.

Nothing here touches the database: the services gather the facts and the policy terms,
call :func:`assess`, and store the result with the policy snapshot it was made under.
Every step leaves a :class:`TraceLine`, so the case page can show line by line why a
household is DEEP, RELATIVE, ACCIDENT or not eligible.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from .choices import Exclusion, ExpenseKind, HardshipCategory, IncomeKind

CENT = Decimal("0.01")
MONTHS = 12


def yuan(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PolicyTerms:
    """The numbers a decision depends on, frozen into the file when it is decided."""

    living_standard: Decimal  # 低保, yuan per person per month
    relative_multiplier: Decimal = Decimal("2")
    accident_multiplier: Decimal = Decimal("3")
    accident_cost_ratio: Decimal = Decimal("0.80")
    minimum_wage: Decimal = Decimal("0")  # monthly, imputed for able members without a job
    count_union_aid: bool = True
    count_holiday_gifts: bool = False
    count_basic_pension: bool = False
    exclusions: frozenset[str] = frozenset()  # the exclusion rules in force
    exit_months: int = 6

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Decimal):
                data[key] = str(value)
        data["exclusions"] = sorted(self.exclusions)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyTerms:
        defaults = cls(living_standard=Decimal("0"))
        return cls(
            living_standard=Decimal(data["living_standard"]),
            relative_multiplier=Decimal(data["relative_multiplier"]),
            accident_multiplier=Decimal(data["accident_multiplier"]),
            accident_cost_ratio=Decimal(data["accident_cost_ratio"]),
            minimum_wage=Decimal(data.get("minimum_wage", defaults.minimum_wage)),
            count_union_aid=bool(data.get("count_union_aid", defaults.count_union_aid)),
            count_holiday_gifts=bool(data.get("count_holiday_gifts", False)),
            count_basic_pension=bool(data.get("count_basic_pension", False)),
            exclusions=frozenset(data.get("exclusions", ())),
            exit_months=int(data.get("exit_months", defaults.exit_months)),
        )


@dataclass(frozen=True)
class Money:
    kind: str
    amount: Decimal  # total over the 12 months before applying


@dataclass(frozen=True)
class CaseFacts:
    household_size: int
    incomes: Sequence[Money] = ()
    expenses: Sequence[Money] = ()
    idle_able_members: int = 0  # able-bodied, working age, no job
    exclusions_found: frozenset[str] = frozenset()
    sudden_event: bool = False


@dataclass(frozen=True)
class TraceLine:
    """One step of the decision; ``code`` selects a translatable sentence."""

    code: str
    params: dict[str, str] = field(default_factory=dict)
    decisive: bool = False

    def text(self) -> str:
        """The sentence in the active language; kinds and reasons are stored as codes so
        that a trace written in one language reads right in another."""
        params = dict(self.params)
        choices = TRACE_LABELS.get(self.code)
        if choices is not None:
            key = "reason" if "reason" in params else "kind"
            params[key] = _label(choices, params[key])
        return str(TRACE_TEXTS[self.code]) % params


@dataclass(frozen=True)
class Assessment:
    category: str
    per_capita: Decimal
    yearly_income: Decimal
    rigid_expenses: Decimal
    trace: tuple[TraceLine, ...]

    def trace_json(self) -> list[dict[str, Any]]:
        return [asdict(line) for line in self.trace]


TRACE_TEXTS = {
    "income": _("Income counted: %(kind)s %(amount)s yuan over 12 months."),
    "income_left_out": _("Income left out by policy: %(kind)s %(amount)s yuan."),
    "imputed": _(
        "%(count)s able member(s) without a job counted at the minimum wage "
        "%(wage)s yuan a month: %(amount)s yuan."
    ),
    "expense": _("Rigid expense deducted: %(kind)s %(amount)s yuan."),
    "expense_not_rigid": _(
        "Not a rigid expense: %(kind)s %(amount)s yuan (compulsory education is free)."
    ),
    "per_capita": _(
        "Per-capita monthly net income = (%(income)s − %(expenses)s) ÷ %(size)s people ÷ 12 "
        "= %(per_capita)s yuan."
    ),
    "exclusion": _("Excluded: %(reason)s."),
    "exclusion_off": _("Noted but not an exclusion under this policy: %(reason)s."),
    "deep": _("%(per_capita)s is below the local minimum living standard %(standard)s: DEEP."),
    "relative": _(
        "%(per_capita)s is at or above the standard %(standard)s and below %(multiplier)s × "
        "standard = %(limit)s: RELATIVE."
    ),
    "not_relative": _(
        "%(per_capita)s is not below %(multiplier)s × standard = %(limit)s: not RELATIVE."
    ),
    "accident_cost": _(
        "Hardship costs %(costs)s yuan are %(share)s%% of yearly income %(income)s "
        "(the test is above %(ratio)s%%)."
    ),
    "accident": _(
        "A sudden event, costs above the test and %(per_capita)s below %(multiplier)s × "
        "standard = %(limit)s: ACCIDENT."
    ),
    "no_sudden_event": _("No sudden event among the causes: not an ACCIDENT case."),
    "not_accident": _("The accident tests are not met: not an ACCIDENT case."),
    "not_eligible": _("Not eligible: income is above every threshold."),
}


TRACE_LABELS: dict[str, Any] = {
    "income": IncomeKind,
    "income_left_out": IncomeKind,
    "expense": ExpenseKind,
    "expense_not_rigid": ExpenseKind,
    "exclusion": Exclusion,
    "exclusion_off": Exclusion,
}


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _count_incomes(facts: CaseFacts, terms: PolicyTerms) -> tuple[Decimal, list[TraceLine]]:
    left_out = set()
    if not terms.count_union_aid:
        left_out.add(IncomeKind.UNION_AID)
    if not terms.count_holiday_gifts:
        left_out.add(IncomeKind.HOLIDAY_GIFTS)
    if not terms.count_basic_pension:
        left_out.add(IncomeKind.BASIC_PENSION)
    total, lines = Decimal("0"), []
    for item in facts.incomes:
        params = {"kind": item.kind, "amount": str(yuan(item.amount))}
        if item.kind in left_out:
            lines.append(TraceLine("income_left_out", params))
        else:
            total += item.amount
            lines.append(TraceLine("income", params))
    if facts.idle_able_members:
        imputed = terms.minimum_wage * MONTHS * facts.idle_able_members
        total += imputed
        lines.append(
            TraceLine(
                "imputed",
                {
                    "count": str(facts.idle_able_members),
                    "wage": str(yuan(terms.minimum_wage)),
                    "amount": str(yuan(imputed)),
                },
            )
        )
    return total, lines


def _count_expenses(facts: CaseFacts) -> tuple[Decimal, Decimal, list[TraceLine]]:
    """Rigid expenses, the part of them that is hardship cost, and the trace."""
    total, hardship_costs, lines = Decimal("0"), Decimal("0"), []
    for item in facts.expenses:
        params = {"kind": item.kind, "amount": str(yuan(item.amount))}
        if item.kind == ExpenseKind.COMPULSORY_SCHOOLING:
            lines.append(TraceLine("expense_not_rigid", params))
            continue
        total += item.amount
        if item.kind in (ExpenseKind.ILLNESS, ExpenseKind.ACCIDENT):
            hardship_costs += item.amount
        lines.append(TraceLine("expense", params))
    return total, hardship_costs, lines


def _exclusion_lines(facts: CaseFacts, terms: PolicyTerms) -> list[TraceLine]:
    lines = []
    for code in sorted(facts.exclusions_found):
        reason = {"reason": code}
        in_force = code in terms.exclusions
        lines.append(TraceLine("exclusion" if in_force else "exclusion_off", reason, in_force))
    return lines


def _accident_test(
    facts: CaseFacts,
    terms: PolicyTerms,
    per_capita: Decimal,
    yearly_income: Decimal,
    hardship_costs: Decimal,
) -> tuple[bool, list[TraceLine]]:
    if not facts.sudden_event:
        return False, [TraceLine("no_sudden_event")]
    share = hardship_costs / yearly_income * 100 if yearly_income > 0 else Decimal("100")
    cost_ok = hardship_costs > 0 and hardship_costs > yearly_income * terms.accident_cost_ratio
    limit = terms.living_standard * terms.accident_multiplier
    lines = [
        TraceLine(
            "accident_cost",
            {
                "costs": str(yuan(hardship_costs)),
                "share": str(yuan(share)),
                "income": str(yuan(yearly_income)),
                "ratio": str(yuan(terms.accident_cost_ratio * 100)),
            },
        )
    ]
    if cost_ok and per_capita < limit:
        params = {
            "per_capita": str(per_capita),
            "multiplier": str(terms.accident_multiplier.normalize()),
            "limit": str(yuan(limit)),
        }
        lines.append(TraceLine("accident", params, decisive=True))
        return True, lines
    lines.append(TraceLine("not_accident"))
    return False, lines


def per_capita_income(yearly_income: Decimal, rigid: Decimal, household_size: int) -> Decimal:
    """(income − rigid expenses) ÷ household size ÷ 12, to the fen."""
    if household_size < 1:
        raise ValueError("A household has at least one person.")
    return yuan((yearly_income - rigid) / household_size / MONTHS)


def assess(facts: CaseFacts, terms: PolicyTerms) -> Assessment:
    """Decide the category, leaving a line for each step of the reasoning."""
    income, trace = _count_incomes(facts, terms)
    rigid, hardship_costs, expense_lines = _count_expenses(facts)
    trace += expense_lines
    per_capita = per_capita_income(income, rigid, facts.household_size)
    trace.append(
        TraceLine(
            "per_capita",
            {
                "income": str(yuan(income)),
                "expenses": str(yuan(rigid)),
                "size": str(facts.household_size),
                "per_capita": str(per_capita),
            },
        )
    )

    def result(category: str) -> Assessment:
        return Assessment(category, per_capita, yuan(income), yuan(rigid), tuple(trace))

    exclusions = _exclusion_lines(facts, terms)
    trace += exclusions
    if any(line.decisive for line in exclusions):
        return result(HardshipCategory.NOT_ELIGIBLE)
    standard = terms.living_standard
    if per_capita < standard:
        params = {"per_capita": str(per_capita), "standard": str(yuan(standard))}
        trace.append(TraceLine("deep", params, decisive=True))
        return result(HardshipCategory.DEEP)
    relative_limit = standard * terms.relative_multiplier
    params = {
        "per_capita": str(per_capita),
        "standard": str(yuan(standard)),
        "multiplier": str(terms.relative_multiplier.normalize()),
        "limit": str(yuan(relative_limit)),
    }
    if per_capita < relative_limit:
        trace.append(TraceLine("relative", params, decisive=True))
        return result(HardshipCategory.RELATIVE)
    trace.append(TraceLine("not_relative", params))
    is_accident, accident_lines = _accident_test(facts, terms, per_capita, income, hardship_costs)
    trace += accident_lines
    if is_accident:
        return result(HardshipCategory.ACCIDENT)
    trace.append(TraceLine("not_eligible", decisive=True))
    return result(HardshipCategory.NOT_ELIGIBLE)


def months_above_standard(
    readings: Iterable[tuple[datetime.date, Decimal, Decimal]],
) -> int:
    """Consecutive calendar months, ending with the latest reading, in which per-capita
    income was above the living standard. ``readings`` are (month, income, standard)."""
    ordered = sorted(readings, key=lambda r: r[0], reverse=True)
    streak, expected = 0, None
    for month, income, standard in ordered:
        if expected is not None and (month.year, month.month) != expected:
            break
        if income <= standard:
            break
        streak += 1
        expected = (month.year - 1, 12) if month.month == 1 else (month.year, month.month - 1)
    return streak
