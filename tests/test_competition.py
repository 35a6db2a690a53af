"""Competitions: points by hand from the rules in supervision/competition.py's docstring,
judges' scores, ties, movement, and a frozen ranking that later edits cannot move."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from gonghui.accounts.choices import Role
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.organisations.choices import OrganisationKind
from gonghui.supervision import competition as comp
from gonghui.supervision import report
from gonghui.supervision.indicators import Period
from gonghui.supervision.models import CompetitionStatus, JudgeScore, Normalisation, Snapshot
from tests.cases import filed, move
from tests.competitions import competing_cities, define
from tests.factories import Province, user

D = datetime.date
Y2025 = Period.year(2025)


def spec(code: str, weight: str, norm: str, better: bool = True, **caps: str) -> dict[str, Any]:
    return {
        "code": code,
        "weight": weight,
        "normalisation": norm,
        "higher_is_better": better,
        "cap_low": caps.get("low"),
        "cap_high": caps.get("high"),
    }


def inputs(values: dict[str, dict[int, str | None]], **extra: Any) -> dict[str, Any]:
    """Hand-written inputs for three unions A (1), B (2), C (3) in one tier."""
    data: dict[str, Any] = {
        "period": ["2025-01-01", "2025-12-31"],
        "innovation_weight": "0",
        "indicators": [],
        "tiers": [
            {
                "name": "cities",
                "organisations": [{"id": i, "name": n} for i, n in ((1, "A"), (2, "B"), (3, "C"))],
            }
        ],
        "values": {
            code: {
                str(pk): {"value": v, "numerator": None, "denominator": 0 if v is None else 1}
                for pk, v in by_org.items()
            }
            for code, by_org in values.items()
        },
        "judge_scores": [],
        "previous_ranks": {},
    }
    data.update(extra)
    return data


def rows_of(ranking: comp.Ranking) -> dict[str, tuple[int, Decimal]]:
    return {row.name: (row.rank, row.total) for row in ranking.tiers[0].rows}


# --- points, by hand ---------------------------------------------------------------------------


def test_min_max_rank_innovation_and_no_data() -> None:
    data = inputs(
        {"x": {1: "50", 2: "30", 3: "10"}, "y": {1: "5", 2: "5", 3: None}},
        indicators=[
            spec("x", "60", Normalisation.MIN_MAX),
            spec("y", "20", Normalisation.RANK, better=False),
        ],
        innovation_weight="20",
        judge_scores=[
            {"organisation": 1, "judge": 7, "judge_name": "j", "score": "80", "comment": ""},
            {"organisation": 1, "judge": 8, "judge_name": "k", "score": "90", "comment": ""},
            {"organisation": 2, "judge": 7, "judge_name": "j", "score": "100", "comment": ""},
        ],
    )
    result = comp.score(data)
    # x (min–max, 60): A 60 × (50−10)/(50−10) = 60, B 60 × 20/40 = 30, C 0.
    # y (rank, lower better, 20): A and B tie at rank 1 of n = 2 → 20 each; C no data → 0.
    # innovation (20): A mean 85 → 17, B 100 → 20, C none → 0.
    assert rows_of(result) == {
        "A": (1, Decimal("97.00")),
        "B": (2, Decimal("70.00")),
        "C": (3, Decimal("0.00")),
    }
    a = result.tiers[0].rows[0]
    assert [(p.code, p.points) for p in a.parts] == [
        ("x", Decimal("60.00")),
        ("y", Decimal("20.00")),
    ]
    assert a.innovation == Decimal("85.00") and a.innovation_points == Decimal("17.00")
    c = result.tiers[0].rows[2]
    assert c.parts[1].value is None and c.innovation is None


def test_rank_points_ties_share_a_rank_and_the_next_skips() -> None:
    data = inputs(
        {"x": {1: "7", 2: "9", 3: "7"}},
        indicators=[spec("x", "10", Normalisation.RANK)],
    )
    result = comp.score(data)
    # B first (rank 1 → 10 × 2/2 = 10); A and C tie at rank 2 → 10 × (3−2)/2 = 5 each.
    assert rows_of(result) == {
        "B": (1, Decimal("10.00")),
        "A": (2, Decimal("5.00")),
        "C": (2, Decimal("5.00")),
    }
    # Equal totals are listed by name.
    assert [row.name for row in result.tiers[0].rows] == ["B", "A", "C"]


def test_caps_clip_values_before_min_max() -> None:
    data = inputs(
        {"x": {1: "50", 2: "30", 3: "10"}},
        indicators=[spec("x", "60", Normalisation.MIN_MAX, high="40")],
    )
    # A counts as 40: A 60, B 60 × (30−10)/(40−10) = 40, C 0.
    assert rows_of(comp.score(data)) == {
        "A": (1, Decimal("60.00")),
        "B": (2, Decimal("40.00")),
        "C": (3, Decimal("0.00")),
    }


def test_everyone_equal_gets_the_full_weight_and_movement_is_previous_minus_now() -> None:
    data = inputs(
        {"x": {1: "3", 2: "3", 3: "3"}},
        indicators=[spec("x", "10", Normalisation.MIN_MAX)],
        previous_ranks={"1": 3, "2": 1},
    )
    result = comp.score(data)
    assert rows_of(result) == {n: (1, Decimal("10.00")) for n in "ABC"}
    movement = {row.name: row.movement for row in result.tiers[0].rows}
    assert movement == {"A": 2, "B": 0, "C": None}


# --- a competition on real records ------------------------------------------------------------


@pytest.fixture
def setup(province: Province) -> dict[str, Any]:
    cities = competing_cities(province)
    return cities | {"competition": define(cities)}


def test_a_leader_defines_judges_score_and_the_ranking_adds_up(setup: dict[str, Any]) -> None:
    p, judy, jack, competition = setup["p"], setup["judy"], setup["jack"], setup["competition"]
    comp.score_innovation(judy, competition, p.hefei, Decimal("60"), "思路清晰")
    comp.score_innovation(judy, competition, p.wuhu, Decimal("100"), "驿站联动有新意")
    comp.score_innovation(jack, competition, p.wuhu, Decimal("80"), "")
    result = comp.ranking(competition)
    # 合肥 2 files / 4 members = 500 ‰, 芜湖 1 / 4 = 250 ‰: min–max 80 and 0.
    # Innovation: 合肥 60 → 12, 芜湖 (100 + 80)/2 = 90 → 18.
    totals = {row.name: (row.rank, row.total) for row in result.tiers[0].rows}
    assert totals == {"合肥市总工会": (1, Decimal("92.00")), "芜湖市总工会": (2, Decimal("18.00"))}
    hefei = result.tiers[0].rows[0]
    assert (hefei.parts[0].value, hefei.parts[0].numerator, hefei.parts[0].denominator) == (
        Decimal("500.0000"),
        2,
        4,
    )


def test_a_judge_changes_only_their_own_score_and_only_before_the_freeze(
    setup: dict[str, Any],
) -> None:
    p, judy, jack, competition = setup["p"], setup["judy"], setup["jack"], setup["competition"]
    comp.score_innovation(judy, competition, p.hefei, Decimal("60"), "")
    comp.score_innovation(jack, competition, p.hefei, Decimal("70"), "")
    comp.score_innovation(judy, competition, p.hefei, Decimal("65"), "改分")
    scores = dict(JudgeScore.objects.values_list("judge__username", "score"))
    assert scores == {"judy": Decimal("65.00"), "jack": Decimal("70.00")}
    with pytest.raises(NotAllowed):
        comp.score_innovation(p.alice, competition, p.hefei, Decimal("10"), "")
    with pytest.raises(DomainError) as error:
        comp.score_innovation(judy, competition, p.hefei, Decimal("101"), "")
    assert error.value.field == "score"
    with pytest.raises(DomainError) as error:
        comp.score_innovation(judy, competition, p.yaohai, Decimal("50"), "")
    assert error.value.field == "organisation"
    comp.freeze(p.leo, competition)
    with pytest.raises(Conflict):
        comp.score_innovation(judy, competition, p.hefei, Decimal("90"), "")
    assert JudgeScore.objects.get(judge=judy).score == Decimal("65.00")
    # Every change of a score is audited, before and after.
    changes = AuditEntry.objects.filter(model="supervision.judgescore").order_by("id")
    assert [e.action for e in changes] == [
        AuditAction.CREATE,
        AuditAction.CREATE,
        AuditAction.UPDATE,
    ]
    assert changes.last().changes["score"] == ["60.00", "65.00"]  # type: ignore[union-attr]


def test_a_frozen_ranking_does_not_move_when_files_change(setup: dict[str, Any]) -> None:
    p, judy, competition = setup["p"], setup["judy"], setup["competition"]
    comp.score_innovation(judy, competition, p.hefei, Decimal("60"), "")
    snapshot = comp.freeze(p.leo, competition)
    assert competition.status == CompetitionStatus.FROZEN
    before = comp.ranking(competition)
    # Later, two more Wuhu files appear and a Hefei file moves to Wuhu: live, Wuhu leads.
    for _ in range(2):
        move(filed(p), filed_on=D(2025, 6, 1), organisation=p.jinghu_union)
    live = comp.score(comp.gather(competition))
    assert live.tiers[0].rows[0].name == "芜湖市总工会"
    after = comp.ranking(competition)
    assert after == before
    assert {r.name: r.total for r in after.tiers[0].rows} == {
        "合肥市总工会": Decimal("92.00"),
        "芜湖市总工会": Decimal("0.00"),
    }
    # The snapshot keeps every input: values with numerator and denominator, weights, scores.
    data = Snapshot.objects.get(pk=snapshot.pk).data["inputs"]
    assert data["values"]["files_per_1000_members"][str(p.wuhu.pk)] == {
        "value": "250.0000",
        "numerator": 1,
        "denominator": 4,
    }
    assert data["indicators"][0]["weight"] == "80.00"
    assert [s["score"] for s in data["judge_scores"]] == ["60.00"]
    assert (
        AuditEntry.objects.filter(model="supervision.snapshot", action=AuditAction.CREATE).count()
        == 1
    )
    with pytest.raises(Conflict):
        comp.freeze(p.leo, competition)
    with pytest.raises(PermissionError):
        snapshot.save()


def test_movement_against_the_previous_periods_competition(setup: dict[str, Any]) -> None:
    p, competition = setup["p"], setup["competition"]
    comp.freeze(p.leo, competition)  # 2025: 合肥 1st, 芜湖 2nd
    for _ in range(3):
        move(filed(p), filed_on=D(2026, 2, 1), organisation=p.jinghu_union)
    cities = comp.organisations_of_kind(p.leo, OrganisationKind.CITY)
    following = comp.define_competition(
        p.leo,
        name="2026年度",
        period=Period.year(2026),
        tiers=[comp.TierSpec("市级", cities)],
        indicators=[comp.IndicatorSpec("files_per_1000_members", Decimal("100"))],
        previous=competition,
    )
    # 2026: 合肥 0 new files on record? Its two 2025 files stay on record: 2/4 = 500 ‰;
    # 芜湖 1 + 3 = 4 / 4 = 1000 ‰ → 芜湖 1st (up 1), 合肥 2nd (down 1).
    rows = {row.name: (row.rank, row.movement) for row in comp.ranking(following).tiers[0].rows}
    assert rows == {"芜湖市总工会": (1, 1), "合肥市总工会": (2, -1)}


def test_only_leaders_define_and_freeze_within_their_subtree(setup: dict[str, Any]) -> None:
    p, competition = setup["p"], setup["competition"]
    tiers = [comp.TierSpec("县级", [p.yaohai])]
    indicators = [comp.IndicatorSpec("compliance", Decimal("10"))]
    with pytest.raises(NotAllowed):
        comp.define_competition(p.alice, name="x", period=Y2025, tiers=tiers, indicators=indicators)
    hefei_leader = user("henry", Role.LEADER, p.hefei)
    with pytest.raises(NotAllowed):
        comp.define_competition(
            hefei_leader,
            name="x",
            period=Y2025,
            tiers=[comp.TierSpec("县级", [p.yaohai, p.jinghu])],
            indicators=indicators,
        )
    with pytest.raises(NotAllowed):
        comp.freeze(hefei_leader, competition)
    with pytest.raises(DomainError) as error:
        comp.define_competition(
            p.leo,
            name="x",
            period=Y2025,
            tiers=tiers,
            indicators=[comp.IndicatorSpec("compliance", Decimal("-1"))],
        )
    assert error.value.field == "weight"
    with pytest.raises(DomainError) as error:
        comp.define_competition(
            p.leo,
            name="x",
            period=Y2025,
            tiers=tiers,
            indicators=[comp.IndicatorSpec("made_up", Decimal("1"))],
        )
    assert error.value.field == "indicator"
    assert comp.can_run_competitions(hefei_leader) and not comp.can_run_competitions(p.rita)


# --- who reads which ranking -----------------------------------------------------------------


def test_a_live_ranking_is_for_its_runners_and_a_frozen_one_for_the_competitors_and_above(
    setup: dict[str, Any],
) -> None:
    p, judy, competition = setup["p"], setup["judy"], setup["competition"]
    henry = user("henry", Role.LEADER, p.hefei)
    wuhu_clerk = user("wang", Role.CASE_WORKER, p.wuhu)
    hefei_worker = user("zhou", Role.WORKER, p.hefei)
    gone = user("gone", Role.REVIEWER, p.hefei)
    gone.is_active = False
    gone.save()
    everyone = [
        p.leo, p.adam, judy, p.audrey, p.carl, henry, wuhu_clerk, p.alice, p.charlie,
        hefei_worker, gone,
    ]  # fmt: skip
    live = {u.username for u in everyone if comp.may_see_ranking(u, competition)}
    assert live == {"leo", "adam"}  # a judge scores on her page; she does not watch it move
    assert [c.pk for c in comp.rankings_for(p.carl)] == []
    comp.freeze(p.leo, competition)
    frozen = {u.username for u in everyone if comp.may_see_ranking(u, competition)}
    # 合肥 and 芜湖 compete: their staff and the province's read the published ranking;
    # the counties below them, a worker's account and a disabled account do not.
    assert frozen == {"leo", "adam", "judy", "audrey", "carl", "henry", "wang"}
    for someone in everyone:
        listed = [c.pk for c in comp.rankings_for(someone)]
        assert listed == ([competition.pk] if someone.username in frozen else []), someone
    # The exports follow the same rule.
    assert report.frozen_ranking(p.carl, competition).frozen
    with pytest.raises(NotAllowed):
        report.frozen_ranking(p.alice, competition)


def test_a_judge_from_elsewhere_reads_the_ranking_they_judged_once_frozen(
    setup: dict[str, Any],
) -> None:
    p = setup["p"]
    expert = user("expert", Role.REVIEWER, p.jinghu)  # below 芜湖, not a competitor
    tiers = [comp.TierSpec("市级", [p.hefei])]
    indicators = [comp.IndicatorSpec("files_per_1000_members", Decimal("80"))]
    judged = comp.define_competition(
        p.leo, name="合肥专项", period=Y2025, tiers=tiers, indicators=indicators, judges=[expert]
    )
    assert not comp.may_see_ranking(expert, judged)
    comp.freeze(p.leo, judged)
    assert comp.may_see_ranking(expert, judged)
    assert not comp.may_see_ranking(p.charlie, judged)  # the same county, not a judge


def test_export_file_names_are_the_competitions_own_and_ascii_for_old_clients(
    setup: dict[str, Any],
) -> None:
    competition = setup["competition"]
    assert report.filenames(competition, "pdf") == (
        "2025年度找得更全帮得更好劳动竞赛_20250101-20251231.pdf",
        f"ranking-{competition.pk}-20250101-20251231.pdf",
    )
    competition.name = '2025/2026 竞赛: 第一期 "试行"'
    assert report.filenames(competition, "xlsx")[0] == (
        "2025_2026 竞赛_ 第一期 _试行_20250101-20251231.xlsx"
    )
