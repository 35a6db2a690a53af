"""The supervision pages: indicators with the records behind them, competitions (define,
judge, leaderboard, freeze, XLSX and PDF), and the leader's dashboard — as the right roles,
404 outside the subtree, and with constant query counts.

The data (tests/competitions.py): 4 members in each of 瑶海's and 镜湖's grassroots
unions; two files filed in 2025 under 合肥, one under 芜湖. By hand:
合肥 2 / 4 × 1000 = 500 files per 1,000 members, 芜湖 1 / 4 × 1000 = 250, 安徽 3 / 8 = 375.
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from gonghui.accounts.choices import Role
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.organisations.choices import OrganisationKind
from gonghui.supervision import competition as comp
from gonghui.supervision.indicators import Period
from gonghui.supervision.models import Competition, CompetitionStatus, JudgeScore
from tests.cases import filed, move
from tests.competitions import CODE, competing_cities, define
from tests.factories import Province, members, organisation, user
from tests.web_helpers import logged_in

pytestmark = pytest.mark.django_db

D = datetime.date


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(context.captured_queries)


@pytest.fixture
def setup(province: Province) -> dict[str, Any]:
    return competing_cities(province)


def published(setup: dict[str, Any]) -> Competition:
    """The competition, defined and frozen (published) by the province's leader."""
    competition = define(setup)
    comp.freeze(setup["p"].leo, competition)
    return competition


# --- indicators -------------------------------------------------------------------------------


