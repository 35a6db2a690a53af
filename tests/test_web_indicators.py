"""The indicator page and the records behind its new values (issue 5): a trend that costs
the queries of one period, the discovery and supervision indicators with their records,
the execution rate of each fund source, and the "within the limit" days edited as policy
data by an administrator. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.assistance import ledger
from gonghui.assistance.choices import LedgerKind
from gonghui.audit.models import AuditEntry
from gonghui.discovery.choices import CandidateStatus, RuleStatus, RunKind
from gonghui.discovery.models import Candidate, ScreeningRule, ScreeningRun
from gonghui.hardship.models import Policy
from gonghui.people.models import Membership
from gonghui.supervision.models import (
    Competition,
    Finding,
    FindingResult,
    SupervisionTask,
    TaskKind,
)
from gonghui.web.views import supervision as views
from tests.aid import build_money
from tests.cases import filed, move
from tests.factories import Province, worker
from tests.test_web_admin import POLICY
from tests.web_helpers import logged_in

pytestmark = pytest.mark.django_db

D = datetime.date


def get(client: Client, url: str) -> tuple[Any, int]:
    """The response and the number of queries it took."""
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response, len(context.captured_queries)


def row_of(response: Any, code: str) -> dict[str, Any]:
    return next(r for r in response.context["rows"] if r["cell"].indicator.code == code)


@pytest.fixture
def candidates(province: Province) -> dict[str, Candidate]:
    """Three candidates of the 瑶海 union flagged in 2025: one new, one contacted, one
    filed; one of the 镜湖 union, unreachable."""
    p = province
    rule = ScreeningRule.objects.create(code="t", name="测试规则", status=RuleStatus.ON)
    run = ScreeningRun.objects.create(
        rule=rule,
        rule_version=1,
        kind=RunKind.RUN,
        organisation=p.anhui,
        created_by=p.adam,
        as_of=D(2025, 1, 1),
    )
    found = {}
    rows = (
        ("new", p.yaohai_union, CandidateStatus.NEW),
        ("contacted", p.yaohai_union, CandidateStatus.CONTACTED),
        ("filed", p.yaohai_union, CandidateStatus.FILED),
        ("wuhu", p.jinghu_union, CandidateStatus.UNREACHABLE),
    )
    for key, union, status in rows:
        person = worker(union, p.yaohai_region, name=f"线索{key}")
        found[key] = Candidate.objects.create(
            worker=person,
            organisation=union,
            rule=rule,
            rule_version=1,
            status=status,
            found_by=run,
        )
    flagged = datetime.datetime(2025, 3, 1, 4, tzinfo=datetime.UTC)
    Candidate.objects.update(created_at=flagged)
    return found


# --- the trend ------------------------------------------------------------------------------------


def test_the_trend_costs_no_more_queries_with_more_years(
    client: Client, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = province
    for _ in range(2):
        person = worker(p.yaohai_union, p.yaohai_region)
        Membership.objects.create(worker=person, organisation=p.yaohai_union, since=D(2020, 1, 1))
    move(filed(p), filed_on=D(2024, 3, 1))
    logged_in(client, p.leo)
    url = reverse("indicators") + "?year=2025"
    counts = {}
    for years in (1, 6):
        monkeypatch.setattr(views, "TREND_YEARS", years)
        get(client, url)  # the first view of a period computes and stores its values
        response, counts[years] = get(client, url)
        trend = row_of(response, "files_per_1000_members")["trend"]
        assert [period.start.year for period, _cell in trend] == list(range(2025 - years, 2026))
    assert counts[1] == counts[6]
    # The values along the trend, 2019 to 2025: no member before 2020 (no data), then two
    # members; the file filed in 2024 is on record in 2024 and 2025: 500 per 1,000 members.
    values = [c.value.value for _p, c in trend]
    assert values == [None] + [Decimal("0")] * 4 + [Decimal("500"), Decimal("500")]


# --- the new indicators on the page and their records ------------------------------------------


def test_the_page_shows_discovery_supervision_and_the_funds_that_have_money(
    client: Client, province: Province, candidates: dict[str, Candidate]
) -> None:
    p = province
    money = build_money(p)  # 2026: central fund only
    ledger.post(money.yaohai_budget, LedgerKind.COMMIT, 5_000_000)
    ledger.post(money.yaohai_budget, LedgerKind.PAY, 5_000_000)
    logged_in(client, p.leo)
    response, _count = get(client, reverse("indicators") + "?year=2026")
    codes = [r["cell"].indicator.code for r in response.context["rows"]]
    for code in (
        "candidates_contacted",
        "candidates_resolved",
        "files_from_discovery",
        "missed_rate",
        "cross_check_rate",
        "findings_rectified_on_time",
        "fund_execution",
        "fund_execution:central",
    ):
        assert code in codes, code
    # Fund sources with no budget in the subtree and period are left out.
    assert "fund_execution:union" not in codes
    central = row_of(response, "fund_execution:central")["cell"]
    # 50,000 paid of the province's 1,000,000 yuan = 5 %, shown in yuan.
    assert central.value.value == Decimal("5")
    assert central.parts_text == "50,000.00 / 1,000,000.00"
    # The columns one level down follow the rows.
    assert [i.code for i in response.context["indicators"]] == codes
    page = response.content.decode()
    assert "Fund execution rate: Central budget" in page
    assert "Discovery candidates contacted" in page


def test_the_records_behind_the_candidates_contacted_are_those_candidates(
    client: Client, province: Province, candidates: dict[str, Candidate]
) -> None:
    p = province
    base = reverse("indicator-records") + f"?code=candidates_contacted&org={p.hefei.pk}&year=2025"
    logged_in(client, p.leo)
    response, _count = get(client, base + "&part=numerator")
    # 合肥: three candidates, two acted on (contacted, filed) → 66.67 %.
    value = response.context["value"]
    assert (value.numerator, value.denominator) == (2, 3)
    page = response.content.decode()
    for key in ("contacted", "filed"):
        assert candidates[key].worker.name in page
        assert candidates[key].worker.id_number not in page  # masked
    assert candidates["new"].worker.name not in page
    assert candidates["wuhu"].worker.name not in page
    # A leader does not work the outreach queue: no link to the candidate's page.
    assert reverse("outreach-candidate", args=[candidates["filed"].pk]) not in page
    denominator = client.get(base + "&part=denominator")
    assert denominator.context["page"].paginator.count == 3
    # A reviewer works the queue: the rows link to the candidates.
    carl = logged_in(Client(), p.carl)
    assert (
        reverse("outreach-candidate", args=[candidates["filed"].pk])
        in carl.get(base + "&part=numerator").content.decode()
    )
    # The page's value links to exactly this list.
    indicators = client.get(reverse("indicators") + f"?org={p.hefei.pk}&year=2025")
    assert "code=candidates_contacted" in indicators.content.decode()


def test_the_records_behind_the_findings_rectified_on_time(
    client: Client, province: Province
) -> None:
    p = province
    task = SupervisionTask.objects.create(
        kind=TaskKind.SITE_INSPECTION,
        title="驿站现场检查",
        organisation=p.yaohai,
        assigned_by_organisation=p.hefei,
        assigned_by=p.carl,
        assigned_on=D(2025, 1, 10),
        due_on=D(2025, 2, 10),
    )
    on_time = Finding.objects.create(
        task=task,
        result=FindingResult.PROBLEM,
        description="急救箱过期",
        rectify_by=D(2025, 3, 1),
        rectified_on=D(2025, 2, 20),
    )
    Finding.objects.create(
        task=task, result=FindingResult.PROBLEM, description="饮水机损坏", rectify_by=D(2025, 3, 1)
    )
    logged_in(client, p.leo)
    url = (
        reverse("indicator-records")
        + f"?code=findings_rectified_on_time&org={p.anhui.pk}&year=2025&part=numerator"
    )
    response, _count = get(client, url)
    # One of the two problems due in 2025 was rectified by its deadline: 50 %.
    value = response.context["value"]
    assert (value.value, value.numerator, value.denominator) == (Decimal("50"), 1, 2)
    page = response.content.decode()
    assert on_time.description in page and "饮水机损坏" not in page
    assert reverse("task-detail", args=[task.pk]) in page


# --- the limits as policy data, edited by an administrator -------------------------------------


def test_an_administrator_changes_the_filing_limit_and_the_indicator_follows(
    client: Client, province: Province, settings: Any
) -> None:
    p = province
    settings.GONGHUI_JOBS_INLINE = True  # "recompute now" runs in the request
    for days in (10, 40):
        move(filed(p), applied_on=D(2025, 1, 1), filed_on=D(2025, 1, 1) + datetime.timedelta(days))
    leader = logged_in(Client(), p.leo)
    url = reverse("indicators") + "?year=2025"
    # 30 days by default: one of the two files (10 days) is within the limit.
    assert row_of(leader.get(url), "filed_within_limit")["cell"].value.numerator == 1
    admin = logged_in(client, p.adam)
    edit = reverse("policy-edit", args=[p.policy.pk])
    form = admin.get(edit).content.decode()
    assert 'name="filing_limit_days"' in form and 'name="help_limit_days"' in form
    response = admin.post(edit, POLICY | {"filing_limit_days": "45", "help_limit_days": "20"})
    assert response.status_code == 302
    policy = Policy.objects.get(pk=p.policy.pk)
    assert (policy.filing_limit_days, policy.help_limit_days, policy.version) == (45, 20, 2)
    change = AuditEntry.objects.filter(model="hardship.policy", object_id=str(policy.pk)).latest(
        "pk"
    )
    assert "filing_limit_days" in str(change.changes)
    # The page shows the values stored before the change until the leader has them
    # recomputed ("recompute now", run in the request in tests).
    assert row_of(leader.get(url), "filed_within_limit")["cell"].value.numerator == 1
    redone = leader.post(reverse("indicator-refresh"), {"org": p.anhui.pk, "year": "2025"})
    assert redone.status_code == 302
    # 45 days: both files are within the limit now.
    cell = row_of(leader.get(url), "filed_within_limit")["cell"]
    assert (cell.value.value, cell.value.numerator) == (Decimal("100"), 2)


# --- a fund source in a competition ---------------------------------------------------------------


def test_a_competition_can_weigh_one_fund_source(client: Client, province: Province) -> None:
    p = province
    logged_in(client, p.leo)
    form = client.get(reverse("competition-new")).content.decode()
    assert 'name="w_fund_execution:central"' in form
    data = {
        "name": "2026年资金执行竞赛",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "innovation_weight": "0",
        "tier1_name": "市级",
        "tier1_kind": "city",
        "w_fund_execution:central": "100",
        "n_fund_execution:central": "min_max",
    }
    response = client.post(reverse("competition-new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    competition = Competition.objects.get(name="2026年资金执行竞赛")
    assert [i.code for i in competition.indicators.all()] == ["fund_execution:central"]
    assert client.get(reverse("competition-detail", args=[competition.pk])).status_code == 200
