"""The household side of assistance in the pages: the plan of a filed household, the
approval queue, and the money section, for the right roles and no one else."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.assistance import campaigns, funds, planning
from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus, TargetKind
from gonghui.assistance.ledger import balance_of
from gonghui.assistance.models import (
    AssistanceLine,
    Campaign,
    CampaignTarget,
    Fund,
    LedgerEntry,
    Visit,
)
from gonghui.assistance.rules import explain
from gonghui.hardship.models import HardshipFile
from gonghui.web.views.aid_money import household_money_context
from tests.aid import YEAR, Money, build_money
from tests.cases import filed
from tests.factories import Province, worker
from tests.test_campaigns import END, START, VISITED, campaign_at, world
from tests.web_helpers import logged_in, open_file, png_bytes

pytestmark = pytest.mark.django_db


def _filed(p: Province, name: str = "张伟", illness: str = "10000") -> HardshipFile:
    # 3 people, deep hardship; 80 % of 10,000 self-paid is 8,000 of medical aid.
    return filed(p, size=3, wages="6000", illness=illness, name=name)


def _plan(p: Province, money: Money, file: HardshipFile) -> list[AssistanceLine]:
    """Alice's plan with the central fund on every cash line."""
    lines = planning.propose_plan(p.alice, file, YEAR)
    return [
        planning.edit_line(
            p.alice, line, amount_fen=line.amount_fen, fund=money.fund, description=""
        )
        for line in lines
        if line.cash
    ]


def _plan_url(file: HardshipFile) -> str:
    return reverse("aid-plan", args=[file.pk]) + f"?year={YEAR}"


def _medical(file: HardshipFile) -> AssistanceLine:
    return AssistanceLine.objects.get(
        file=file, kind=AidKind.MEDICAL, status__in=[LineStatus.PLANNED, LineStatus.APPROVED]
    )


def _count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


# --- the plan page ----------------------------------------------------------------------


def test_the_case_worker_proposes_a_plan_and_reads_why_each_amount(
    client: Client, province: Province
) -> None:
    build_money(province)
    file = _filed(province)
    logged_in(client, province.alice)
    url = _plan_url(file)
    assert "Propose a plan by cause" in client.get(url).content.decode()
    response = client.post(reverse("aid-propose", args=[file.pk]), {"year": YEAR})
    assert response.status_code == 302 and response["Location"].startswith(url)
    medical = _medical(file)
    assert (medical.amount_fen, medical.cap_rule, medical.created_by) == (
        8_000_00,
        "medical_ratio",
        province.alice,
    )
    page = client.get(url).content.decode()
    assert "8,000.00" in page
    assert explain(medical.cap_rule, medical.cap_params) in page
    assert "Medical aid: 80% of the self-paid 10,000.00 yuan" in page


def test_an_amount_above_the_cap_is_refused_next_to_the_field(
    client: Client, province: Province
) -> None:
    money = build_money(province)
    file = _filed(province)
    medical = next(line for line in _plan(province, money, file) if line.kind == AidKind.MEDICAL)
    logged_in(client, province.alice)
    prefix = f"line{medical.pk}"
    response = client.post(
        reverse("aid-line-edit", args=[medical.pk]),
        {f"{prefix}-amount": "8,000.01", f"{prefix}-fund": money.fund.pk},
    )
    assert response.status_code == 400
    form = response.context["rows"][0].edit
    assert "8,000.00" in form.errors["amount"][0]
    assert AssistanceLine.objects.get(pk=medical.pk).amount_fen == 8_000_00
    # Within the cap, with a note: saved.
    response = client.post(
        reverse("aid-line-edit", args=[medical.pk]),
        {f"{prefix}-amount": "7500", f"{prefix}-fund": money.fund.pk, f"{prefix}-description": "x"},
    )
    assert response.status_code == 302
    medical.refresh_from_db()
    assert (medical.amount_fen, medical.description) == (7_500_00, "x")


