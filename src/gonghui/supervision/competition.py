"""Competitions: define, let judges score innovation, rank, freeze (issue 5, points 3–4).

Scoring is a pure function of its inputs (:func:`score`): the indicator values with their
numerators and denominators, the weights and normalisation, the judges' scores and the
previous period's ranks. A live ranking gathers the inputs (:func:`gather`): the indicator
values from the indicator store when they are fresh (``supervision.store``: a live ranking
is read on every view), otherwise from the records; the judges' scores always as they are.
Freezing computes the values from the records, never from the store, and the frozen ranking
reads the inputs and the ranking from its :class:`Snapshot`, so later edits to files cannot
move a published ranking.

How points are given, per indicator and tier (a value of None — no data — earns 0 points):

* caps first: a value below ``cap_low`` counts as ``cap_low``, above ``cap_high`` as
  ``cap_high``;
* min–max: ``weight × (value − worst) / (best − worst)``; when every competitor with data
  has the same value, each gets the full weight;
* by rank: competitors with data are ranked best first (equal values share a rank, the next
  rank skips: 1, 2, 2, 4); ``weight × (n − rank) / (n − 1)``, the full weight when n = 1;
* innovation (工作思路创新): the mean of the judges' scores (0–100) × ``innovation_weight``
  ÷ 100; no score yet earns 0.

Points are rounded to 0.01 per part and the total is the sum of the rounded parts, so the
breakdown always adds up. Equal totals share a rank (1, 2, 2, 4) and are listed by name.
Movement is the previous rank minus this rank: +2 means two places up.

Who reads a ranking (:func:`may_see_ranking`, :func:`rankings_for`): a live one only those
who run it (RUN_COMPETITIONS in the organiser or above); once frozen (published), also,
read-only, every staff user of a competing organisation or of one above it — a city
federation sees the province's ranking it is in — and the judges. Judges otherwise see only
their own scores, on their page.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.audit.models import AuditAction, record
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.organisations.models import Organisation

from . import access, store
from . import indicators as lib
from .models import (
    Competition,
    CompetitionIndicator,
    CompetitionStatus,
    JudgeScore,
    Normalisation,
    Snapshot,
    Tier,
)

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


# --- who may do what, and who sees which ranking ---------------------------------------------


def can_run_competitions(user: Any) -> bool:
    """Define and freeze competitions: leaders and administrators."""
    return bool(getattr(user, "is_authenticated", False)) and user.can(Capability.RUN_COMPETITIONS)


def _require_runner(user: Any, organisation: Organisation | None = None) -> None:
    if not can_run_competitions(user):
        raise NotAllowed(_("Your role does not allow this."))
    own = user.organisation
    if own is None or (organisation is not None and not own.contains(organisation)):
        raise NotAllowed(_("This organisation is outside your part of the tree."))


def may_run(user: Any, competition: Competition) -> bool:
    """Runs it: RUN_COMPETITIONS in the organiser or above it."""
    own = getattr(user, "organisation", None)
    return can_run_competitions(user) and own is not None and own.contains(competition.organiser)


def run_by(user: Any) -> QuerySet[Competition]:
    """The competitions the user runs: organised in their subtree, if they run competitions."""
    if not can_run_competitions(user):
        return Competition.objects.none()
    return Competition.objects.for_user(user)


def judged_by(user: Any) -> QuerySet[Competition]:
    return Competition.objects.filter(
        pk__in=Competition.judges.through.objects.filter(user_id=user.pk).values("competition_id")
    )


def _competing_in_subtree(user: Any) -> QuerySet[Tier]:
    """Tiers with a competitor in the user's subtree: the user's organisation competes, or
    one below it does (so the user's organisation is the competitor or its ancestor)."""
    return Tier.objects.filter(organisations__in=Organisation.objects.for_user(user).values("pk"))


def published_to(user: Any) -> QuerySet[Competition]:
    """Frozen competitions shown read-only to a staff user: those in which their
    organisation or one below it competes, and those they judged."""
    if not access.is_staff_member(user):
        return Competition.objects.none()
    competing = _competing_in_subtree(user).values("competition_id")
    judged = judged_by(user).values("pk")
    return Competition.objects.filter(status=CompetitionStatus.FROZEN).filter(
        Q(pk__in=competing) | Q(pk__in=judged)
    )


def rankings_for(user: Any) -> QuerySet[Competition]:
    """Every competition whose ranking the user may read: the ones they run (live or
    frozen) and the frozen ones published to them. A live ranking is for those who run it
    alone: a judge who saw it (and the mean of the scores) could read the other judges'."""
    return Competition.objects.filter(
        Q(pk__in=run_by(user).values("pk")) | Q(pk__in=published_to(user).values("pk"))
    )


def may_see_ranking(user: Any, competition: Competition) -> bool:
    if may_run(user, competition):
        return True
    if competition.status != CompetitionStatus.FROZEN or not access.is_staff_member(user):
        return False
    return (
        judged_by(user).filter(pk=competition.pk).exists()
        or _competing_in_subtree(user).filter(competition=competition).exists()
    )


def require_ranking_reader(user: Any, competition: Competition) -> None:
    if not may_see_ranking(user, competition):
        raise NotAllowed(_("Your role does not allow this."))


# --- defining a competition ----------------------------------------------------------------


@dataclass(frozen=True)
class TierSpec:
    name: str
    organisations: Sequence[Organisation]


@dataclass(frozen=True)
class IndicatorSpec:
    code: str
    weight: Decimal
    normalisation: str = Normalisation.MIN_MAX
    cap_low: Decimal | None = None
    cap_high: Decimal | None = None


def organisations_of_kind(user: Any, kind: str) -> list[Organisation]:
    """Every organisation of a kind (e.g. all city federations) in the user's subtree."""
    return list(Organisation.objects.for_user(user).filter(kind=kind).order_by("path"))


def define_competition(
    user: Any,
    *,
    name: str,
    period: lib.Period,
    tiers: Sequence[TierSpec],
    indicators: Sequence[IndicatorSpec],
    innovation_weight: Decimal = Decimal("0"),
    judges: Iterable[Any] = (),
    previous: Competition | None = None,
) -> Competition:
    _require_runner(user)
    _check_definition(user, name, tiers, indicators, innovation_weight, previous)
    with transaction.atomic():
        competition = Competition.objects.create(
            name=name.strip(),
            organiser=user.organisation,
            period_start=period.start,
            period_end=period.end,
            innovation_weight=innovation_weight,
            previous=previous,
            created_by=user,
        )
        chosen_judges = list(judges)
        competition.judges.set(chosen_judges)
        record(competition, AuditAction.UPDATE, {"judges": [None, [j.pk for j in chosen_judges]]})
        for position, spec in enumerate(tiers):
            tier = Tier.objects.create(competition=competition, name=spec.name, position=position)
            tier.organisations.set(spec.organisations)
            ids = sorted(o.pk for o in spec.organisations)
            record(tier, AuditAction.UPDATE, {"organisations": [None, ids]})
        for position, ind in enumerate(indicators):
            CompetitionIndicator.objects.create(
                competition=competition,
                code=ind.code,
                weight=ind.weight,
                normalisation=ind.normalisation,
                cap_low=ind.cap_low,
                cap_high=ind.cap_high,
                position=position,
            )
    return competition


def _check_definition(
    user: Any,
    name: str,
    tiers: Sequence[TierSpec],
    indicators: Sequence[IndicatorSpec],
    innovation_weight: Decimal,
    previous: Competition | None,
) -> None:
    if not name.strip():
        raise DomainError(_("Give the competition a name."), field="name")
    if not tiers or any(not t.organisations for t in tiers):
        raise DomainError(_("Each tier needs at least one organisation."), field="tiers")
    if len({t.name for t in tiers}) != len(tiers):
        raise DomainError(_("Two tiers have the same name."), field="tiers")
    for tier in tiers:
        for organisation in tier.organisations:
            _require_runner(user, organisation)
    codes = [i.code for i in indicators]
    if not codes and innovation_weight <= 0:
        raise DomainError(_("Choose at least one indicator."), field="indicators")
    if len(set(codes)) != len(codes):
        raise DomainError(_("An indicator is chosen twice."), field="indicators")
    for ind in indicators:
        lib.indicator(ind.code)
        if ind.weight < 0:
            raise DomainError(_("A weight cannot be negative."), field="weight")
        if ind.normalisation not in Normalisation.values:
            raise DomainError(_("Choose how to normalise."), field="normalisation")
        if ind.cap_low is not None and ind.cap_high is not None and ind.cap_low > ind.cap_high:
            raise DomainError(_("The lower cap is above the upper cap."), field="cap_low")
    if innovation_weight < 0:
        raise DomainError(_("A weight cannot be negative."), field="innovation_weight")
    if (
        previous is not None
        and not Competition.objects.for_user(user).filter(pk=previous.pk).exists()
    ):
        raise NotAllowed(_("This organisation is outside your part of the tree."))


# --- judges ----------------------------------------------------------------------------------


def score_innovation(
    user: Any, competition: Competition, organisation: Organisation, score: Decimal, comment: str
) -> JudgeScore:
    """A named judge enters or changes their own innovation score, before the freeze."""
    if not (Decimal(0) <= score <= HUNDRED):
        raise DomainError(_("A score lies between 0 and 100."), field="score")
    score = score.quantize(CENT, ROUND_HALF_UP)
    with transaction.atomic():
        locked = Competition.objects.select_for_update().get(pk=competition.pk)
        if not locked.judges.filter(pk=user.pk).exists():
            raise NotAllowed(_("You are not a judge of this competition."))
        if locked.status == CompetitionStatus.FROZEN:
            raise Conflict(_("The ranking is frozen; scores can no longer change."), field="score")
        if not Tier.objects.filter(competition=locked, organisations=organisation).exists():
            raise DomainError(_("This union does not compete here."), field="organisation")
        found, _created = JudgeScore.objects.update_or_create(
            competition=locked,
            organisation=organisation,
            judge=user,  # the judge's own row: nobody changes another judge's score
            defaults={"score": score, "comment": comment.strip()},
        )
    return found


# --- scoring ---------------------------------------------------------------------------------


@dataclass
class Part:
    code: str
    value: Decimal | None
    numerator: int | None
    denominator: int
    points: Decimal


@dataclass
class Row:
    organisation_id: int
    name: str
    rank: int = 0
    total: Decimal = Decimal("0")
    parts: list[Part] = field(default_factory=list)
    innovation: Decimal | None = None  # the judges' mean
    innovation_points: Decimal = Decimal("0")
    previous_rank: int | None = None

    @property
    def movement(self) -> int | None:
        return None if self.previous_rank is None else self.previous_rank - self.rank


@dataclass
class TierRanking:
    name: str
    rows: list[Row]


@dataclass
class Ranking:
    competition_id: int
    frozen: bool
    tiers: list[TierRanking]
    inputs: dict[str, Any]

    def rank_of(self) -> dict[int, int]:
        return {row.organisation_id: row.rank for t in self.tiers for row in t.rows}

    @property
    def values_as_of(self) -> datetime.datetime | None:
        """When a live ranking's indicator values were computed (read from the store); None
        when they were computed for this ranking (always so for a frozen one)."""
        raw = self.inputs.get("values_as_of")
        return datetime.datetime.fromisoformat(raw) if raw else None


def indicator_values(
    competition: Competition, codes: list[str], competing: set[int], live: bool
) -> tuple[dict[str, dict[int, lib.Value]], datetime.datetime | None]:
    """The competitors' indicator values and when they were computed: from the indicator
    store when every code of the period is stored and fresh (a live ranking is read on every
    view), otherwise — and always when ``live`` (freezing) — computed from the records now
    (the moment is then None)."""
    if not codes:
        return {}, None
    period = period_of(competition)
    if not live:
        stored = store.fresh(period, sorted(competing), codes)
        if stored is not None:
            return stored.now, stored.as_of
    return lib.compute(period, codes, root=competition.organiser), None


def gather(competition: Competition, live: bool = False) -> dict[str, Any]:
    """Every input of the live ranking, as JSON: what a snapshot stores. The indicator
    values come from the store when fresh (``values_as_of`` says when they were computed);
    with ``live`` they are computed now, as freezing needs. Judges' scores are always read
    as they are."""
    period = lib.Period(competition.period_start, competition.period_end)
    chosen = list(competition.indicators.all())
    codes = [c.code for c in chosen]
    tiers = list(competition.tiers.prefetch_related("organisations"))
    competing = {o.pk for t in tiers for o in t.organisations.all()}
    values, as_of = indicator_values(competition, codes, competing, live)
    scores = competition.judge_scores.select_related("judge").order_by(
        "organisation_id", "judge_id"
    )
    previous = ranking(competition.previous).rank_of() if competition.previous else {}
    return {
        "period": [period.start.isoformat(), period.end.isoformat()],
        "innovation_weight": str(competition.innovation_weight),
        "indicators": [
            {
                **lib.indicator(c.code).as_json(),
                "weight": str(c.weight),
                "normalisation": c.normalisation,
                "cap_low": None if c.cap_low is None else str(c.cap_low),
                "cap_high": None if c.cap_high is None else str(c.cap_high),
            }
            for c in chosen
        ],
        "tiers": [
            {
                "name": t.name,
                "organisations": [
                    {"id": o.pk, "name": o.name} for o in sorted(t.organisations.all(), key=_key)
                ],
            }
            for t in tiers
        ],
        "values": {
            code: {str(pk): v.as_json() for pk, v in by_org.items() if pk in competing}
            for code, by_org in values.items()
        },
        "judge_scores": [
            {
                "organisation": s.organisation_id,
                "judge": s.judge_id,
                "judge_name": str(s.judge),
                "score": str(s.score),
                "comment": s.comment,
            }
            for s in scores
        ],
        "previous_ranks": {str(pk): rank for pk, rank in previous.items()},
        # Only for values read from the store: a snapshot's are computed at the freeze.
        **({"values_as_of": as_of.isoformat()} if as_of is not None else {}),
    }


def _key(organisation: Organisation) -> tuple[str, int]:
    return (organisation.name, organisation.pk)


def score(inputs: dict[str, Any], competition_id: int = 0, frozen: bool = False) -> Ranking:
    """The ranking from its inputs alone (no queries)."""
    judged: dict[int, list[Decimal]] = defaultdict(list)
    for entry in inputs["judge_scores"]:
        judged[entry["organisation"]].append(Decimal(entry["score"]))
    innovation_weight = Decimal(inputs["innovation_weight"])
    tiers = []
    for tier in inputs["tiers"]:
        rows = [Row(o["id"], o["name"]) for o in tier["organisations"]]
        for spec in inputs["indicators"]:
            values = inputs["values"].get(spec["code"], {})
            found = {
                row.organisation_id: lib.Value.from_json(values[str(row.organisation_id)])
                if str(row.organisation_id) in values
                else lib.Value(None, None, 0)
                for row in rows
            }
            points = normalise(spec, {pk: v.value for pk, v in found.items()})
            for row in rows:
                v = found[row.organisation_id]
                part = Part(
                    spec["code"], v.value, v.numerator, v.denominator, points[row.organisation_id]
                )
                row.parts.append(part)
        for row in rows:
            marks = judged.get(row.organisation_id, [])
            if marks:
                row.innovation = (sum(marks, Decimal(0)) / Decimal(len(marks))).quantize(
                    CENT, ROUND_HALF_UP
                )
                row.innovation_points = _cents(innovation_weight * row.innovation / HUNDRED)
            row.total = sum((p.points for p in row.parts), row.innovation_points)
            row.previous_rank = inputs["previous_ranks"].get(str(row.organisation_id))
        _rank(rows)
        tiers.append(TierRanking(tier["name"], rows))
    return Ranking(competition_id, frozen, tiers, inputs)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def _rank(rows: list[Row]) -> None:
    """Standard competition ranking: equal totals share a rank, the next rank skips."""
    rows.sort(key=lambda r: (-r.total, r.name, r.organisation_id))
    for index, row in enumerate(rows):
        tied = index and rows[index - 1].total == row.total
        row.rank = rows[index - 1].rank if tied else index + 1


def normalise(spec: dict[str, Any], values: dict[int, Decimal | None]) -> dict[int, Decimal]:
    """Points per competitor for one indicator in one tier (see the module docstring)."""
    weight = Decimal(spec["weight"])
    low = None if spec.get("cap_low") is None else Decimal(spec["cap_low"])
    high = None if spec.get("cap_high") is None else Decimal(spec["cap_high"])
    better = 1 if spec["higher_is_better"] else -1
    capped = {}
    for pk, value in values.items():
        if value is not None:
            value = max(value, low) if low is not None else value
            value = min(value, high) if high is not None else value
            capped[pk] = value
    points = {pk: Decimal("0.00") for pk in values}
    if not capped:
        return points
    if spec["normalisation"] == Normalisation.RANK:
        n = len(capped)
        for pk, value in capped.items():
            rank = 1 + sum(1 for other in capped.values() if (other - value) * better > 0)
            share = Decimal(n - rank) / Decimal(n - 1) if n > 1 else Decimal(1)
            points[pk] = _cents(weight * share)
        return points
    best = max(capped.values()) if better > 0 else min(capped.values())
    worst = min(capped.values()) if better > 0 else max(capped.values())
    for pk, value in capped.items():
        share = Decimal(1) if best == worst else (value - worst) / (best - worst)
        points[pk] = _cents(weight * share)
    return points


def ranking(competition: Competition) -> Ranking:
    """The frozen ranking of a frozen competition, the live one otherwise."""
    snapshot = Snapshot.objects.filter(competition=competition).first()
    if snapshot is not None:
        return from_json(snapshot.data, competition.pk)
    return score(gather(competition), competition.pk)


def freeze(user: Any, competition: Competition) -> Snapshot:
    """Freeze the period: the ranking and every input behind it are stored, audited, and
    judges can no longer change their scores."""
    _require_runner(user, competition.organiser)
    with transaction.atomic():
        locked = Competition.objects.select_for_update().get(pk=competition.pk)
        if locked.status == CompetitionStatus.FROZEN:
            raise Conflict(_("The ranking is already frozen."), field="status")
        # Computed from the records now, never from the store: the snapshot is exact at
        # the moment of freezing.
        result = score(gather(locked, live=True), locked.pk, frozen=True)
        snapshot = Snapshot.objects.create(competition=locked, frozen_by=user, data=to_json(result))
        locked.status = CompetitionStatus.FROZEN
        locked.save(update_fields=["status"])
    competition.refresh_from_db()
    return snapshot


# --- JSON for the snapshot ---------------------------------------------------------------------


def to_json(result: Ranking) -> dict[str, Any]:
    return {
        "inputs": result.inputs,
        "tiers": [
            {
                "name": tier.name,
                "rows": [
                    {
                        "organisation": row.organisation_id,
                        "name": row.name,
                        "rank": row.rank,
                        "total": str(row.total),
                        "innovation": None if row.innovation is None else str(row.innovation),
                        "innovation_points": str(row.innovation_points),
                        "previous_rank": row.previous_rank,
                        "parts": [
                            {
                                "code": p.code,
                                "value": None if p.value is None else str(p.value),
                                "numerator": p.numerator,
                                "denominator": p.denominator,
                                "points": str(p.points),
                            }
                            for p in row.parts
                        ],
                    }
                    for row in tier.rows
                ],
            }
            for tier in result.tiers
        ],
    }


def from_json(data: dict[str, Any], competition_id: int) -> Ranking:
    tiers = []
    for tier in data["tiers"]:
        rows = []
        for r in tier["rows"]:
            parts = [
                Part(
                    p["code"],
                    None if p["value"] is None else Decimal(p["value"]),
                    p["numerator"],
                    p["denominator"],
                    Decimal(p["points"]),
                )
                for p in r["parts"]
            ]
            rows.append(
                Row(
                    r["organisation"],
                    r["name"],
                    r["rank"],
                    Decimal(r["total"]),
                    parts,
                    None if r["innovation"] is None else Decimal(r["innovation"]),
                    Decimal(r["innovation_points"]),
                    r["previous_rank"],
                )
            )
        tiers.append(TierRanking(tier["name"], rows))
    return Ranking(competition_id, True, tiers, data["inputs"])


def period_of(competition: Competition) -> lib.Period:
    return lib.Period(competition.period_start, competition.period_end)
