"""Classified help (DESIGN §4.3) as pure functions: which help a filed household's causes
call for, and how much the region's policy allows.

The services gather the facts (category, causes, members in school, self-paid medical
costs, accident losses, what was already received this year) and the terms; nothing here
touches the database. Every amount says which rule capped it (``cap_rule`` with its
``params``), so the case page can explain it in either language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from gonghui.hardship.choices import HardshipCategory, HardshipCause

from .choices import AidKind
from .money import format_fen, to_fen

CASH_KINDS = frozenset(
    {
        AidKind.LIVING,
        AidKind.MEDICAL,
        AidKind.EDUCATION,
        AidKind.MAJOR_ILLNESS,
        AidKind.ACCIDENT,
        AidKind.HOLIDAY_VISIT,
        AidKind.NECESSITIES,
    }
)


@dataclass(frozen=True)
class AidTerms:
    """The caps of an :class:`~gonghui.assistance.models.AidPolicy`, as plain values."""

    living_standard: Decimal  # 低保, yuan per person per month
    deep_living_months: int = 10
    relative_living_months: int = 8
    relative_one_kind: bool = True
    living_per_person: bool = True
    medical_ratio: Decimal = Decimal("0.80")
    medical_cap: Decimal = Decimal("16000")
    major_illness_cap: Decimal = Decimal("30000")
    accident_ratio: Decimal = Decimal("0.15")
    accident_cap: Decimal = Decimal("10000")
    education_amounts: Mapping[str, Decimal] = field(default_factory=dict)
    person_year_cap: Decimal = Decimal("20000")
    household_year_cap: Decimal = Decimal("40000")


@dataclass(frozen=True)
class Pupil:
    member_id: int
    name: str
    schooling: str


@dataclass(frozen=True)
class Received:
    """Help already approved or paid this year, counted against the caps."""

    household_fen: int = 0
    by_member_fen: Mapping[int, int] = field(default_factory=dict)
    cash_kinds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AidFacts:
    category: str
    causes: Sequence[int]  # primary first
    household_size: int
    self_paid_medical: Decimal = Decimal("0")  # over the 12 months before applying
    accident_cost: Decimal = Decimal("0")
    pupils: Sequence[Pupil] = ()
    received: Received = Received()


@dataclass(frozen=True)
class Proposal:
    kind: str
    amount_fen: int
    cap_fen: int | None
    cap_rule: str
    params: dict[str, str] = field(default_factory=dict)
    member_id: int | None = None
    cash: bool = True

    def explanation(self) -> str:
        return explain(self.cap_rule, self.params)


def _fen(value: Decimal) -> int:
    return to_fen(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --- one kind at a time ----------------------------------------------------------------


def living(facts: AidFacts, terms: AidTerms) -> Proposal | None:
    if facts.category == HardshipCategory.DEEP:
        months, rule = terms.deep_living_months, "deep_living_months"
    elif facts.category == HardshipCategory.RELATIVE:
        months, rule = terms.relative_living_months, "relative_living_months"
    else:
        return None
    people = facts.household_size if terms.living_per_person else 1
    cap = _fen(terms.living_standard * months * people)
    params = {
        "months": str(months),
        "standard": f"{terms.living_standard:,.2f}",
        "people": str(people),
        "cap": format_fen(cap),
    }
    return Proposal(AidKind.LIVING, cap, cap, rule, params)


def medical(facts: AidFacts, terms: AidTerms) -> Proposal | None:
    if facts.self_paid_medical <= 0:
        return None
    share = _fen(facts.self_paid_medical * terms.medical_ratio)
    cap = _fen(terms.medical_cap)
    params = {
        "ratio": f"{terms.medical_ratio * 100:.0f}",
        "self_paid": f"{facts.self_paid_medical:,.2f}",
        "cap": format_fen(cap),
    }
    if share <= cap:
        return Proposal(AidKind.MEDICAL, share, share, "medical_ratio", params)
    return Proposal(AidKind.MEDICAL, cap, cap, "medical_cap", params)


def accident(facts: AidFacts, terms: AidTerms) -> Proposal | None:
    if facts.accident_cost <= 0:
        return None
    share = _fen(facts.accident_cost * terms.accident_ratio)
    cap = _fen(terms.accident_cap)
    params = {
        "ratio": f"{terms.accident_ratio * 100:.0f}",
        "cost": f"{facts.accident_cost:,.2f}",
        "cap": format_fen(cap),
    }
    if share <= cap:
        return Proposal(AidKind.ACCIDENT, share, share, "accident_ratio", params)
    return Proposal(AidKind.ACCIDENT, cap, cap, "accident_cap", params)


def education(facts: AidFacts, terms: AidTerms) -> list[Proposal]:
    found = []
    for pupil in facts.pupils:
        amount = terms.education_amounts.get(pupil.schooling)
        if amount is None or amount <= 0:
            continue
        fen = _fen(amount)
        params = {"level": pupil.schooling, "name": pupil.name, "cap": format_fen(fen)}
        found.append(
            Proposal(AidKind.EDUCATION, fen, fen, "education_level", params, pupil.member_id)
        )
    return found


def major_illness(terms: AidTerms) -> Proposal:
    cap = _fen(terms.major_illness_cap)
    return Proposal(AidKind.MAJOR_ILLNESS, cap, cap, "major_illness_cap", {"cap": format_fen(cap)})


def kind_cap(kind: str, facts: AidFacts, terms: AidTerms, member_id: int | None) -> Proposal | None:
    """The most the policy allows for one kind of help typed in by hand (before the
    yearly caps); None when the kind has no cap of its own."""
    if kind == AidKind.LIVING:
        return living(facts, terms) or Proposal(kind, 0, 0, "no_living_aid")
    if kind == AidKind.MEDICAL:
        return medical(facts, terms) or Proposal(kind, 0, 0, "no_medical_costs")
    if kind == AidKind.ACCIDENT:
        return accident(facts, terms) or Proposal(kind, 0, 0, "no_accident_cost")
    if kind == AidKind.EDUCATION:
        found = [p for p in education(facts, terms) if p.member_id == member_id]
        return found[0] if found else Proposal(kind, 0, 0, "no_pupil")
    if kind == AidKind.MAJOR_ILLNESS:
        return major_illness(terms)
    return None


def non_cash(facts: AidFacts) -> list[Proposal]:
    causes = set(facts.causes)
    found = []
    if causes & {HardshipCause.LAID_OFF, HardshipCause.NOT_EMPLOYED}:
        found.append(
            Proposal(
                AidKind.TRAINING,
                0,
                None,
                "non_cash_cause",
                _cause(facts, {HardshipCause.LAID_OFF, HardshipCause.NOT_EMPLOYED}),
                cash=False,
            )
        )
        found.append(
            Proposal(
                AidKind.JOB_REFERRAL,
                0,
                None,
                "non_cash_cause",
                _cause(facts, {HardshipCause.LAID_OFF, HardshipCause.NOT_EMPLOYED}),
                cash=False,
            )
        )
    if causes & {HardshipCause.BENEFITS_UNPAID, HardshipCause.NO_INSURANCE}:
        found.append(
            Proposal(
                AidKind.LEGAL_AID,
                0,
                None,
                "non_cash_cause",
                _cause(facts, {HardshipCause.BENEFITS_UNPAID, HardshipCause.NO_INSURANCE}),
                cash=False,
            )
        )
    return found


def _cause(facts: AidFacts, codes: set[int]) -> dict[str, str]:
    return {"cause": str(next(c for c in facts.causes if c in codes))}


# --- the plan -----------------------------------------------------------------------------


def cash_candidates(facts: AidFacts, terms: AidTerms) -> list[Proposal]:
    """Cash help the causes call for, in the order the household needs it most: the
    primary cause's help first, then living aid, then the rest."""
    causes = set(facts.causes)
    by_cause: dict[int, list[Proposal]] = {}
    if causes & {HardshipCause.MAJOR_ILLNESS}:
        found = medical(facts, terms)
        by_cause[HardshipCause.MAJOR_ILLNESS] = [found] if found else []
    if causes & {HardshipCause.CHILDREN_IN_SCHOOL}:
        by_cause[HardshipCause.CHILDREN_IN_SCHOOL] = education(facts, terms)
    if causes & {HardshipCause.ACCIDENT, HardshipCause.DISASTER} or (
        facts.category == HardshipCategory.ACCIDENT
    ):
        found = accident(facts, terms)
        by_cause[HardshipCause.ACCIDENT] = [found] if found else []
    primary = facts.causes[0] if facts.causes else None
    if primary == HardshipCause.DISASTER:
        primary = HardshipCause.ACCIDENT
    ordered = list(by_cause.pop(primary, [])) if primary is not None else []
    if facts.category != HardshipCategory.ACCIDENT:
        found = living(facts, terms)
        if found:
            ordered.append(found)
    for proposals in by_cause.values():
        ordered.extend(proposals)
    return ordered


