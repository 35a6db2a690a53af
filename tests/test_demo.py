"""The demo province: real regions, a consistent small demo, fixed logins, idempotence."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.demo import build
from gonghui.demo.ids import IdNumbers
from gonghui.demo.reset import demo_root, wipe
from gonghui.hardship import rules, services
from gonghui.hardship.choices import EventKind, FileStatus, HardshipCategory
from gonghui.hardship.models import HardshipFile, Investigation, LivingStandard
from gonghui.organisations.choices import OrganisationKind, RegionLevel
from gonghui.organisations.models import Organisation, Region, ServiceCentre
from gonghui.organisations.regions import all_divisions, current_divisions, load_regions
from gonghui.people.idnumber import validate_id_number
from gonghui.people.models import Household, HouseholdMember, Worker

SMALL = ["--size", "2000", "--files", "200"]
TODAY = datetime.date(2026, 11, 30)


# --- regions (no database) ---------------------------------------------------------------


def test_it_reads_the_sixteen_cities_of_anhui() -> None:
    divisions = current_divisions("34")
    cities = [d for d in divisions if d.level == RegionLevel.CITY]
    assert len(cities) == 16
    assert {d.name for d in cities} >= {"合肥市", "芜湖市", "黄山市", "宣城市"}
    assert [d.code for d in divisions if d.level == RegionLevel.PROVINCE] == ["340000"]


def test_it_keeps_current_names_and_drops_retired_codes() -> None:
    by_code = {d.code: d for d in current_divisions("34")}
    assert by_code["340102"].name == "瑶海区"  # [1983-2001]东市区,[2002-]瑶海区
    assert by_code["340102"].parent_code == "340100"
    assert "341400" not in by_code  # 巢湖市 (prefecture) [1999-2011]
    assert "340203" not in by_code  # 弋江区 moved to 340209 in 2020
    assert "340209" in by_code
    assert "340101" not in by_code  # 市辖区 is no place
    assert len([d for d in by_code.values() if d.level == RegionLevel.COUNTY]) == 104


def test_it_knows_which_years_a_code_was_in_use() -> None:
    yaohai = next(d for d in all_divisions("34") if d.code == "340102")
    assert not yaohai.in_use(1975) and yaohai.in_use(1983) and yaohai.in_use(2020)


def test_id_numbers_use_a_code_valid_in_the_birth_year() -> None:
    ids = IdNumbers(random.Random(1), all_divisions("34"))
    for year in (1962, 1975, 1990, 2004):
        number = ids.make("340102", datetime.date(year, 6, 1), male=True)
        info = validate_id_number(number)
        assert info.sex == "M" and info.birth_date.year == year


@pytest.mark.django_db
def test_load_regions_is_idempotent() -> None:
    assert load_regions("34") == 121
    assert load_regions("34") == 121
    assert Region.objects.filter(code__startswith="34").count() == 121
    yaohai = Region.objects.get(code="340102")
    assert (yaohai.name, yaohai.level, yaohai.parent_id) == ("瑶海区", "county", "340100")


# --- a small demo ----------------------------------------------------------------------------


# tests/conftest.py switches to a fast password hasher for every test.
@pytest.fixture
def demo(db: None) -> Iterator[str]:
    out = StringIO()
    call_command("load_demo", *SMALL, stdout=out)
    yield out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "organisations": Organisation.objects.count(),
        "centres": ServiceCentre.objects.count(),
        "users": User.objects.count(),
        "workers": Worker.objects.count(),
        "households": Household.objects.count(),
        "members": HouseholdMember.objects.count(),
        "files": HardshipFile.objects.count(),
        "investigations": Investigation.objects.count(),
    }


@pytest.mark.django_db
def test_it_builds_a_small_province(demo: str) -> None:
    assert Worker.objects.count() == 2000
    assert HardshipFile.objects.count() == 200
    assert Household.objects.count() >= 200
    assert ServiceCentre.objects.count() == 129
    assert User.objects.count() == 408
    root = demo_root()
    assert root is not None and root.kind == OrganisationKind.PROVINCE
    assert Organisation.objects.filter(kind=OrganisationKind.INDUSTRY).get().name == (
        "安徽省快递行业工会联合会"
    )
    assert "yaohai_caseworker" in demo and "gonghui-demo" in demo


@pytest.mark.django_db
def test_paths_match_what_save_would_compute(demo: str) -> None:
    for org in Organisation.objects.select_related("parent").order_by("path")[:300]:
        assert org.depth == org.path.count("/") - 1
        if org.parent is not None:
            assert org.path.startswith(org.parent.path)


@pytest.mark.django_db
def test_worker_and_member_id_numbers_are_valid(demo: str) -> None:
    for worker in Worker.objects.all():
        info = validate_id_number(worker.id_number)
        assert (info.birth_date, info.sex) == (worker.birth_date, worker.sex)
        assert worker.region_id and worker.region_id.startswith("34")
    for number in HouseholdMember.objects.values_list("id_number", flat=True):
        validate_id_number(number)
    numbers = list(Worker.objects.values_list("id_number", flat=True))
    assert len(numbers) == len(set(numbers))


@pytest.mark.django_db
def test_every_status_and_category_appears(demo: str) -> None:
    statuses = set(HardshipFile.objects.values_list("status", flat=True))
    categories = set(HardshipFile.objects.values_list("proposed_category", flat=True))
    assert statuses == set(FileStatus.values)
    assert categories == set(HardshipCategory.values)
    filed = HardshipFile.objects.filter(status__in=[FileStatus.FILED, FileStatus.CLOSED])
    assert not filed.filter(category="").exists()
    assert HardshipFile.objects.filter(reopen_count__gt=0).exists()


@pytest.mark.django_db
def test_files_carry_the_category_the_rules_give_their_lines(demo: str) -> None:
    files = HardshipFile.objects.select_related("household__region", "policy")
    for file in files:
        terms = file.terms()
        assert terms is not None
        result = rules.assess(services.facts_for(file), terms)
        assert (result.category, result.per_capita) == (
            file.proposed_category,
            file.per_capita_income,
        ), file.number
        assert file.decision_trace == result.trace_json()
        assert file.policy_version == file.policy.version


@pytest.mark.django_db
def test_snapshots_use_the_city_standard_of_the_application_year(demo: str) -> None:
    hefei_2024 = LivingStandard.objects.get(region_id="340100", valid_from="2024-01-01")
    assert hefei_2024.monthly_amount == 620
    for file in HardshipFile.objects.filter(reopen_count=0).select_related("household__region"):
        standard = services.living_standard_for(file.household.region, file.applied_on)
        assert file.policy_snapshot["living_standard"] == str(standard.monthly_amount)


@pytest.mark.django_db
def test_files_follow_the_workflow_rules(demo: str) -> None:
    past_notice = [FileStatus.NOTICE, FileStatus.REVIEWED, FileStatus.FILED, FileStatus.CLOSED]
    for file in HardshipFile.objects.filter(status__in=past_notice, reopen_count=0):
        assert file.proposed_category != HardshipCategory.NOT_ELIGIBLE
        assert file.investigations.exists()
        assert file.notice_start and file.notice_end and file.submitted_by_id
    for file in HardshipFile.objects.filter(approved_by__isnull=False):
        assert file.approved_by_id not in {file.created_by_id, file.submitted_by_id}
        assert file.reviewed_by_id not in {file.created_by_id, file.submitted_by_id}
    for file in HardshipFile.objects.filter(status=FileStatus.REVIEWED):
        reviewed = file.events.get(kind=EventKind.REVIEWED).at.date()
        assert file.notice_end is not None and file.notice_end < reviewed
    creators = HardshipFile.objects.select_related("created_by__organisation", "organisation")
    for file in creators:
        assert file.created_by.role == Role.CASE_WORKER
        assert file.created_by.organisation.contains(file.organisation)  # type: ignore[union-attr]


@pytest.mark.django_db
def test_the_fixed_logins_exist_with_their_roles(demo: str) -> None:
    expected = {
        "admin": (Role.ADMIN, "安徽省总工会"),
        "leader": (Role.LEADER, "安徽省总工会"),
        "auditor": (Role.AUDITOR, "安徽省总工会"),
        "fund": (Role.FUND_OFFICER, "安徽省总工会"),
        "hefei_reviewer": (Role.REVIEWER, "合肥市总工会"),
        "yaohai_reviewer": (Role.REVIEWER, "瑶海区总工会"),
        "yaohai_caseworker": (Role.CASE_WORKER, "瑶海区总工会"),
        "yaohai_caseworker2": (Role.CASE_WORKER, "瑶海区总工会"),
        "wuhu_caseworker": (Role.CASE_WORKER, "芜湖市总工会"),
    }
    for username, (role, org) in expected.items():
        user = User.objects.select_related("organisation").get(username=username)
        assert (user.role, user.organisation.name) == (role, org)  # type: ignore[union-attr]
        assert user.check_password("gonghui-demo")
        assert user.display_name
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert User.objects.get(username="yaohai_reviewer").organisation.region_id == "340102"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_yaohai_has_work_for_the_fixed_logins(demo: str) -> None:
    yaohai = HardshipFile.objects.filter(organisation__region_id="340102")
    assert set(yaohai.values_list("status", flat=True)) == set(FileStatus.values)
    assert yaohai.filter(created_by__username="yaohai_caseworker2").exists()
    waiting = yaohai.filter(status=FileStatus.REVIEWED, submitted_by__username="yaohai_caseworker")
    assert waiting.exists()
    assert not waiting.filter(reviewed_by__username="yaohai_reviewer").exists()
    ready = yaohai.filter(status=FileStatus.INVESTIGATED).exclude(proposed_category="none")
    assert ready.filter(investigations__isnull=False).exists()


@pytest.mark.django_db
def test_running_it_again_changes_nothing(demo: str) -> None:
    before = _counts()
    out = StringIO()
    call_command("load_demo", *SMALL, stdout=out)
    assert "already loaded" in out.getvalue()
    assert _counts() == before


@pytest.mark.django_db
def test_reset_rebuilds_the_same_province(demo: str) -> None:
    before = _counts()
    first = list(Worker.objects.order_by("pk").values_list("id_number", flat=True)[:10])
    call_command("load_demo", *SMALL, "--reset", stdout=StringIO())
    assert _counts() == before
    again = list(Worker.objects.order_by("pk").values_list("id_number", flat=True)[:10])
    assert again == first


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_people() -> None:
    options = build.Options(size=1000, files=50, seed=7, today=TODAY)
    build.build(options)
    first = list(Worker.objects.order_by("pk").values_list("id_number", "name")[:10])
    root = demo_root()
    assert root is not None
    wipe(root)
    build.build(options)
    assert list(Worker.objects.order_by("pk").values_list("id_number", "name")[:10]) == first


def test_it_refuses_more_files_than_households() -> None:
    with pytest.raises(build.DemoError):
        build.check(build.Options(size=1000, files=500))


# --- the demo's money ---------------------------------------------------------------------


def _money_counts() -> dict[str, int]:
    from gonghui.assistance import models as aid

    return {
        model.__name__: model._default_manager.count()
        for model in (
            aid.Fund, aid.Budget, aid.LedgerEntry, aid.AssistanceLine, aid.BankAccount,
            aid.PaymentBatch, aid.Payment, aid.ModelWorker, aid.Campaign, aid.CampaignTarget,
            aid.Visit,
        )
    }  # fmt: skip


@pytest.mark.django_db
def test_the_demo_has_a_policy_funds_and_budgets_that_reconcile(demo: str) -> None:
    from gonghui.assistance.choices import FundSource
    from gonghui.assistance.ledger import balances, rebuild
    from gonghui.assistance.models import AidPolicy, Budget, Fund, LedgerEntry

    policy = AidPolicy.objects.get(region_id="340000")
    assert (policy.deep_living_months, policy.relative_living_months) == (10, 8)
    assert (policy.household_year_cap, policy.person_year_cap) == (40000, 20000)
    assert {f.source for f in Fund.objects.all()} >= {
        FundSource.CENTRAL, FundSource.LOCAL, FundSource.UNION, FundSource.HOLIDAY,
        FundSource.SPECIAL, FundSource.DONATION,
    }  # fmt: skip
    assert all("running_costs" not in f.purposes for f in Fund.objects.all())
    budgets = list(Budget.objects.select_related("organisation", "parent__organisation"))
    found = balances(b.pk for b in budgets)
    for budget in budgets:
        balance = found[budget.pk]
        assert balance.available >= 0 and balance.committed >= 0
        assert rebuild(LedgerEntry.objects.filter(budget=budget)) == balance
        if budget.parent is not None:  # allocated down the tree, one level at a time
            assert budget.parent.organisation.contains(budget.organisation)
    assert {b.organisation.kind for b in budgets} >= {"province", "city", "county"}


@pytest.mark.django_db
def test_the_demo_plans_and_approves_with_four_eyes(demo: str) -> None:
    from django.db.models import F

    from gonghui.assistance import planning
    from gonghui.assistance.choices import LineStatus
    from gonghui.assistance.models import AssistanceLine

    planned = AssistanceLine.objects.exclude(kind="holiday_visit")
    assert planned.filter(status=LineStatus.PAID).exists()
    assert planned.filter(status=LineStatus.PLANNED).exists()
    assert not planned.filter(approved_by=F("created_by")).exists()
    assert (
        not planned.filter(cash=True, amount_fen__gt=0, fund__isnull=True)
        .exclude(status=LineStatus.PLANNED)
        .exists()
    )
    reviewer = User.objects.get(username="yaohai_reviewer")
    waiting = planning.approvable(reviewer, AssistanceLine.objects.for_user(reviewer))
    assert waiting.exists()  # work for the fixed reviewer in 瑶海区


@pytest.mark.django_db
def test_the_demo_pays_to_valid_cards_in_the_workers_name(demo: str) -> None:
    from stdnum import luhn

    from gonghui.assistance.choices import BatchStatus, PaymentStatus
    from gonghui.assistance.models import BankAccount, Payment, PaymentBatch

    cards = BankAccount.objects.select_related("worker")
    assert cards.exists()
    for card in cards[:200]:
        assert luhn.is_valid(card.account_number) and card.holder_name == card.worker.name
    assert PaymentBatch.objects.exists()
    assert set(PaymentBatch.objects.values_list("status", flat=True)) == {BatchStatus.SETTLED}
    assert Payment.objects.filter(status=PaymentStatus.PAID).exists()
    for payment in Payment.objects.filter(status=PaymentStatus.PAID).select_related("line"):
        assert payment.line.status == "paid" and payment.line.paid_on is not None


@pytest.mark.django_db
def test_the_demo_campaign_has_targets_and_visits_paid_through_the_ledger(demo: str) -> None:
    from django.db.models import Sum

    from gonghui.assistance.choices import LedgerKind, TargetKind
    from gonghui.assistance.models import Campaign, CampaignTarget, LedgerEntry, Visit

    campaign = Campaign.objects.get()
    assert campaign.fund.allows("holiday_visit")
    kinds = set(CampaignTarget.objects.values_list("kind", flat=True))
    assert kinds == {TargetKind.FILED_HOUSEHOLD, TargetKind.MODEL_WORKER, TargetKind.GIG_WORKER}
    visits = Visit.objects.filter(target__campaign=campaign)
    assert 0 < visits.count() < CampaignTarget.objects.count()
    for visit in visits.select_related("target", "line")[:300]:
        assert campaign.starts_on <= visit.visited_on <= campaign.ends_on
        assert visit.cash_fen <= visit.target.amount_fen
        if visit.cash_fen:
            assert visit.line is not None and visit.line.amount_fen == visit.cash_fen
    cash = visits.aggregate(s=Sum("cash_fen"))["s"]
    paid = LedgerEntry.objects.filter(budget__fund=campaign.fund, kind=LedgerKind.PAY)
    assert paid.aggregate(s=Sum("amount_fen"))["s"] == cash
    assert "送温暖" in demo


@pytest.mark.django_db
def test_reset_rebuilds_the_same_money(demo: str) -> None:
    before = _money_counts()
    assert before["Visit"] and before["Payment"]
    call_command("load_demo", *SMALL, "--reset", stdout=StringIO())
    assert _money_counts() == before
