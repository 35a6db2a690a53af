"""Which households get a hardship file, in which status, for which reason.

Statuses are dealt out in fixed proportions (not drawn one by one), so even a small demo
has every status. The showcase county (瑶海区) gets a share of its own, dealt in rounds of
every status, so the fixed logins find work of every kind there.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from itertools import accumulate

from gonghui.hardship.choices import SUDDEN_EVENT_CAUSES, ExitKind, FileStatus, HardshipCategory
from gonghui.hardship.choices import HardshipCause as Cause

from . import anhui
from .households import can_have_student
from .orgs import UnionType, spread
from .timeline import REJECT_STAGES
from .workers import Person

Status = FileStatus
Category = HardshipCategory

# Filed households are the majority; the rest are on their way in or already out.
STATUS_SHARES = (
    (Status.DRAFT, 8), (Status.INVESTIGATED, 7), (Status.NOTICE, 6), (Status.REVIEWED, 5),
    (Status.FILED, 52), (Status.REJECTED, 7), (Status.CLOSED, 15),
)  # fmt: skip
SHOWCASE_ROUNDS = 4  # the first 4 × 7 showcase files go through every status in turn
SHOWCASE_SHARE = 0.04
OPEN = frozenset(Status) - {Status.REJECTED, Status.CLOSED}


@dataclass(frozen=True)
class Plan:
    status: str
    slot: int | None = None  # round position in the showcase county, None elsewhere
    reopened: bool = False
    stage: str = ""  # for rejected files: the status they were rejected from
    exit_kind: str = ""  # for closed files


def status_deck(rng: random.Random, count: int) -> list[str]:
    counts = spread(count, [float(share) for _status, share in STATUS_SHARES])
    deck: list[str] = [
        status for (status, _s), n in zip(STATUS_SHARES, counts, strict=True) for _ in range(n)
    ]
    rng.shuffle(deck)
    return deck


def assign(rng: random.Random, heads: list[Person], files: int) -> dict[int, Plan]:
    """Household index -> plan. A household has at most one file, so at most one open."""
    # Courier workers' households belong to the industry federation, out of the 瑶海 users' reach.
    showcase = [
        i
        for i, h in enumerate(heads)
        if h.county.code == anhui.SHOWCASE_COUNTY and h.union.union_type != UnionType.COURIER
    ]
    rng.shuffle(showcase)
    share = min(max(SHOWCASE_ROUNDS * len(STATUS_SHARES), round(files * SHOWCASE_SHARE)), files)
    chosen = showcase[:share]
    taken = set(chosen)
    rest = [i for i in range(len(heads)) if i not in taken]
    rng.shuffle(rest)
    plans = dict(zip(chosen, _showcase_plans(rng, len(chosen)), strict=True))
    for index, status in zip(
        rest[: files - len(chosen)], status_deck(rng, files - len(chosen)), strict=False
    ):
        plans[index] = _plan(rng, status, None)
    return plans


def _showcase_plans(rng: random.Random, count: int) -> list[Plan]:
    cycle = [s for _round in range(SHOWCASE_ROUNDS) for s, _share in STATUS_SHARES]
    statuses = cycle[:count] + status_deck(rng, max(count - len(cycle), 0))
    return [
        _plan(rng, status, i % SHOWCASE_ROUNDS if i < len(cycle) else None)
        for i, status in enumerate(statuses)
    ]


def _plan(rng: random.Random, status: str, slot: int | None) -> Plan:
    if status == Status.REJECTED:
        return Plan(
            status, slot, stage=rng.choices(REJECT_STAGES, cum_weights=(20, 60, 90, 100))[0]
        )
    if status == Status.CLOSED:
        return Plan(status, slot, exit_kind=rng.choices(EXIT_KINDS, cum_weights=EXIT_WEIGHTS)[0])
    reopened = status == Status.DRAFT and (slot == 3 if slot is not None else rng.random() < 0.15)
    return Plan(status, slot, reopened=reopened)


_EXITS = (
    (ExitKind.RECOVERED, 45), (ExitKind.STABILISED, 20), (ExitKind.RETIREMENT, 15),
    (ExitKind.TRANSFER, 10), (ExitKind.DEATH, 10),
)  # fmt: skip
EXIT_KINDS = tuple(kind for kind, _w in _EXITS)
EXIT_WEIGHTS = tuple(accumulate(w for _k, w in _EXITS))

ELIGIBLE = ((Category.DEEP, 35), (Category.RELATIVE, 55), (Category.ACCIDENT, 10))
ANY = (
    (Category.DEEP, 30),
    (Category.RELATIVE, 45),
    (Category.ACCIDENT, 5),
    (Category.NOT_ELIGIBLE, 20),
)


def needs_eligible(plan: Plan) -> bool:
    """Past the investigation a file cannot be not-eligible: submit_for_notice refuses it."""
    if plan.status == Status.REJECTED:
        return plan.stage in (Status.NOTICE, Status.REVIEWED)
    return (
        plan.reopened
        or plan.slot is not None
        or plan.status not in (Status.DRAFT, Status.INVESTIGATED)
    )


def target(rng: random.Random, plan: Plan) -> str:
    if plan.status == Status.REJECTED and not needs_eligible(plan):
        return Category.NOT_ELIGIBLE
    table = ELIGIBLE if needs_eligible(plan) else ANY
    return rng.choices([c for c, _w in table], weights=[w for _c, w in table])[0]


# Primary causes: illness dominates (DESIGN §4.1: 36.97 % in one city).
_CAUSES = (
    (Cause.MAJOR_ILLNESS, 37), (Cause.UNABLE_TO_WORK, 10), (Cause.NOT_EMPLOYED, 8),
    (Cause.LAID_OFF, 6), (Cause.NO_INSURANCE, 4), (Cause.BENEFITS_UNPAID, 2),
    (Cause.DISASTER, 4), (Cause.ACCIDENT, 9), (Cause.CHILDREN_IN_SCHOOL, 14), (Cause.OTHER, 6),
)  # fmt: skip
CAUSES = tuple(int(c) for c, _w in _CAUSES)
CAUSE_WEIGHTS = tuple(accumulate(w for _c, w in _CAUSES))
SUDDEN = tuple(sorted(int(c) for c in SUDDEN_EVENT_CAUSES))


def causes(
    rng: random.Random, category: str, head: Person, today: datetime.date
) -> tuple[int, list[int]]:
    """A primary cause that fits the category and the family, and up to three others."""
    if category == Category.ACCIDENT:
        primary = rng.choices(SUDDEN, weights=(70, 10, 20))[0]  # illness, disaster, accident
    else:
        primary = rng.choices(CAUSES, cum_weights=CAUSE_WEIGHTS)[0]
    if primary == Cause.CHILDREN_IN_SCHOOL and not can_have_student(head, today):
        primary = Cause.MAJOR_ILLNESS
    others = [c for c in CAUSES if c not in (primary, Cause.CHILDREN_IN_SCHOOL, Cause.OTHER)]
    return primary, sorted(rng.sample(others, rng.choice((0, 0, 1, 1, 2, 3))))
