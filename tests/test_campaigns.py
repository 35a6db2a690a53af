"""Holiday-visit campaigns (送温暖): targets by rule, visits paid through the ledger,
progress per organisation."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gonghui.assistance import campaigns, funds
from gonghui.assistance.campaigns import open_campaign, progress, record_visit
from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus, TargetKind
from gonghui.assistance.ledger import balance_of, rebuild
from gonghui.assistance.models import (
    AssistanceLine,
    Budget,
    Campaign,
    CampaignTarget,
    LedgerEntry,
    ModelWorker,
    Visit,
)
from gonghui.audit.models import AuditEntry
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.models import Organisation
from gonghui.people.choices import EmploymentForm, MembershipStatus
from gonghui.people.models import Membership, Worker
from tests.aid import YEAR, Money, build_money
from tests.cases import filed, open_file
from tests.factories import Province, household, worker

START, END = datetime.date(YEAR, 1, 1), datetime.date(YEAR, 2, 28)
VISITED = datetime.date(YEAR, 2, 10)
STANDARDS = {
    TargetKind.FILED_HOUSEHOLD: (800_00, "米、油"),
    TargetKind.MODEL_WORKER: (1_000_00, ""),
    TargetKind.GIG_WORKER: (300_00, "防寒服"),
    TargetKind.OTHER: (200_00, ""),
}


def gig(w: Worker, org: Organisation, form: str = EmploymentForm.COURIER, **kw: str) -> None:
    Membership.objects.create(
        worker=w, organisation=org, since=datetime.date(2020, 1, 1), employment_form=form, **kw
    )


def model_worker(w: Worker) -> None:
    ModelWorker.objects.create(worker=w, title="全国劳动模范", level="national", year=2020)


@dataclass
class World:
    money: Money
    budget: Budget  # the holiday fund's Yaohai budget
    top: Budget  # the holiday fund's province budget
    file: HardshipFile  # filed household in Yaohai; its applicant is also a model worker
    hero: Worker  # model worker in Yaohai who is also a courier
    rider: Worker  # courier in Yaohai, with a household
    wuhu_rider: Worker  # food-delivery rider in Jinghu (Wuhu)


def world(p: Province) -> World:
    money = build_money(p)
    top = funds.open_budget(money.fiona, money.holiday, p.anhui, YEAR)
    funds.receive(money.fiona, top, 100_000_00)
    budget = funds.allocate(money.fiona, top, p.yaohai, 10_000_00)
    file = filed(p)
    model_worker(file.applicant)  # filed first: stays a filed household
    gig(file.applicant, p.yaohai_union)
    hero = worker(p.yaohai_union, p.yaohai_region, name="王劳模")
    model_worker(hero)
    model_worker(hero)  # honoured twice: still one target
    gig(hero, p.yaohai_union, EmploymentForm.TRUCK_DRIVER)
    rider = worker(p.yaohai_union, p.yaohai_region, name="李骑手")
    gig(rider, p.yaohai_union)
    home = household(p.yaohai_union, p.yaohai_region, rider, size=2)
    assert home.pk
    wuhu_rider = worker(p.jinghu_union, p.jinghu_region, name="赵外卖")
    gig(wuhu_rider, p.jinghu_union, EmploymentForm.FOOD_DELIVERY)
    # Not targets: a member in standard employment, an ended courier membership, a draft.
    gig(worker(p.yaohai_union, p.yaohai_region), p.yaohai_union, EmploymentForm.STANDARD)
    gig(
        worker(p.yaohai_union, p.yaohai_region),
        p.yaohai_union,
        status=MembershipStatus.ENDED,
    )
    open_file(p, name="陈草稿")
    return World(money, budget, top, file, hero, rider, wuhu_rider)


def campaign_at(p: Province, w: World, org: Organisation | None = None) -> Campaign:
    return open_campaign(
        p.leo,
        name="2026年元旦春节送温暖",
        organisation=org or p.anhui,
        fund=w.money.holiday,
        year=YEAR,
        starts_on=START,
        ends_on=END,
        standards=STANDARDS,
    )


def target_of(c: Campaign, w: Worker) -> CampaignTarget:
    return CampaignTarget.objects.get(campaign=c, worker=w)


def visit(p: Province, t: CampaignTarget, cash_fen: int, **kw: object) -> Visit:
    args: dict[str, object] = {
        "visited_on": VISITED,
        "visitors": "区总工会主席、社区书记",
        "cash_fen": cash_fen,
        "goods": "米、油",
    }
    args.update(kw)
    return record_visit(p.alice, t, **args)  # type: ignore[arg-type]


def test_targets_are_built_by_rule_one_per_worker(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    found = {
        (t.worker_id, t.kind, t.amount_fen, t.goods, t.household_id, t.file_id, t.organisation_id)
        for t in CampaignTarget.objects.filter(campaign=c)
    }
    rider_home = w.rider.household_memberships.get().household_id
    assert found == {
        (
            w.file.applicant_id,
            TargetKind.FILED_HOUSEHOLD,
            800_00,
            "米、油",
            w.file.household_id,
            w.file.pk,
            w.file.organisation_id,
        ),
        (w.hero.pk, TargetKind.MODEL_WORKER, 1_000_00, "", None, None, province.yaohai_union.pk),
        (
            w.rider.pk,
            TargetKind.GIG_WORKER,
            300_00,
            "防寒服",
            rider_home,
            None,
            province.yaohai_union.pk,
        ),
        (
            w.wuhu_rider.pk,
            TargetKind.GIG_WORKER,
            300_00,
            "防寒服",
            None,
            None,
            province.jinghu_union.pk,
        ),
    }
    assert c.standards[TargetKind.GIG_WORKER] == {"amount": "300.00", "goods": "防寒服"}


def test_a_campaign_of_a_city_targets_its_subtree_only(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w, province.hefei)
    workers = set(CampaignTarget.objects.filter(campaign=c).values_list("worker_id", flat=True))
    assert workers == {w.file.applicant_id, w.hero.pk, w.rider.pk}


def test_only_a_leader_opens_a_campaign_and_only_on_a_holiday_fund(province: Province) -> None:
    w = world(province)
    with pytest.raises(NotAllowed):
        open_campaign(
            province.alice,
            name="x",
            organisation=province.yaohai,
            fund=w.money.holiday,
            year=YEAR,
            starts_on=START,
            ends_on=END,
            standards=STANDARDS,
        )
    with pytest.raises(DomainError, match="专款专用") as refused:
        open_campaign(
            province.leo,
            name="x",
            organisation=province.anhui,
            fund=w.money.fund,
            year=YEAR,
            starts_on=START,
            ends_on=END,
            standards=STANDARDS,
        )
    assert refused.value.field == "fund"
    with pytest.raises(DomainError) as no_standard:
        open_campaign(
            province.leo,
            name="x",
            organisation=province.anhui,
            fund=w.money.holiday,
            year=YEAR,
            starts_on=START,
            ends_on=END,
            standards={TargetKind.FILED_HOUSEHOLD: (500_00, "")},
        )
    assert no_standard.value.field == "standards"
    assert not Campaign.objects.exists()


def test_someone_else_is_added_by_hand_with_the_other_standard(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    neighbour = worker(province.yaohai_union, province.yaohai_region, name="孙大娘")
    t = campaigns.add_target(province.alice, c, neighbour)
    assert (t.kind, t.amount_fen, t.organisation) == (
        TargetKind.OTHER,
        200_00,
        province.yaohai_union,
    )
    with pytest.raises(Conflict):
        campaigns.add_target(province.alice, c, neighbour)
    with pytest.raises(NotAllowed):
        campaigns.add_target(province.charlie, c, w.hero)


def test_a_visit_pays_cash_through_the_ledger(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    before = balance_of(w.budget)
    assert (before.available, before.committed, before.paid) == (10_000_00, 0, 0)
    photo = SimpleUploadedFile("visit.jpg", b"\xff\xd8\xff\xe0 photo", content_type="image/jpeg")
    v = visit(province, target_of(c, w.file.applicant), 800_00, photo=photo)
    after = balance_of(w.budget)
    assert (after.available, after.committed, after.paid) == (9_200_00, 0, 800_00)
    assert rebuild(LedgerEntry.objects.filter(budget=w.budget)) == after
    line = AssistanceLine.objects.get(pk=v.line_id)
    assert (line.kind, line.status, line.amount_fen, line.cap_fen) == (
        AidKind.HOLIDAY_VISIT,
        LineStatus.PAID,
        800_00,
        800_00,
    )
    assert (line.worker_id, line.household_id, line.file_id) == (
        w.file.applicant_id,
        w.file.household_id,
        w.file.pk,
    )
    assert (line.fund, line.budget, line.paid_on, line.year) == (
        w.money.holiday,
        w.budget,
        VISITED,
        YEAR,
    )
    entries = LedgerEntry.objects.filter(line=line).order_by("id")
    assert [(e.kind, e.amount_fen, e.actor) for e in entries] == [
        (LedgerKind.COMMIT, 800_00, None),
        (LedgerKind.PAY, 800_00, None),
    ]
    audited = AuditEntry.objects.filter(model="assistance.ledgerentry")
    assert set(entries.values_list("pk", flat=True)) <= {int(a.object_id) for a in audited}
    assert AuditEntry.objects.filter(model="assistance.visit", object_id=str(v.pk)).exists()
    assert v.photo.name.startswith(f"visits/{c.pk}/")


def test_a_target_without_a_county_budget_is_paid_from_the_one_above(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    record_visit(
        province.charlie,
        target_of(c, w.wuhu_rider),
        visited_on=VISITED,
        visitors="镜湖区总工会",
        cash_fen=300_00,
        goods="",
    )
    # Province: received 100,000, allocated 10,000 to Yaohai, paid 300 for Jinghu.
    top = balance_of(w.top)
    assert (top.available, top.paid) == (89_700_00, 300_00)
    assert balance_of(w.budget).available == 10_000_00


def test_a_visit_above_the_standard_is_refused(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    with pytest.raises(DomainError, match=r"300\.00") as refused:
        visit(province, target_of(c, w.rider), 300_01)
    assert refused.value.field == "cash"
    assert not Visit.objects.exists() and not AssistanceLine.objects.filter(kind="holiday_visit")
    assert balance_of(w.budget).available == 10_000_00


def test_a_double_visit_is_refused_and_pays_nothing_more(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    t = target_of(c, w.rider)
    visit(province, t, 300_00)
    with pytest.raises(Conflict):
        visit(province, t, 300_00)
    assert Visit.objects.filter(target=t).count() == 1
    assert balance_of(w.budget).paid == 300_00
    assert LedgerEntry.objects.filter(budget=w.budget, kind=LedgerKind.PAY).count() == 1


def test_visit_dates_budget_scope_and_closing(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    t = target_of(c, w.hero)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    for day in (tomorrow, START - datetime.timedelta(days=1)):
        with pytest.raises(DomainError) as refused:
            visit(province, t, 0, visited_on=day)
        assert refused.value.field == "visited_on"
    with pytest.raises(NotAllowed):
        record_visit(
            province.charlie, t, visited_on=VISITED, visitors="x", cash_fen=0, goods="慰问品"
        )
    with pytest.raises(NotAllowed):  # a leader plans no aid and records no visits
        record_visit(province.leo, t, visited_on=VISITED, visitors="x", cash_fen=0, goods="x")
    # 1,000 for the model worker is more than Yaohai's budget has left after 9,500.
    funds.return_unspent(w.money.fiona, w.budget, 9_500_00)
    with pytest.raises(DomainError, match=r"500\.00") as short:
        visit(province, t, 1_000_00)
    assert short.value.field == "cash"
    # Goods only: no money moves.
    v = visit(province, t, 0, goods="慰问信和书籍")
    assert v.line is None
    campaigns.close_campaign(province.leo, c)
    with pytest.raises(Conflict):
        visit(province, target_of(c, w.rider), 300_00)


def test_progress_per_organisation_one_level_down(province: Province) -> None:
    w = world(province)
    c = campaign_at(province, w)
    visit(province, target_of(c, w.file.applicant), 800_00)
    visit(province, target_of(c, w.rider), 250_00)
    visit(province, target_of(c, w.hero), 0, goods="慰问信")
    record_visit(
        province.charlie,
        target_of(c, w.wuhu_rider),
        visited_on=VISITED,
        visitors="镜湖区总工会",
        cash_fen=0,
        goods="防寒服",
    )
    neighbour = worker(province.yaohai, province.yaohai_region, name="孙大娘")
    campaigns.add_target(province.alice, c, neighbour)  # at the county federation itself

    rows = [
        (r.organisation.name if r.organisation else None, r.targets, r.visited, r.cash_fen)
        for r in progress(province.leo, c)
    ]
    assert rows == [
        ("合肥市总工会", 4, 3, 1_050_00),
        ("芜湖市总工会", 1, 1, 0),
        (None, 5, 4, 1_050_00),
    ]
    by_county = progress(province.alice, c)
    assert [
        (r.organisation.kind if r.organisation else None, r.targets, r.visited, str(r.share))
        for r in by_county
    ] == [
        (OrganisationKind.COUNTY, 1, 0, "0.0"),  # the neighbour, at 瑶海区总工会 itself
        (OrganisationKind.GRASSROOTS, 3, 3, "100.0"),
        (None, 4, 3, "75.0"),
    ]
