"""The demo province: real regions, a consistent small demo, fixed logins, idempotence; its
home-visit photos, periodic reviews, external lists, linkage, screening candidates with
their outcomes, supervision tasks and money in every fund, each consistent with the
services that would have written them."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, Q
from django.test import override_settings

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.demo import build
from gonghui.demo.ids import IdNumbers
from gonghui.demo.reset import demo_root, wipe
from gonghui.discovery.models import (
    Candidate,
    LinkReview,
    ListImport,
    ListRowLink,
    ScreeningRun,
)
from gonghui.hardship import rules, services
from gonghui.hardship.choices import EventKind, FileStatus, HardshipCategory
from gonghui.hardship.models import (
    Attachment,
    FollowUp,
    HardshipFile,
    Investigation,
    LivingStandard,
    PeriodicReview,
)
from gonghui.organisations.choices import OrganisationKind, RegionLevel
from gonghui.organisations.models import Organisation, Region, ServiceCentre
from gonghui.organisations.regions import all_divisions, current_divisions, load_regions
from gonghui.people.idnumber import validate_id_number
from gonghui.people.models import Household, HouseholdMember, Worker
from gonghui.supervision.models import Finding, SupervisionTask

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


# --- a small demo, built once for the read-only tests --------------------------------------


@dataclass(frozen=True)
class Built:
    output: str  # what load_demo printed
    folder: Path  # its discovery directory and media storage


@pytest.fixture(scope="class")
def small_demo(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """The small demo, built once for the tests of a class that only read it, inside a
    transaction rolled back after them (each test runs in a savepoint of it)."""
    folder = tmp_path_factory.mktemp("demo")
    paths = override_settings(
        GONGHUI_DISCOVERY_DIR=folder / "discovery",
        MEDIA_ROOT=str(folder / "media"),
        # As tests/conftest.py does for every test (its fixture comes after this one).
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    with django_db_blocker.unblock(), paths, transaction.atomic():
        out = StringIO()
        call_command("load_demo", *SMALL, stdout=out)
        yield Built(out.getvalue(), folder)
        transaction.set_rollback(True)


@pytest.fixture
def fresh_demo(db: None, settings: Any, tmp_path: Path) -> Iterator[str]:
    """A demo of the test's own, for the tests that remove or rebuild it."""
    settings.GONGHUI_DISCOVERY_DIR = tmp_path / "discovery"
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
        "attachments": Attachment.objects.count(),
        "reviews": PeriodicReview.objects.count(),
        "follow_ups": FollowUp.objects.count(),
        "list_imports": ListImport.objects.count(),
        "row_links": ListRowLink.objects.count(),
        "link_reviews": LinkReview.objects.count(),
        "candidates": Candidate.objects.count(),
        "screening_runs": ScreeningRun.objects.count(),
        "tasks": SupervisionTask.objects.count(),
        "findings": Finding.objects.count(),
    }


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


def _what_was_built() -> dict[str, list[tuple[Any, ...]]]:
    """The demo's newer parts by their natural keys (ID numbers, file numbers, titles)."""
    found = {
        "candidates": Candidate.objects.values_list(
            "worker__id_number", "rule__code", "status", "reason"
        ),
        "lists": ListImport.objects.values_list("kind", "rows_loaded", "rows_without_id"),
        "links": ListRowLink.objects.values_list(
            "list_import__kind", "row_no", "worker__id_number"
        ),
        "link_reviews": LinkReview.objects.values_list(
            "kind", "decision", "row_no", "worker__id_number"
        ),
        "reviews": PeriodicReview.objects.values_list(
            "file__number", "due_on", "done_on", "category"
        ),
        "photos": Attachment.objects.values_list("file__number", "upload"),
        "tasks": SupervisionTask.objects.values_list(
            "title", "status", "assigned_on", "population"
        ),
        "findings": Finding.objects.values_list(
            "task__title", "file__number", "result", "rectified_on"
        ),
    }
    return {name: sorted(rows, key=repr) for name, rows in found.items()}