def propose(facts: AidFacts, terms: AidTerms) -> list[Proposal]:
    """The plan for a year: cash help capped by kind, then by the RELATIVE one-kind rule
    and the yearly caps per person and per household (counting what was already received),
    followed by non-cash help."""
    if facts.category not in {
        HardshipCategory.DEEP,
        HardshipCategory.RELATIVE,
        HardshipCategory.ACCIDENT,
    }:
        return []
    household_left = _fen(terms.household_year_cap) - facts.received.household_fen
    member_left = dict(facts.received.by_member_fen)
    kinds = set(facts.received.cash_kinds)
    plan: list[Proposal] = []
    one_kind = facts.category == HardshipCategory.RELATIVE and terms.relative_one_kind
    for proposal in cash_candidates(facts, terms):
        if one_kind and kinds and proposal.kind not in kinds:
            continue  # RELATIVE: one kind only, and it is taken
        capped = apply_year_caps(proposal, terms, household_left, member_left)
        if capped.amount_fen <= 0:
            continue
        plan.append(capped)
        kinds.add(capped.kind)
        household_left -= capped.amount_fen
        if capped.member_id is not None:
            member_left[capped.member_id] = member_left.get(capped.member_id, 0) + (
                capped.amount_fen
            )
    return plan + non_cash(facts)