def test_only_funds_that_allow_the_kind_are_offered(client: Client, province: Province) -> None:
    money = build_money(province)
    file = _filed(province)
    medical = next(line for line in _plan(province, money, file) if line.kind == AidKind.MEDICAL)
    logged_in(client, province.alice)
    prefix = f"line{medical.pk}"
    response = client.post(
        reverse("aid-line-edit", args=[medical.pk]),
        {f"{prefix}-amount": "100", f"{prefix}-fund": money.holiday.pk},
    )
    assert response.status_code == 400
    assert "fund" in response.context["rows"][0].edit.errors
    assert AssistanceLine.objects.get(pk=medical.pk).fund == money.fund


def test_help_is_added_by_hand_cash_or_not(client: Client, province: Province) -> None:
    money = build_money(province)
    file = _filed(province)
    logged_in(client, province.alice)
    url = reverse("aid-line-add", args=[file.pk])
    response = client.post(url, {"year": YEAR, "add-kind": AidKind.TRAINING})
    assert response.status_code == 400
    assert "description" in response.context["add_form"].errors
    response = client.post(
        url, {"year": YEAR, "add-kind": AidKind.TRAINING, "add-description": "叉车培训"}
    )
    assert response.status_code == 302
    training = AssistanceLine.objects.get(file=file, kind=AidKind.TRAINING)
    assert (training.cash, training.amount_fen, training.cap_rule) == (False, 0, "manual")
    response = client.post(
        url,
        {
            "year": YEAR,
            "add-kind": AidKind.MEDICAL,
            "add-cash": "on",
            "add-amount": "9000",
            "add-fund": money.fund.pk,
        },
    )
    assert response.status_code == 400  # 80 % of 10,000 is the most
    assert "8,000.00" in response.context["add_form"].errors["amount"][0]
    assert not AssistanceLine.objects.filter(file=file, kind=AidKind.MEDICAL).exists()


def test_a_planned_line_is_cancelled_with_a_reason(client: Client, province: Province) -> None:
    money = build_money(province)
    file = _filed(province)
    medical = next(line for line in _plan(province, money, file) if line.kind == AidKind.MEDICAL)
    logged_in(client, province.alice)
    response = client.post(
        reverse("aid-line-cancel", args=[medical.pk]), {f"cancel{medical.pk}-reason": "已报销"}
    )
    assert response.status_code == 302
    medical.refresh_from_db()
    assert (medical.status, medical.failure_reason) == (LineStatus.CANCELLED, "已报销")


def test_a_reviewer_approves_on_the_plan_and_the_maker_cannot(
    client: Client, province: Province
) -> None:
    money = build_money(province)
    file = _filed(province)
    adam = province.adam  # an administrator may plan and approve, but not his own plan
    lines = planning.propose_plan(adam, file, YEAR)
    medical = next(line for line in lines if line.kind == AidKind.MEDICAL)
    planning.edit_line(adam, medical, amount_fen=8_000_00, fund=money.fund, description="")
    logged_in(client, adam)
    page = client.get(_plan_url(file)).content.decode()
    assert "The person who planned this help cannot approve it." in page
    response = client.post(reverse("aid-line-approve", args=[medical.pk]))
    assert response.status_code == 403
    assert AssistanceLine.objects.get(pk=medical.pk).status == LineStatus.PLANNED

    logged_in(client, province.rita)
    page = client.get(_plan_url(file)).content.decode()
    assert reverse("aid-line-approve", args=[medical.pk]) in page
    assert reverse("aid-line-edit", args=[medical.pk]) not in page  # reviewers do not plan
    response = client.post(reverse("aid-line-approve", args=[medical.pk]))
    assert response.status_code == 302
    medical.refresh_from_db()
    assert (medical.status, medical.approved_by) == (LineStatus.APPROVED, province.rita)
    assert LedgerEntry.objects.get(line=medical).kind == LedgerKind.COMMIT
    # The money section shows it as approved, not yet paid.
    page = client.get(_plan_url(file)).content.decode()
    assert 'id="household-money"' in page and "8,000.00" in page


def test_a_line_without_a_fund_says_why_it_waits(client: Client, province: Province) -> None:
    build_money(province)
    file = _filed(province)
    planning.propose_plan(province.alice, file, YEAR)
    logged_in(client, province.rita)
    page = client.get(_plan_url(file)).content.decode()
    assert "Choose the fund that pays this help." in page