def _last_review(file: HardshipFile) -> PeriodicReview | None:
    """The review that decided the file's category, unless a reopening assessed it since."""
    if file.reopen_count:
        return None
    return file.reviews.order_by("-done_on").first()


def _list_rows() -> dict[tuple[int, int], str | None]:
    """(import, row) → ID number of every row of every finished list, from its Parquet."""
    import duckdb

    from gonghui.discovery import lists

    found: dict[tuple[int, int], str | None] = {}
    for imp in ListImport.objects.filter(status="done"):
        con = duckdb.connect()
        try:
            rows = con.execute(
                "SELECT row_no, id_number FROM read_parquet(?)",
                [str(lists.rows_path(imp.work_dir))],
            ).fetchall()
        finally:
            con.close()
        assert len(rows) == imp.rows_loaded
        found.update({(imp.pk, row_no): number for row_no, number in rows})
    return found


def _filed_on(task: SupervisionTask) -> list[int]:
    """The files of the task's union filed on the day it was assigned."""
    day = task.assigned_on
    return list(
        HardshipFile.objects.filter(
            task.organisation.subtree_q("organisation__"), filed_on__lte=day
        )
        .filter(Q(status=FileStatus.FILED) | Q(status=FileStatus.CLOSED, exit_on__gt=day))
        .values_list("pk", flat=True)
    )


# --- rebuilding ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_reset_rebuilds_the_same_province(fresh_demo: str) -> None:
    before, money = _counts(), _money_counts()
    assert money["Visit"] and money["Payment"]
    first = list(Worker.objects.order_by("pk").values_list("id_number", flat=True)[:10])
    call_command("load_demo", *SMALL, "--reset", stdout=StringIO())
    assert _counts() == before
    assert _money_counts() == money
    again = list(Worker.objects.order_by("pk").values_list("id_number", flat=True)[:10])
    assert again == first


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_people(settings: Any, tmp_path: Path) -> None:
    settings.GONGHUI_DISCOVERY_DIR = tmp_path / "discovery"
    options = build.Options(size=1000, files=50, seed=7, today=TODAY)
    build.build(options)
    first = list(Worker.objects.order_by("pk").values_list("id_number", "name")[:10])
    province = _what_was_built()
    root = demo_root()
    assert root is not None
    wipe(root)
    build.build(options)
    assert list(Worker.objects.order_by("pk").values_list("id_number", "name")[:10]) == first
    # Keys differ after a rebuild (never reused); what the records say does not.
    assert _what_was_built() == province


def test_it_refuses_more_files_than_households() -> None:
    with pytest.raises(build.DemoError):
        build.check(build.Options(size=1000, files=500))


# --- reading the small demo ---------------------------------------------------------------------