def apply_year_caps(
    proposal: Proposal, terms: AidTerms, household_left: int, member_received: Mapping[int, int]
) -> Proposal:
    """The proposal cut to what the yearly caps still allow, naming the cap that bit."""
    amount, cap, rule, params = (
        proposal.amount_fen,
        proposal.cap_fen,
        proposal.cap_rule,
        dict(proposal.params),
    )
    if proposal.member_id is not None:
        person_left = _fen(terms.person_year_cap) - member_received.get(proposal.member_id, 0)
        if person_left < amount:
            amount, cap, rule = max(person_left, 0), max(person_left, 0), "person_year_cap"
            params["cap"] = format_fen(_fen(terms.person_year_cap))
            params["left"] = format_fen(cap)
    if household_left < amount:
        amount, cap, rule = max(household_left, 0), max(household_left, 0), "household_year_cap"
        params["cap"] = format_fen(_fen(terms.household_year_cap))
        params["left"] = format_fen(cap)
    return Proposal(proposal.kind, amount, cap, rule, params, proposal.member_id, proposal.cash)


def cap_for_edit(
    proposal_cap_fen: int | None,
    terms: AidTerms,
    household_received_fen: int,
    member_received_fen: int | None,
) -> tuple[int | None, str]:
    """The most a case worker may enter for a line, and the rule that sets it."""
    limits: list[tuple[int, str]] = []
    if proposal_cap_fen is not None:
        limits.append((proposal_cap_fen, "kind_cap"))
    limits.append((_fen(terms.household_year_cap) - household_received_fen, "household_year_cap"))
    if member_received_fen is not None:
        limits.append((_fen(terms.person_year_cap) - member_received_fen, "person_year_cap"))
    amount, rule = min(limits)
    return max(amount, 0), rule


def needs_level(amount_fen: int, levels: Iterable[Sequence[Any]], base: str) -> str:
    """The organisation level whose reviewer approves an amount: the highest threshold
    the amount exceeds, or ``base``. ``levels`` holds (yuan threshold, level) pairs."""
    chosen = base
    for threshold, level in sorted(levels, key=lambda pair: Decimal(str(pair[0]))):
        if amount_fen > to_fen(Decimal(str(threshold))):
            chosen = str(level)
    return chosen


# --- explanations ---------------------------------------------------------------------

CAP_TEXTS = {
    "deep_living_months": _(
        "Deep hardship: living aid is %(months)s months of the standard %(standard)s yuan "
        "for %(people)s people, %(cap)s yuan a year."
    ),
    "relative_living_months": _(
        "Relative hardship: living aid is %(months)s months of the standard %(standard)s "
        "yuan for %(people)s people, %(cap)s yuan a year."
    ),
    "medical_ratio": _(
        "Medical aid: %(ratio)s%% of the self-paid %(self_paid)s yuan (cap %(cap)s yuan)."
    ),
    "medical_cap": _(
        "Medical aid: %(ratio)s%% of the self-paid %(self_paid)s yuan is above the cap of "
        "%(cap)s yuan."
    ),
    "accident_ratio": _(
        "Accident aid: %(ratio)s%% of the hardship cost %(cost)s yuan (cap %(cap)s yuan)."
    ),
    "accident_cap": _(
        "Accident aid: %(ratio)s%% of the hardship cost %(cost)s yuan is above the cap of "
        "%(cap)s yuan."
    ),
    "education_level": _("Education aid for %(name)s (%(level)s): %(cap)s yuan."),
    "person_year_cap": _(
        "Cut to the yearly cap per person of %(cap)s yuan: %(left)s yuan left this year."
    ),
    "household_year_cap": _(
        "Cut to the yearly cap per household of %(cap)s yuan: %(left)s yuan left this year."
    ),
    "major_illness_cap": _("Major-illness aid: at most %(cap)s yuan."),
    "no_living_aid": _("Living aid is for deep and relative hardship only."),
    "no_medical_costs": _("No self-paid medical costs are recorded in the file."),
    "no_accident_cost": _("No accident or disaster losses are recorded in the file."),
    "no_pupil": _("Education aid is for a member at a school level the policy pays for."),
    "non_cash_cause": _("Non-cash help for the cause: %(cause)s."),
    "manual": _("Added by hand."),
    "holiday_visit": _("Holiday visit: %(campaign)s."),
}


def explain(rule: str, params: Mapping[str, str]) -> str:
    from gonghui.hardship.choices import HardshipCause as Cause
    from gonghui.people.choices import Schooling

    shown = dict(params)
    if "cause" in shown:
        shown["cause"] = str(Cause(int(shown["cause"])).label)
    if "level" in shown and shown["level"] in Schooling.values:
        shown["level"] = str(Schooling(shown["level"]).label)
    text = CAP_TEXTS.get(rule)
    return str(text) % shown if text is not None else rule