def test_who_sees_the_plan_and_who_acts_on_it(client: Client, province: Province) -> None:
    money = build_money(province)
    file = _filed(province)
    medical = next(line for line in _plan(province, money, file) if line.kind == AidKind.MEDICAL)
    url = _plan_url(file)
    logged_in(client, province.leo)  # a leader reads, with no form
    page = client.get(url).content.decode()
    assert "8,000.00" in page and '<form method="post" action="/aid/' not in page
    assert client.post(reverse("aid-propose", args=[file.pk]), {"year": YEAR}).status_code == 403
    logged_in(client, province.charlie)  # an outsider finds nothing
    assert client.get(url).status_code == 404
    for name in ("aid-line-edit", "aid-line-cancel", "aid-line-approve"):
        assert client.post(reverse(name, args=[medical.pk])).status_code == 404, name
    assert client.post(reverse("aid-propose", args=[file.pk])).status_code == 404
    assert AssistanceLine.objects.get(pk=medical.pk).status == LineStatus.PLANNED


def test_a_file_not_yet_filed_has_no_plan_to_make(client: Client, province: Province) -> None:
    build_money(province)
    draft = open_file(province)
    logged_in(client, province.alice)
    page = client.get(_plan_url(draft)).content.decode()
    assert "Help is planned for filed households only." in page
    assert reverse("aid-propose", args=[draft.pk]) not in page
    response = client.post(reverse("aid-propose", args=[draft.pk]), {"year": YEAR})
    assert response.status_code == 400
    assert not AssistanceLine.objects.filter(file=draft).exists()