@pytest.mark.django_db
class TestTheSmallDemo:
    @pytest.fixture(autouse=True)
    def demo(self, small_demo: Built, settings: Any) -> str:
        settings.GONGHUI_DISCOVERY_DIR = small_demo.folder / "discovery"
        settings.MEDIA_ROOT = str(small_demo.folder / "media")
        return small_demo.output

    def test_it_builds_a_small_province(self, demo: str) -> None:
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

    def test_paths_match_what_save_would_compute(self, demo: str) -> None:
        for org in Organisation.objects.select_related("parent").order_by("path")[:300]:
            assert org.depth == org.path.count("/") - 1
            if org.parent is not None:
                assert org.path.startswith(org.parent.path)

    def test_worker_and_member_id_numbers_are_valid(self, demo: str) -> None:
        for worker in Worker.objects.all():
            info = validate_id_number(worker.id_number)
            assert (info.birth_date, info.sex) == (worker.birth_date, worker.sex)
            assert worker.region_id and worker.region_id.startswith("34")
        for number in HouseholdMember.objects.values_list("id_number", flat=True):
            validate_id_number(number)
        numbers = list(Worker.objects.values_list("id_number", flat=True))
        assert len(numbers) == len(set(numbers))

    def test_every_status_and_category_appears(self, demo: str) -> None:
        statuses = set(HardshipFile.objects.values_list("status", flat=True))
        categories = set(HardshipFile.objects.values_list("proposed_category", flat=True))
        assert statuses == set(FileStatus.values)
        assert categories == set(HardshipCategory.values)
        filed = HardshipFile.objects.filter(status__in=[FileStatus.FILED, FileStatus.CLOSED])
        assert not filed.filter(category="").exists()
        assert HardshipFile.objects.filter(reopen_count__gt=0).exists()

    def test_files_carry_the_category_the_rules_give_their_lines(self, demo: str) -> None:
        files = HardshipFile.objects.select_related("household__region", "policy")
        for file in files:
            terms = file.terms()
            assert terms is not None
            result = rules.assess(services.facts_for(file), terms)
            # After a periodic review the snapshot and the category are the review's; the
            # proposed category stays the application's (services.periodic_review).
            review = _last_review(file)
            expected = review.category if review else file.proposed_category
            assert (result.category, result.per_capita) == (
                expected,
                file.per_capita_income,
            ), file.number
            assert file.decision_trace == result.trace_json()
            assert file.policy_version == file.policy.version

    def test_snapshots_use_the_city_standard_of_the_application_year(self, demo: str) -> None:
        hefei_2024 = LivingStandard.objects.get(region_id="340100", valid_from="2024-01-01")
        assert hefei_2024.monthly_amount == 620
        for file in HardshipFile.objects.filter(reopen_count=0).select_related("household__region"):
            review = _last_review(file)
            day = review.done_on if review else file.applied_on
            standard = services.living_standard_for(file.household.region, day)
            assert file.policy_snapshot["living_standard"] == str(standard.monthly_amount)
            assert file.policy_snapshot["on"] == day.isoformat()

    def test_files_follow_the_workflow_rules(self, demo: str) -> None:
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

    def test_the_fixed_logins_exist_with_their_roles(self, demo: str) -> None:
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

    def test_yaohai_has_work_for_the_fixed_logins(self, demo: str) -> None:
        yaohai = HardshipFile.objects.filter(organisation__region_id="340102")
        assert set(yaohai.values_list("status", flat=True)) == set(FileStatus.values)
        assert yaohai.filter(created_by__username="yaohai_caseworker2").exists()
        waiting = yaohai.filter(
            status=FileStatus.REVIEWED, submitted_by__username="yaohai_caseworker"
        )
        assert waiting.exists()
        assert not waiting.filter(reviewed_by__username="yaohai_reviewer").exists()
        ready = yaohai.filter(status=FileStatus.INVESTIGATED).exclude(proposed_category="none")
        assert ready.filter(investigations__isnull=False).exists()

    def test_running_it_again_changes_nothing(self, demo: str) -> None:
        before = _counts()
        out = StringIO()
        call_command("load_demo", *SMALL, stdout=out)
        assert "already loaded" in out.getvalue()
        assert _counts() == before

    def test_the_demo_has_a_policy_funds_and_budgets_that_reconcile(self, demo: str) -> None:
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

    def test_the_demo_plans_and_approves_with_four_eyes(self, demo: str) -> None:
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

    def test_the_demo_pays_to_valid_cards_in_the_workers_name(self, demo: str) -> None:
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

    def test_the_demo_campaign_has_targets_and_visits_paid_through_the_ledger(
        self, demo: str
    ) -> None:
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

    def test_most_home_visits_have_photos_that_open_on_the_case_page(
        self, demo: str, client: Any
    ) -> None:
        from django.urls import reverse

        from tests.web_helpers import logged_in

        visits = Investigation.objects.count()
        photographed = Investigation.objects.filter(attachments__isnull=False).distinct().count()
        assert 0.85 * visits <= photographed < visits  # a few records are still incomplete
        per_visit = Attachment.objects.values("investigation").annotate(n=Count("pk"))
        assert {row["n"] for row in per_visit} <= {1, 2}
        for attachment in Attachment.objects.select_related("investigation"):
            assert attachment.investigation is not None
            assert attachment.investigation.file_id == attachment.file_id
            assert Path(attachment.upload.path).is_file()
        user = User.objects.get(username="yaohai_caseworker")
        photo = Attachment.objects.filter(file__organisation__region_id="340102").first()
        assert photo is not None
        client = logged_in(client, user)
        response = client.get(reverse("attachment", args=[photo.pk]))
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content).startswith(b"\xff\xd8")  # a JPEG
        page = client.get(reverse("file-detail", args=[photo.file_id]))
        assert reverse("attachment", args=[photo.pk]) in page.content.decode()

    def test_periodic_reviews_are_what_the_review_service_would_record(self, demo: str) -> None:
        from django.utils import timezone

        from gonghui.hardship.rules import PolicyTerms
        from gonghui.supervision.models import FollowUpPlan, FollowUpReason

        today = timezone.localdate()
        reviewed = HardshipFile.objects.filter(reviews__isnull=False).distinct()
        assert reviewed.exists()
        late = on_time = 0
        for file in reviewed.select_related("household__region"):
            reviews = list(file.reviews.order_by("done_on"))
            assert file.filed_on is not None
            last_done, category = file.filed_on, reviews[0].previous_category
            if not file.reopen_count:
                assert category == file.proposed_category  # filed under its application's
            for review in reviews:
                # Due twelve months after filing or after the review before, done by today.
                assert review.due_on == services.add_months(last_done, 12)
                assert last_done < review.done_on < today
                assert review.previous_category == category
                terms = PolicyTerms.from_json(review.policy_snapshot)
                result = rules.assess(services.facts_for(file), terms)
                assert (result.category, result.per_capita) == (
                    review.category,
                    review.per_capita_income,
                )
                standard = services.living_standard_for(file.household.region, review.done_on)
                assert review.policy_snapshot["living_standard"] == str(standard.monthly_amount)
                assert review.decision_trace == result.trace_json()
                if review.category != review.previous_category:  # followups.after_review
                    plan = FollowUpPlan.objects.select_related("follow_up").get(review=review)
                    assert plan.reason == FollowUpReason.REVIEW
                    assert plan.follow_up.due_on == services.add_months(review.done_on, 6)
                else:
                    assert not FollowUpPlan.objects.filter(review=review).exists()
                late += review.done_on > review.due_on
                on_time += review.done_on <= review.due_on
                last_done, category = review.done_on, review.category
            assert file.review_due == services.add_months(last_done, 12)
            assert file.category == category
            events = file.events.filter(kind=EventKind.ANNUAL_REVIEW).order_by("at")
            assert [e.data["to"] for e in events] == [r.category for r in reviews]
        assert on_time > late > 0  # most on time, some late
        overdue = HardshipFile.objects.filter(status=FileStatus.FILED, review_due__lt=today)
        assert overdue.exists()  # and some still waiting

    def test_follow_ups_are_mostly_done_on_time(self, demo: str) -> None:
        from django.db.models import F
        from django.utils import timezone

        from gonghui.hardship.choices import FollowUpStatus

        due = FollowUp.objects.filter(due_on__lt=timezone.localdate())
        on_time = due.filter(status=FollowUpStatus.DONE, done_on__lte=F("due_on")).count()
        assert on_time > due.count() / 2
        assert due.filter(status=FollowUpStatus.DUE).exists()  # overdue ones for the alerts

    def test_the_agencies_lists_are_imported_this_year(self, demo: str) -> None:
        from django.utils import timezone

        from gonghui.discovery.choices import SourceKind

        imports = ListImport.objects.all()
        assert set(imports.values_list("kind", flat=True)) == {
            SourceKind.MINIMUM_LIVING, SourceKind.MEDICAL, SourceKind.UNEMPLOYMENT,
            SourceKind.DISABILITY, SourceKind.DISASTER, SourceKind.VEHICLE, SourceKind.PROPERTY,
        }  # fmt: skip
        now = timezone.now()
        for imp in imports:
            assert imp.status == "done" and imp.agency and imp.sha256
            assert imp.finished_at is not None and imp.finished_at <= now
            assert timezone.localtime(imp.finished_at).year == timezone.localdate().year
            assert imp.period_from <= imp.period_to
        rows = _list_rows()
        assert (
            sum(imports.values_list("rows_without_id", flat=True))
            == sum(1 for number in rows.values() if number is None)
            > 0
        )

    def test_linked_rows_and_pairs_for_review(self, demo: str) -> None:
        from gonghui.discovery.models import LinkDecision, LinkKind, LinkMethod
        from gonghui.people.idnumber import validate_id_number

        rows = _list_rows()
        for link in ListRowLink.objects.all():
            assert rows[(link.list_import_id, link.row_no)] is None  # only rows without a number
        link_reviews = LinkReview.objects.filter(kind=LinkKind.LINK)
        assert link_reviews.filter(decision=LinkDecision.PENDING).exists()
        for review in link_reviews:
            assert rows[(review.list_import_id, review.row_no)] is None  # type: ignore[index]
            assert 0.30 <= review.match_probability < 0.95  # the grey zone
            assert review.organisation_id == review.worker.organisation_id
            reviewed = ListRowLink.objects.filter(
                list_import=review.list_import_id, row_no=review.row_no, method=LinkMethod.REVIEWED
            )
            assert reviewed.exists() == (review.decision == LinkDecision.SAME_PERSON)
        pairs = LinkReview.objects.filter(kind=LinkKind.DEDUPE).select_related(
            "worker", "other_worker"
        )
        assert pairs.filter(decision=LinkDecision.PENDING).exists()
        for pair in pairs:
            one, other = pair.worker, pair.other_worker
            assert other is not None and one.pk < other.pk
            assert (one.name, one.birth_date, one.sex) == (other.name, other.birth_date, other.sex)
            differ = sum(
                a != b for a, b in zip(one.id_number[:17], other.id_number[:17], strict=True)
            )
            assert differ == 1  # one digit mistyped, both numbers valid
            validate_id_number(one.id_number)
            validate_id_number(other.id_number)

    def test_candidates_carry_evidence_from_real_list_rows(self, demo: str) -> None:
        from gonghui.discovery.choices import JobStatus, RuleStatus
        from gonghui.discovery.models import ScreeningJob, ScreeningRule
        from gonghui.hardship.models import IncomeReading

        assert set(ScreeningRule.objects.values_list("status", flat=True)) == {RuleStatus.ON}
        job = ScreeningJob.objects.get()
        assert job.status == JobStatus.DONE and job.runs.count() == ScreeningRule.objects.count()
        rows = _list_rows()
        candidates = Candidate.objects.select_related("worker", "rule", "found_by")
        assert candidates.count() == sum(job.runs.values_list("found", flat=True)) > 0
        for candidate in candidates:
            assert candidate.found_by.job_id == job.pk
            assert candidate.organisation_id == candidate.worker.organisation_id
            household = set(
                HouseholdMember.objects.filter(
                    household__members__worker=candidate.worker
                ).values_list("id_number", flat=True)
            ) | {candidate.worker.id_number}
            for item in candidate.evidence:
                if item["source"] == "income_reading":
                    reading = IncomeReading.objects.get(pk=item["row"])
                    assert reading.file.applicant_id == candidate.worker_id
                    continue
                number = rows[(item["import"], item["row"])]
                if item.get("method") == "linked":
                    assert ListRowLink.objects.filter(
                        list_import=item["import"], row_no=item["row"], worker=candidate.worker
                    ).exists()
                else:
                    assert number in household, candidate

    def test_candidates_outcomes_follow_the_outreach_rules(self, demo: str) -> None:
        from django.utils import timezone

        from gonghui.audit.models import AuditEntry
        from gonghui.discovery.choices import CandidateStatus

        candidates = Candidate.objects.select_related("worker")
        statuses = set(candidates.values_list("status", flat=True))
        assert statuses >= {CandidateStatus.NEW, CandidateStatus.CONTACTED, CandidateStatus.FILED}
        flagged = {c.created_at for c in candidates}
        assert len(flagged) == 1  # one run, on the screening day of this year
        (day,) = flagged
        assert timezone.localtime(day).year == timezone.localdate().year and day < timezone.now()
        for candidate in candidates:
            if candidate.status == CandidateStatus.NEW:
                continue
            assert day < candidate.updated_at <= timezone.now()
            entry = AuditEntry.objects.get(model="discovery.candidate", object_id=str(candidate.pk))
            assert entry.changes["status"] == [CandidateStatus.NEW, candidate.status]
            if candidate.status == CandidateStatus.NOT_ELIGIBLE:
                assert candidate.reason
            if candidate.status == CandidateStatus.FILED:
                # A file opened for the worker after the flag (outreach.file_opened).
                opened = HardshipFile.objects.filter(
                    Q(applicant=candidate.worker) | Q(household__members__worker=candidate.worker),
                    created_at__gt=day,
                ).order_by("created_at")
                assert opened.exists() and opened[0].number in candidate.reason
            else:
                # The rules flag workers whose household had no file then, or a filed one.
                assert not HardshipFile.objects.filter(
                    applicant=candidate.worker, created_at__gt=day
                ).exists()

    def test_supervision_tasks_go_down_the_tree_with_their_findings(self, demo: str) -> None:
        from django.utils import timezone

        from gonghui.supervision import tasks as service
        from gonghui.supervision.models import FindingResult, TaskKind, TaskStatus

        today = timezone.localdate()
        tasks = SupervisionTask.objects.select_related("organisation", "assigned_by_organisation")
        levels = {(t.assigned_by_organisation.kind, t.organisation.kind) for t in tasks}
        assert levels == {("province", "city"), ("city", "county")}
        for task in tasks:
            assert task.assigned_by_organisation.contains(task.organisation)
            assert task.assigned_by.organisation_id == task.assigned_by_organisation_id
            findings = list(task.findings.order_by("position"))
            if task.kind == TaskKind.SPOT_CHECK:
                drawn = service.redraw(task, _filed_on(task))  # the fingerprint matches
                assert [f.file_id for f in findings] == drawn
            before = task.status in (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)
            assert (task.findings_on is None) == before
            if not before:
                assert all(f.result for f in findings)
            if task.status == TaskStatus.OPEN:
                assert not any(f.result for f in findings)
            problems = [f for f in findings if f.result == FindingResult.PROBLEM]
            for problem in problems:
                assert problem.rectify_by is not None and problem.checked_on is not None
                assert problem.rectify_by >= problem.checked_on
                assert problem.rectified_on is None or problem.rectified_on < today
            if task.status in (TaskStatus.RECTIFIED, TaskStatus.CLOSED):
                assert all(p.rectified_on for p in problems)
            if task.status == TaskStatus.CLOSED:
                assert task.closed_on and task.findings_on and task.closed_on > task.findings_on
        problems = Finding.objects.filter(result=FindingResult.PROBLEM, rectified_on__isnull=False)
        assert problems.filter(rectified_on__lte=F("rectify_by")).exists()
        showcase = tasks.filter(organisation__region_id="340102", status=TaskStatus.OPEN)
        assert showcase.filter(due_on__gte=today).exists()  # work for yaohai_caseworker

    def test_every_fund_has_money_paid_out(self, demo: str) -> None:
        from gonghui.assistance.choices import LedgerKind
        from gonghui.assistance.models import Fund, LedgerEntry

        for fund in Fund.objects.all():
            paid = LedgerEntry.objects.filter(budget__fund=fund, kind=LedgerKind.PAY)
            assert paid.exists(), fund.source

    def test_the_indicators_have_data_for_the_last_twelve_months(self, demo: str) -> None:
        import datetime as dt

        from django.utils import timezone

        from gonghui.supervision import indicators

        today = timezone.localdate()
        period = indicators.Period(today - dt.timedelta(days=364), today)
        root = demo_root()
        assert root is not None
        positive = [
            "records_complete", "reviews_on_time", "cross_check_rate", "candidates_contacted",
            "candidates_resolved", "findings_rectified_on_time", "follow_ups_on_time",
            *(f"fund_execution:{s}" for s in ("central", "local", "union", "holiday", "special",
                                              "donation")),
        ]  # fmt: skip
        values = indicators.compute(period, [*positive, "files_from_discovery"])
        for code in positive:
            value = values[code][root.pk].value
            assert value is not None and 0 < value <= 100, code
        assert values["files_from_discovery"][root.pk].value is not None