def test_the_indicator_page_shows_values_one_level_down_and_the_trend(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    response = logged_in(client, p.leo).get(reverse("indicators") + "?year=2025")
    assert response.status_code == 200
    row = next(r for r in response.context["rows"] if r["cell"].indicator.code == CODE)
    assert (row["cell"].value.value, row["cell"].value.numerator) == (Decimal("375.0000"), 3)
    assert row["cell"].value.denominator == 8
    # The trend: 2022, 2023, 2024 (the same days earlier) and 2025. No file was on record
    # before 2025: a real 0 per 1,000 members in the years the members were there.
    assert [t.value.value for _, t in row["trend"]] == [Decimal("0")] * 3 + [Decimal("375.0000")]
    children = {
        r["organisation"].name: r["cells"][
            list(response.context["indicators"]).index(
                next(i for i in response.context["indicators"] if i.code == CODE)
            )
        ].value.value
        for r in response.context["child_rows"]
    }
    assert children == {"合肥市总工会": Decimal("500.0000"), "芜湖市总工会": Decimal("250.0000")}
    page = response.content.decode()
    assert "no data" in page  # e.g. no payment at all: nothing to divide by
    # Drill down: 合肥 has counties below it.
    assert f"?org={p.hefei.pk}&year=2025" in page
    hefei = client.get(reverse("indicators") + f"?org={p.hefei.pk}&year=2025")
    assert [r["organisation"] for r in hefei.context["child_rows"]] == [p.yaohai]
    # A date range works the same way.
    ranged = client.get(reverse("indicators") + "?start=2025-01-01&end=2025-06-30")
    assert ranged.status_code == 200 and ranged.context["period"] == Period(
        D(2025, 1, 1), D(2025, 6, 30)
    )


def test_indicators_need_a_reading_role_and_stay_in_the_subtree(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    assert logged_in(client, p.alice).get(reverse("indicators")).status_code == 403
    carl = logged_in(Client(), p.carl)  # reviewer in 合肥
    assert carl.get(reverse("indicators")).status_code == 200
    assert carl.get(reverse("indicators") + f"?org={p.wuhu.pk}").status_code == 404
    url = reverse("indicator-records") + f"?code={CODE}&org={p.wuhu.pk}&year=2025"
    assert carl.get(url).status_code == 404


def test_each_value_links_to_the_records_behind_it_masked(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    base = reverse("indicator-records") + f"?code={CODE}&org={p.hefei.pk}&year=2025"
    response = logged_in(client, p.leo).get(base + "&part=numerator")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 2
    page = response.content.decode()
    for file in setup["files"]:
        assert file.number in page
        assert file.applicant.id_number not in page  # masked in a list
        assert reverse("file-detail", args=[file.pk]) in page
    members_page = client.get(base + "&part=denominator")
    assert members_page.context["page"].paginator.count == 4
    assert client.get(base.replace(CODE, "made_up")).status_code == 400
    # The indicator page's value links to exactly this list.
    indicators = client.get(reverse("indicators") + f"?org={p.hefei.pk}&year=2025")
    assert "part=numerator" in indicators.content.decode()


def test_the_indicator_pages_run_a_constant_number_of_queries(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    logged_in(client, p.leo)
    url = reverse("indicators") + "?year=2025"
    records = (
        reverse("indicator-records") + f"?code={CODE}&org={p.anhui.pk}&year=2025&part=numerator"
    )
    dashboard = reverse("dashboard") + "?year=2025"
    # The first view of a period computes and stores its values; later views read them.
    for page in (url, dashboard):
        client.get(page)
    few = [count_queries(client, u) for u in (url, records, dashboard)]
    # More organisations on every level, more members, more files: the same queries (the
    # pages read stored values: the new organisations have none yet, shown as no records).
    for index in range(3):
        city = organisation(f"城市{index}", OrganisationKind.CITY, p.anhui, None)
        county = organisation(f"区县{index}", OrganisationKind.COUNTY, city, None)
        union = organisation(f"工会{index}", OrganisationKind.GRASSROOTS, county, None)
        members(p, union, 2)
    for _ in range(3):
        move(filed(p), filed_on=D(2025, 5, 1))
    assert [count_queries(client, u) for u in (url, records, dashboard)] == few
    response = client.get(url)
    assert len(response.context["child_rows"]) == 5


# --- competitions -------------------------------------------------------------------------------


def test_a_leader_defines_a_competition_through_the_page(
    client: Client, setup: dict[str, Any]
) -> None:
    p, judy, jack = setup["p"], setup["judy"], setup["jack"]
    assert logged_in(Client(), p.alice).get(reverse("competition-new")).status_code == 403
    logged_in(client, p.leo)
    assert client.get(reverse("competition-new")).status_code == 200
    data = {
        "name": "2025年度竞赛",
        "start": "2025-01-01",
        "end": "2025-12-31",
        "innovation_weight": "20",
        "judges": [judy.pk, jack.pk],
        "tier1_name": "市级",
        "tier1_kind": OrganisationKind.CITY,
        "tier2_name": "县级",
        "tier2_orgs": [p.yaohai.pk, p.jinghu.pk],
        f"w_{CODE}": "60",
        f"n_{CODE}": "rank",
        "w_fund_execution": "20",
        "n_fund_execution": "min_max",
        "lo_fund_execution": "10",
        "hi_fund_execution": "95",
    }
    for code in ("days_to_filing", "compliance"):
        data[f"n_{code}"] = "min_max"
    response = client.post(reverse("competition-new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    competition = Competition.objects.get(name="2025年度竞赛")
    assert response["Location"] == reverse("competition-detail", args=[competition.pk])
    tiers = {t.name: {o.name for o in t.organisations.all()} for t in competition.tiers.all()}
    assert tiers == {
        "市级": {"合肥市总工会", "芜湖市总工会"},
        "县级": {"瑶海区总工会", "镜湖区总工会"},
    }
    chosen = {
        (i.code, i.weight, i.normalisation, i.cap_low, i.cap_high)
        for i in competition.indicators.all()
    }
    assert chosen == {
        (CODE, Decimal("60.00"), "rank", None, None),
        ("fund_execution", Decimal("20.00"), "min_max", Decimal("10"), Decimal("95")),
    }
    assert set(competition.judges.all()) == {judy, jack}
    # A refusal of the service lands on its field, nothing is created.
    data["name"] = "x"
    data["lo_fund_execution"] = "99"
    response = client.post(reverse("competition-new"), data)
    assert response.status_code == 400
    assert "The lower cap is above the upper cap." in response.content.decode()
    assert not Competition.objects.filter(name="x").exists()


def test_a_judge_scores_only_their_own_and_nothing_after_the_freeze(
    client: Client, setup: dict[str, Any]
) -> None:
    p, judy, jack = setup["p"], setup["judy"], setup["jack"]
    competition = define(setup)
    url = reverse("competition-judge", args=[competition.pk])
    assert logged_in(Client(), p.alice).get(url).status_code == 404  # below the organiser
    assert logged_in(Client(), p.audrey).get(url).status_code == 403  # not a judge
    assert logged_in(Client(), p.leo).get(url).status_code == 403  # leaders do not judge
    jack_client = logged_in(Client(), jack)
    post = {"organisation": p.hefei.pk, "score": "70", "comment": "稳"}
    assert jack_client.post(url, post).status_code == 302
    logged_in(client, judy)
    response = client.post(url, {"organisation": p.hefei.pk, "score": "60", "comment": "思路清晰"})
    assert response.status_code == 302
    client.post(url, {"organisation": p.hefei.pk, "score": "65", "comment": "改分"})
    scores = dict(JudgeScore.objects.values_list("judge__username", "score"))
    assert scores == {"judy": Decimal("65.00"), "jack": Decimal("70.00")}
    page = client.get(url).content.decode()
    assert "改分" in page and "稳" not in page  # only her own score and comment
    # Out of range, or a union that does not compete: refused on the page.
    assert client.post(url, {"organisation": p.hefei.pk, "score": "101"}).status_code == 400
    response = client.post(url, {"organisation": p.yaohai.pk, "score": "50"})
    assert response.status_code == 400
    # The leader freezes; the judge can no longer change her score.
    freeze = logged_in(Client(), p.leo).post(reverse("competition-freeze", args=[competition.pk]))
    assert freeze.status_code == 302
    response = client.post(url, {"organisation": p.hefei.pk, "score": "90", "comment": ""})
    assert response.status_code == 409
    assert JudgeScore.objects.get(judge=judy).score == Decimal("65.00")
    assert "The ranking is frozen" in client.get(url).content.decode()


def test_the_leaderboard_breaks_down_points_and_a_frozen_one_does_not_move(
    client: Client, setup: dict[str, Any]
) -> None:
    p, judy = setup["p"], setup["judy"]
    competition = define(setup)
    comp.score_innovation(judy, competition, p.hefei, Decimal("60"), "")
    url = reverse("competition-detail", args=[competition.pk])
    logged_in(client, p.leo)
    response = client.get(url)
    assert response.status_code == 200
    rows = response.context["tiers"][0]["rows"]
    # 合肥: 80 (best on min–max) + 60 × 20 / 100 = 12 → 92; 芜湖: 0.
    assert [(r["row"].name, r["row"].rank, r["row"].total) for r in rows] == [
        ("合肥市总工会", 1, Decimal("92.00")),
        ("芜湖市总工会", 2, Decimal("0.00")),
    ]
    page = response.content.decode()
    # The table stands alone; the charts' data and script are additions to it.
    assert 'data-ranking-chart="bar"' in page and 'data-ranking-chart="radar"' in page
    assert 'id="ranking-chart-0"' in page and "gonghui/ranking.js" in page
    # A click on a city's value leads to the files behind it.
    hefei_link = rows[0]["parts"][0]["url"]
    behind = client.get(hefei_link)
    assert behind.status_code == 200 and behind.context["page"].paginator.count == 2
    assert client.get(reverse("competition-xlsx", args=[competition.pk])).status_code == 409
    # Freeze, then files change: the published ranking stays.
    assert client.post(reverse("competition-freeze", args=[competition.pk])).status_code == 302
    competition.refresh_from_db()
    assert competition.status == CompetitionStatus.FROZEN
    for _ in range(2):
        move(filed(p), filed_on=D(2025, 6, 1), organisation=p.jinghu_union)
    frozen = client.get(url)
    assert [(r["row"].name, r["row"].total) for r in frozen.context["tiers"][0]["rows"]] == [
        ("合肥市总工会", Decimal("92.00")),
        ("芜湖市总工会", Decimal("0.00")),
    ]
    assert "freeze-form" not in frozen.content.decode()
    assert client.post(reverse("competition-freeze", args=[competition.pk])).status_code == 409


def test_only_readers_of_the_subtree_see_the_leaderboard(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    competition = define(setup)
    url = reverse("competition-detail", args=[competition.pk])
    # 合肥's reviewer is below the organiser (the province): the competition does not exist.
    assert logged_in(Client(), p.carl).get(url).status_code == 404
    assert logged_in(Client(), p.charlie).get(url).status_code == 404
    # A judge reaches the judges' page from the list.
    judy = logged_in(Client(), setup["judy"])
    listing = judy.get(reverse("competition-list")).content.decode()
    assert reverse("competition-judge", args=[competition.pk]) in listing
    # A leader of 合肥 does not see the province's competition in his list.
    henry = logged_in(Client(), user("henry", Role.LEADER, p.hefei))
    assert competition.name not in henry.get(reverse("competition-list")).content.decode()


def test_a_frozen_ranking_is_published_to_the_competitors_and_a_live_one_to_its_runners(
    client: Client, setup: dict[str, Any]
) -> None:
    p, judy = setup["p"], setup["judy"]
    competition = define(setup)
    url = reverse("competition-detail", args=[competition.pk])
    pdf = reverse("competition-pdf", args=[competition.pk])
    henry = logged_in(Client(), user("henry", Role.LEADER, p.hefei))
    wang = logged_in(Client(), user("wang", Role.CASE_WORKER, p.wuhu))
    carl, audrey = logged_in(Client(), p.carl), logged_in(Client(), p.audrey)
    # Live: only its runners. The province's auditor is in the organiser's tree, without
    # the role; a judge is sent to her own page; 合肥 does not know it exists.
    assert audrey.get(url).status_code == 403
    judge_page = reverse("competition-judge", args=[competition.pk])
    assert logged_in(Client(), judy).get(url)["Location"] == judge_page
    for outsider in (carl, henry, wang):
        assert outsider.get(url).status_code == 404
        assert outsider.get(pdf).status_code == 404
        assert competition.name not in outsider.get(reverse("competition-list")).content.decode()
    assert (
        "No competition in your part of the tree yet."
        in henry.get(reverse("dashboard")).content.decode()
    )
    comp.freeze(p.leo, competition)
    # Frozen: every staff user of 合肥 and 芜湖 (the competitors) and of the province.
    for reader in (carl, henry, wang, audrey):
        page = reader.get(url)
        assert page.status_code == 200
        assert reverse("competition-freeze", args=[competition.pk]) not in page.content.decode()
        listing = reader.get(reverse("competition-list")).content.decode()
        assert url in listing
    assert henry.get(reverse("dashboard")).context["competition"] == competition
    # Values link to their records only where the reader may read indicators: 合肥's
    # reviewer reaches 合肥's files, not 芜湖's; 芜湖's case worker reads no indicators.
    rows = {r["row"].organisation_id: r["parts"] for r in carl.get(url).context["tiers"][0]["rows"]}
    assert rows[p.hefei.pk][0]["url"] and not rows[p.wuhu.pk][0]["url"]
    wang_rows = wang.get(url).context["tiers"][0]["rows"]
    assert all(not part["url"] for r in wang_rows for part in r["parts"])
    # They read it, and download it (logged as theirs); they do not freeze it.
    assert wang.get(pdf).status_code == 200
    exported = AuditEntry.objects.filter(action=AuditAction.EXPORT).latest("id")
    assert exported.actor.username == "wang"
    assert carl.post(reverse("competition-freeze", args=[competition.pk])).status_code == 404
    # Below the competitors, or not staff: it does not exist.
    hefei_worker = logged_in(Client(), user("zhou", Role.WORKER, p.hefei))
    for outsider in (logged_in(client, p.alice), logged_in(Client(), p.charlie), hefei_worker):
        assert outsider.get(url).status_code == 404
        assert outsider.get(pdf).status_code == 404


def test_the_competition_list_runs_a_constant_number_of_queries(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    published(setup)
    carl = logged_in(client, p.carl)
    few = count_queries(carl, reverse("competition-list"))
    for _ in range(3):
        published(setup)
    assert count_queries(carl, reverse("competition-list")) == few
    assert len(client.get(reverse("competition-list")).context["rows"]) == 4


def test_the_dashboard_shows_the_published_ranking_before_a_newer_live_one(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    frozen = published(setup)
    newer = define(setup)
    Competition.objects.filter(pk=newer.pk).update(period_end=D(2026, 3, 31))
    response = logged_in(client, p.leo).get(reverse("dashboard") + "?year=2025")
    assert response.context["competition"] == frozen and response.context["ranking"].frozen


def test_the_frozen_ranking_exports_as_xlsx_and_pdf_and_both_are_logged(
    client: Client, setup: dict[str, Any]
) -> None:
    p, judy = setup["p"], setup["judy"]
    competition = define(setup)
    comp.score_innovation(judy, competition, p.wuhu, Decimal("90"), "驿站联动有新意")
    comp.freeze(p.leo, competition)
    logged_in(client, p.leo)
    response = client.get(reverse("competition-xlsx", args=[competition.pk]))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][:3] == (1, "合肥市总工会", 80)
    assert rows[3][:3] == (2, "芜湖市总工会", 18)
    judges = list(book.worksheets[1].iter_rows(values_only=True))
    assert judges[1] == ("芜湖市总工会", "judy", 90, "驿站联动有新意")
    pdf = client.get(reverse("competition-pdf", args=[competition.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert len(pdf.content) > 2000
    exports = AuditEntry.objects.filter(action=AuditAction.EXPORT, model="supervision.snapshot")
    assert [e.changes["filters"]["format"] for e in exports.order_by("id")] == ["xlsx", "pdf"]
    assert all(e.actor == p.leo and e.changes["rows"] == 2 for e in exports)
    assert all(e.source == "web" and e.org_path == p.anhui.path for e in exports)


def test_both_exports_download_as_attachments_named_after_the_competition(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    competition = published(setup)
    logged_in(client, p.leo)
    for suffix in ("pdf", "xlsx"):
        response = client.get(reverse(f"competition-{suffix}", args=[competition.pk]))
        assert response.status_code == 200
        name = f"2025年度找得更全帮得更好劳动竞赛_20250101-20251231.{suffix}"
        ascii_name = f"ranking-{competition.pk}-20250101-20251231.{suffix}"
        assert response["Content-Disposition"] == (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
        )
        logged = AuditEntry.objects.filter(action=AuditAction.EXPORT).latest("id")
        assert logged.model == "supervision.snapshot" and logged.actor == p.leo
        assert logged.changes["filters"] == {
            "competition": competition.pk,
            "format": suffix,
            "file": name,
        }
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


def test_the_leaderboard_runs_a_constant_number_of_queries(
    client: Client, setup: dict[str, Any]
) -> None:
    p, judy = setup["p"], setup["judy"]
    small = define(setup)
    logged_in(client, p.leo)
    few = count_queries(client, reverse("competition-detail", args=[small.pk]))
    for index in range(4):
        city = organisation(f"城市{index}", OrganisationKind.CITY, p.anhui, None)
        members(p, city, 1)
    bigger = define(setup)
    for city in comp.organisations_of_kind(p.leo, OrganisationKind.CITY):
        comp.score_innovation(judy, bigger, city, Decimal("50"), "")
    assert count_queries(client, reverse("competition-detail", args=[bigger.pk])) == few


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_shows_a_leader_coverage_timeliness_funds_and_the_ranking(
    client: Client, setup: dict[str, Any]
) -> None:
    p = setup["p"]
    competition = published(setup)
    response = logged_in(client, p.leo).get(reverse("dashboard") + "?year=2025")
    assert response.status_code == 200
    figures = {c.indicator.code: c for c in response.context["figures"]}
    assert set(figures) == {
        CODE,
        "days_to_filing",
        "days_to_first_help",
        "filed_within_limit",
        "helped_within_limit",
        "fund_execution",
    }
    assert figures[CODE].value.value == Decimal("375.0000")
    page = response.content.decode()
    assert figures[CODE].url.replace("&", "&amp;") in page  # each figure links to its records
    assert response.context["ranking"].frozen
    assert "合肥市总工会" in page and competition.name in page
    # A case worker's home stays the work queue.
    response = logged_in(Client(), p.alice).get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("queue")
    assert (
        logged_in(Client(), p.carl).get(reverse("dashboard") + f"?org={p.wuhu.pk}").status_code
        == 404
    )