def test_the_plan_page_runs_a_constant_number_of_queries(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    money = build_money(province)
    file = _filed(province)
    _plan(province, money, file)
    url = _plan_url(file)
    for reviewer_or_planner in (province.alice, province.rita):
        logged_in(client, reviewer_or_planner)
        few = _count_queries(client, url)
        for index in range(8):
            planning.add_line(
                province.alice,
                file,
                planning.LineInput(
                    kind=AidKind.LEGAL_AID, amount_fen=0, cash=False, description=f"#{index}"
                ),
                YEAR,
            )
        with django_assert_num_queries(few):  # type: ignore[operator]
            client.get(url)


# --- the approval queue -----------------------------------------------------------------


def _many(p: Province, money: Money, count: int) -> list[AssistanceLine]:
    found = []
    for index in range(count):
        file = _filed(p, name=f"王{index}", illness="1000")
        found += [line for line in _plan(p, money, file) if line.kind == AidKind.MEDICAL]
    return found


def test_the_queue_is_for_reviewers_and_shows_funds_and_budgets(
    client: Client, province: Province
) -> None:
    money = build_money(province, yaohai_yuan=100_000)
    lines = _many(province, money, 2)
    logged_in(client, province.alice)
    assert client.get(reverse("aid-approvals")).status_code == 403
    logged_in(client, province.rita)
    response = client.get(reverse("aid-approvals"))
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 2
    (total,) = response.context["totals"]
    assert (total.count, total.total_fen) == (2, 1_600_00)
    assert total.budgets == [("瑶海区总工会 2026", 100_000_00)]
    page = response.content.decode()
    assert "1,600.00" in page and "100,000.00" in page
    assert all(f'value="{line.pk}"' in page for line in lines)
    logged_in(client, province.charlie)  # a case worker elsewhere: no queue, no lines
    assert client.get(reverse("aid-approvals")).status_code == 403


def test_approve_selected_commits_the_chosen_lines_only(client: Client, province: Province) -> None:
    money = build_money(province, yaohai_yuan=100_000)
    first, second, third = _many(province, money, 3)
    logged_in(client, province.rita)
    response = client.post(reverse("aid-approvals"), {"lines": [first.pk, third.pk]})
    assert response.status_code == 302
    statuses = dict(AssistanceLine.objects.filter(kind=AidKind.MEDICAL).values_list("pk", "status"))
    assert statuses == {
        first.pk: LineStatus.APPROVED,
        second.pk: LineStatus.PLANNED,
        third.pk: LineStatus.APPROVED,
    }
    assert balance_of(money.yaohai_budget).committed == 1_600_00
    # Posting the same again (a double click) changes nothing.
    response = client.post(reverse("aid-approvals"), {"lines": [first.pk, third.pk]})
    assert response.status_code == 302
    assert LedgerEntry.objects.filter(kind=LedgerKind.COMMIT).count() == 2
    followed = client.get(reverse("aid-approvals")).content.decode()
    assert "0 lines approved" in followed and "2 could not be approved" in followed


def test_approve_everything_in_the_queue(client: Client, province: Province) -> None:
    money = build_money(province)
    _many(province, money, 3)
    logged_in(client, province.rita)
    assert client.post(reverse("aid-approvals"), {}).status_code == 400
    response = client.post(reverse("aid-approvals"), {"everything": "1"})
    assert response.status_code == 302
    assert client.get(reverse("aid-approvals")).context["page"].paginator.count == 0
    left = AssistanceLine.objects.filter(status=LineStatus.PLANNED, cash=True)
    # Living aid of 20,400 needs the province; every medical line is approved.
    assert {line.kind for line in left} == {AidKind.LIVING}
    assert AssistanceLine.objects.filter(status=LineStatus.APPROVED).count() == 3


def test_the_queue_keeps_four_eyes_and_approval_levels(client: Client, province: Province) -> None:
    money = build_money(province)
    money.fund.purposes = [*money.fund.purposes, AidKind.MAJOR_ILLNESS]
    money.fund.save()
    file = _filed(province, illness="40000")
    large = planning.add_line(
        province.alice,
        file,
        planning.LineInput(kind=AidKind.MAJOR_ILLNESS, amount_fen=20_000_01, fund=money.fund),
        YEAR,
    )
    adam = province.adam  # province administrator: plans and approves at province level
    own = planning.propose_plan(adam, _filed(province, name="李娜"), YEAR)
    mine = next(line for line in own if line.kind == AidKind.MEDICAL)
    planning.edit_line(adam, mine, amount_fen=mine.amount_fen, fund=money.fund, description="")
    # rita (county) may not approve above 20,000: not in her queue, and refused if posted.
    logged_in(client, province.rita)
    assert large.pk not in [
        line.pk for line in client.get(reverse("aid-approvals")).context["page"]
    ]
    client.post(reverse("aid-approvals"), {"lines": [large.pk]})
    assert AssistanceLine.objects.get(pk=large.pk).status == LineStatus.PLANNED
    # adam (province) approves it, but not the line he planned himself.
    logged_in(client, adam)
    queue = [line.pk for line in client.get(reverse("aid-approvals")).context["page"]]
    assert large.pk in queue and mine.pk not in queue
    response = client.post(reverse("aid-approvals"), {"lines": [large.pk, mine.pk]})
    assert response.status_code == 302
    assert AssistanceLine.objects.get(pk=large.pk).status == LineStatus.APPROVED
    assert AssistanceLine.objects.get(pk=mine.pk).status == LineStatus.PLANNED


def test_a_budget_too_small_refuses_the_whole_selection(client: Client, province: Province) -> None:
    money = build_money(province, yaohai_yuan=1_000)
    lines = _many(province, money, 2)  # 800 each; 1,000 left
    logged_in(client, province.rita)
    response = client.post(reverse("aid-approvals"), {"lines": [line.pk for line in lines]})
    assert response.status_code == 400
    assert "1,000.00" in response.content.decode()
    assert not AssistanceLine.objects.filter(status=LineStatus.APPROVED).exists()
    assert balance_of(money.yaohai_budget).available == 1_000_00


def test_the_queue_runs_a_constant_number_of_queries(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    money = build_money(province)
    _many(province, money, 2)
    logged_in(client, province.rita)
    few = _count_queries(client, reverse("aid-approvals"))
    _many(province, money, 6)
    with django_assert_num_queries(few):  # type: ignore[operator]
        response = client.get(reverse("aid-approvals"))
    assert response.context["page"].paginator.count == 8


# --- holiday-visit campaigns ------------------------------------------------------------


def _campaign_form(money: Money, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "2026年元旦春节送温暖",
        "fund": money.holiday.pk,
        "year": YEAR,
        "starts_on": START.isoformat(),
        "ends_on": END.isoformat(),
        "kinds": [TargetKind.FILED_HOUSEHOLD],
        f"amount_{TargetKind.FILED_HOUSEHOLD}": "800",
        f"goods_{TargetKind.FILED_HOUSEHOLD}": "米、油",
    }
    data.update(changes)
    return data


def test_a_leader_opens_a_campaign_and_its_list_is_built(
    client: Client, province: Province
) -> None:
    w = world(province)
    logged_in(client, province.alice)
    assert client.get(reverse("campaign-new")).status_code == 403
    logged_in(client, province.leo)
    response = client.post(reverse("campaign-new"), _campaign_form(w.money, ends_on="2025-12-01"))
    assert response.status_code == 400 and "ends_on" in response.context["form"].errors
    response = client.post(
        reverse("campaign-new"),
        _campaign_form(w.money, **{f"amount_{TargetKind.FILED_HOUSEHOLD}": ""}, goods_filed=""),
    )
    assert response.status_code == 400
    assert "Set the standard for" in response.content.decode()
    assert not Campaign.objects.exists()
    response = client.post(reverse("campaign-new"), _campaign_form(w.money))
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaign-detail", args=[campaign.pk])
    assert campaign.organisation == province.anhui and campaign.created_by == province.leo
    target = CampaignTarget.objects.get(campaign=campaign)
    assert (target.worker, target.amount_fen, target.goods) == (w.file.applicant, 800_00, "米、油")
    page = client.get(reverse("campaign-list")).content.decode()
    assert reverse("campaign-detail", args=[campaign.pk]) in page


def test_a_case_worker_records_a_visit_and_the_progress_shows_it(
    client: Client, province: Province
) -> None:
    w = world(province)
    campaign = campaign_at(province, w)
    target = CampaignTarget.objects.get(campaign=campaign, worker=w.rider)
    logged_in(client, province.alice)
    detail = client.get(reverse("campaign-detail", args=[campaign.pk]))
    assert (detail.context["total"].targets, detail.context["total"].visited) == (3, 0)
    listing = client.get(reverse("campaign-targets", args=[campaign.pk]), {"visited": "no"})
    assert reverse("target-visit", args=[target.pk]) in listing.content.decode()
    url = reverse("target-visit", args=[target.pk])
    form = client.get(url).content.decode()
    assert 'capture="environment"' in form and 'type="date"' in form
    data = {"visited_on": VISITED.isoformat(), "visitors": "区总工会主席", "goods": "防寒服"}
    response = client.post(url, {**data, "cash": "300.01"})
    assert response.status_code == 400
    assert "300.00" in response.context["form"].errors["cash"][0]
    photo = SimpleUploadedFile("visit.png", png_bytes(), "image/png")
    response = client.post(url, {**data, "cash": "300", "photo": photo})
    assert response.status_code == 302
    visit = Visit.objects.get(target=target)
    assert (visit.cash_fen, visit.recorded_by, visit.photo.name.endswith(".png")) == (
        300_00,
        province.alice,
        True,
    )
    assert visit.line is not None and visit.line.status == LineStatus.PAID
    detail = client.get(reverse("campaign-detail", args=[campaign.pk]))
    assert (detail.context["total"].visited, detail.context["total"].cash_fen) == (1, 300_00)
    assert "300.00" in detail.content.decode()
    visited = client.get(reverse("campaign-targets", args=[campaign.pk]), {"visited": "yes"})
    assert [t.pk for t in visited.context["page"]] == [target.pk]
    # Posting the visit again changes nothing.
    response = client.post(url, {**data, "cash": "300"})
    assert response.status_code in {200, 409}
    assert Visit.objects.filter(target=target).count() == 1


def test_an_outsider_finds_no_campaign_of_another_city(client: Client, province: Province) -> None:
    w = world(province)
    campaign = campaign_at(province, w, province.yaohai)
    target = CampaignTarget.objects.filter(campaign=campaign).first()
    assert target is not None
    logged_in(client, province.charlie)
    assert client.get(reverse("campaign-detail", args=[campaign.pk])).status_code == 404
    assert client.get(reverse("campaign-targets", args=[campaign.pk])).status_code == 404
    assert client.get(reverse("target-visit", args=[target.pk])).status_code == 404
    data = {"visited_on": VISITED.isoformat(), "visitors": "x", "goods": "y"}
    assert client.post(reverse("target-visit", args=[target.pk]), data).status_code == 404
    assert not Visit.objects.exists()
    assert campaign.pk not in [c.pk for c in client.get(reverse("campaign-list")).context["page"]]


def test_the_targets_list_runs_a_constant_number_of_queries(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    w = world(province)
    campaign = campaign_at(province, w)
    url = reverse("campaign-targets", args=[campaign.pk])
    logged_in(client, province.alice)
    few = _count_queries(client, url)
    for index in range(6):
        campaigns.add_target(
            province.leo,
            campaign,
            worker(province.yaohai_union, province.yaohai_region, f"赵{index}"),
        )
    with django_assert_num_queries(few):  # type: ignore[operator]
        response = client.get(url)
    assert response.context["page"].paginator.count == 9


# --- the money section of the case page ------------------------------------------------


def _living(p: Province, file: HardshipFile, fund: Fund, yuan: int) -> AssistanceLine:
    line = planning.add_line(
        p.alice,
        file,
        planning.LineInput(kind=AidKind.LIVING, amount_fen=yuan * 100, fund=fund),
        YEAR,
    )
    return planning.approve_line(p.rita, line)


def _money_html(p: Province, file: HardshipFile) -> tuple[str, int]:
    # The household as a page finds it (its union not loaded yet), for every render.
    household = HardshipFile.objects.select_related("household").get(pk=file.pk).household
    with CaptureQueriesContext(connection) as context:
        html = render_to_string(
            "web/aid/_household_money.html",
            household_money_context(p.rita, household, YEAR),
        )
    return html, len(context.captured_queries)


def test_the_money_section_shows_every_fund_and_flags_double_dipping(province: Province) -> None:
    money = build_money(province)
    top = funds.open_budget(money.fiona, money.holiday, province.anhui, YEAR)
    funds.receive(money.fiona, top, 10_000_00)
    file = _filed(province)
    _living(province, file, money.fund, 1_000)
    html, few = _money_html(province, file)
    assert "1,000.00" in html and "Paid twice from two funds" not in html
    _living(province, file, money.holiday, 500)
    planning.add_line(
        province.alice,
        file,
        planning.LineInput(kind=AidKind.LEGAL_AID, amount_fen=0, cash=False),
        YEAR,
    )
    html, many = _money_html(province, file)
    # A fixed number of queries whatever the household had: its union, its lines, the
    # files they were paid under, its members and the policies; the flags are read from
    # the lines.
    assert many == few == 5
    assert "Paid twice from two funds" in html
    assert money.fund.name in html and money.holiday.name in html
    assert "1,500.00 / 40,000.00" in html  # approved this year against the household cap
    # On the case page (which has ``file``) the section links to the plan.
    on_case_page = render_to_string(
        "web/aid/_household_money.html",
        {"file": file, **household_money_context(province.rita, file.household, YEAR)},
    )
    assert f'href="{reverse("aid-plan", args=[file.pk])}"' in on_case_page


def test_the_leader_closes_a_campaign_and_no_visit_follows(
    client: Client, province: Province
) -> None:
    w = world(province)
    campaign = campaign_at(province, w)
    target = CampaignTarget.objects.get(campaign=campaign, worker=w.rider)
    logged_in(client, province.alice)
    assert client.post(reverse("campaign-close", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "open"  # a case worker may not close it
    logged_in(client, province.leo)
    page = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert reverse("campaign-close", args=[campaign.pk]) in page
    client.post(reverse("campaign-close", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == "closed"
    logged_in(client, province.alice)
    data = {"visited_on": VISITED.isoformat(), "visitors": "区总工会", "goods": "米"}
    response = client.post(reverse("target-visit", args=[target.pk]), data)
    assert response.status_code == 409 and not Visit.objects.exists()
