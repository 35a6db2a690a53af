"""The demo province's money: an assistance policy, funds by source, this year's budgets
down the tree, plans for a share of the filed households, approvals, bank cards, payment
batches settled with the bank, and a New Year and Spring Festival campaign with visits.

Whatever has a service goes through it (defining funds, budgets, receiving and allocating
money, proposing plans, approving, opening the campaign, paying batches), so the demo
holds exactly what the screens would have made, with its audit trail. Two things are
written set-based like the rest of the demo's generated history: the choice of fund on
each planned line (one UPDATE per fund, with its audit rows) and the visits already done
(lines, ledger entries and visits as plain rows; they reconcile like any others).

Amounts are decided first (what the plans and visits need, per budget) and budgets are then
allocated with a margin, so every approval and visit finds its money. Every fund pays: the
central fund in a batch per city, the other funds with help to pay in one batch each.
"""

from __future__ import annotations

import csv
import datetime
import io
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, CharField, Count, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Cast, JSONArray, JSONObject
from django.utils import timezone
from stdnum import luhn

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.assistance import campaigns, funds, payments, planning
from gonghui.assistance.accounts import check_card
from gonghui.assistance.choices import (
    AidKind,
    FundSource,
    LedgerKind,
    LineStatus,
    TargetKind,
)
from gonghui.assistance.ledger import balances
from gonghui.assistance.models import (
    AidPolicy,
    AssistanceLine,
    BankAccount,
    Budget,
    Campaign,
    CampaignTarget,
    Fund,
    LedgerEntry,
    ModelWorker,
    Payment,
    PaymentBatch,
    Visit,
)
from gonghui.audit.bulk import insert_select
from gonghui.audit.context import acting_as
from gonghui.audit.models import AuditAction, AuditEntry, AuditSource
from gonghui.errors import DomainError
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.models import PATH_SEGMENT, PATH_SEP, Organisation
from gonghui.people.models import Worker

from . import anhui, reset
from .writer import Table, analyze, first_free_pk, reset_sequences

AID_POLICY_NAME = "安徽省困难职工帮扶救助标准"
STEP = PATH_SEGMENT + len(PATH_SEP)  # characters per level of an organisation path
PROVINCE_LEN, CITY_LEN, COUNTY_LEN = STEP, 2 * STEP, 3 * STEP
PLAN_SHARE = 25  # one filed household in PLAN_SHARE gets a plan
SHOWCASE_PLANS = 24  # and this many in the showcase county, for its fixed logins
APPROVED_PERCENT = 80  # the rest waits for a reviewer
SHOWCASE_APPROVED_PERCENT = 60
NO_CARD_PERCENT = 4  # recipients whose card is not recorded yet
FAILED_PERCENT = 3  # payments the bank sends back
MODEL_WORKERS_PER = 500  # one model worker per this many workers
QIAN = 1_000_00  # a thousand yuan, in fen: budgets are round figures
BUFFER = 5 * QIAN  # room in each budget for new help approved in the demo's screens
RESERVE = 100 * QIAN  # what the province keeps back of each fund


@dataclass(frozen=True)
class FundPlan:
    """A demo fund: its source, purposes, whether it needs a file, and how far down the
    tree its budget is allocated (a path length: province, city or county)."""

    code: str
    name: str
    source: str
    purposes: tuple[str, ...]
    requires_file: bool
    down_to: int


FUNDS = (
    FundPlan(
        "ZY", "中央财政帮扶资金", FundSource.CENTRAL,
        (AidKind.LIVING, AidKind.MEDICAL, AidKind.EDUCATION, AidKind.ACCIDENT,
         AidKind.MAJOR_ILLNESS),
        True, COUNTY_LEN,
    ),
    FundPlan(
        "DF", "地方财政配套资金", FundSource.LOCAL,
        (AidKind.LIVING, AidKind.MEDICAL, AidKind.EDUCATION), True, CITY_LEN,
    ),
    FundPlan(
        "GH", "工会帮扶经费", FundSource.UNION,
        (AidKind.EDUCATION, AidKind.TRAINING, AidKind.JOB_REFERRAL, AidKind.LEGAL_AID,
         AidKind.ACCIDENT, AidKind.NECESSITIES),
        True, PROVINCE_LEN,
    ),
    FundPlan(
        "SWN", "元旦春节送温暖资金", FundSource.HOLIDAY,
        (AidKind.HOLIDAY_VISIT, AidKind.NECESSITIES, AidKind.LIVING), False, CITY_LEN,
    ),
    FundPlan(
        "YQ", "疫情防控专项帮扶资金", FundSource.SPECIAL,
        (AidKind.MEDICAL, AidKind.LIVING, AidKind.NECESSITIES), True, PROVINCE_LEN,
    ),
    FundPlan(
        "JZ", "社会捐赠帮扶资金", FundSource.DONATION,
        (AidKind.EDUCATION, AidKind.MAJOR_ILLNESS, AidKind.MEDICAL), False, PROVINCE_LEN,
    ),
)  # fmt: skip

# Which fund pays a kind of help: (fund code, weight) pairs.
PAYERS: dict[str, tuple[tuple[str, int], ...]] = {
    AidKind.LIVING: (("ZY", 70), ("DF", 30)),
    AidKind.MEDICAL: (("ZY", 50), ("DF", 30), ("YQ", 20)),
    AidKind.EDUCATION: (("GH", 60), ("JZ", 40)),
    AidKind.ACCIDENT: (("ZY", 100),),
    AidKind.MAJOR_ILLNESS: (("JZ", 100),),
}

# The campaign's standard per kind of target: yuan and goods (DESIGN §4.3: 送温暖).
STANDARDS: dict[str, tuple[int, str]] = {
    TargetKind.FILED_HOUSEHOLD: (1_000_00, "米、油、棉被"),
    TargetKind.MODEL_WORKER: (2_000_00, "慰问信、鲜花"),
    TargetKind.GIG_WORKER: (300_00, "防寒服、保温杯"),
    TargetKind.OTHER: (500_00, "米、油"),
}
VISITORS = ("工会主席", "副主席", "帮扶干事", "社区书记", "网格员")
MODEL_TITLES = (
    ("全国劳动模范", OrganisationKind.NATIONAL),
    ("全国五一劳动奖章获得者", OrganisationKind.NATIONAL),
    ("安徽省劳动模范", OrganisationKind.PROVINCE),
    ("安徽省五一劳动奖章获得者", OrganisationKind.PROVINCE),
    ("市劳动模范", OrganisationKind.CITY),
)
BANKS = (
    ("中国工商银行", "622202"),
    ("中国农业银行", "622848"),
    ("中国银行", "621661"),
    ("中国建设银行", "621700"),
    ("交通银行", "622262"),
    ("中国邮政储蓄银行", "621799"),
    ("徽商银行", "622651"),
)
FAILURES = ("账户已销户", "户名与账号不符", "账户冻结")


@dataclass
class Actors:
    """The staff who act on the demo's money, looked up once."""

    fund_officer: User
    leader: User
    province_reviewer: User
    reviewers: dict[str, User]  # city path (and the showcase county's) -> who approves there
    showcase: str  # path of the showcase county (瑶海区)
    case_workers: dict[str, User]  # county (or industry) path -> who records visits


@dataclass
class Money:
    """What the demo's money step made, for the summary and the tests."""

    funds: dict[str, Fund] = field(default_factory=dict)
    plans: int = 0
    campaign: Campaign | None = None
    visits: int = 0
    batches: int = 0


def build(rng: random.Random, root: Organisation, today: datetime.date) -> Money:
    """The whole money step of the demo (inside the build's transaction). Each sub-step
    draws from its own generator, so that one drawing more or less leaves the others be."""
    base = rng.getrandbits(64)

    def rng_for(step: str) -> random.Random:
        return random.Random(f"{base}:{step}")

    year = today.year
    ensure_policy()
    cast = staff(root)
    money = Money()
    with acting_as(cast.fund_officer, AuditSource.CLI):
        money.funds = define_funds(cast.fund_officer, root, year)
    lines = plan(rng_for("plans"), root, year, money.funds)
    money.plans = len({file for file, _line in lines})
    write_model_workers(rng_for("model_workers"), root, year)
    with acting_as(cast.leader, AuditSource.CLI):
        money.campaign = open_campaign(cast.leader, root, money.funds["SWN"], year)
    visits = choose_visits(rng_for("visits"), money.campaign, today)
    holders = Holders.of(root)
    need = needs(holders, lines, visits, money.funds)
    with acting_as(cast.fund_officer, AuditSource.CLI):
        allocate(cast.fund_officer, holders, money.funds, year, need)
    approve(rng_for("approvals"), cast, [line for _file, line in lines])
    money.visits = write_visits(rng_for("visitors"), money.campaign, visits, cast)
    write_cards(rng_for("cards"), root)
    # The lines, cards and budgets were all written since the planner last looked: without
    # fresh statistics it takes them for empty and the payments' joins crawl.
    analyze(MODELS)
    money.batches = pay(rng_for("bank"), cast.fund_officer, root, money.funds["ZY"])
    others = [money.funds[code] for code in OTHER_PAID]
    money.batches += pay_province(rng_for("bank-other"), cast.fund_officer, root, others)
    return money


# --- who acts ----------------------------------------------------------------------------


def staff(root: Organisation) -> Actors:
    users = list(
        User.objects.filter(root.subtree_q("organisation__"), is_active=True)
        .select_related("organisation")
        .order_by("username")  # not pk: a reset keeps the pk of users named in the audit
    )

    def first(role: str, path_length: int) -> dict[str, User]:
        found: dict[str, User] = {}
        for user in users:
            org = user.organisation
            if user.role == role and org is not None and len(org.path) == path_length:
                found.setdefault(org.path, user)
        return found

    by_name = {user.username: user for user in users}
    reviewers = {
        path: user
        for path, user in first(Role.REVIEWER, CITY_LEN).items()
        if user.organisation and user.organisation.kind == OrganisationKind.CITY
    }
    yaohai = by_name["yaohai_reviewer"].organisation
    assert yaohai is not None
    # In the showcase county the other reviewer approved what is approved, so that
    # yaohai_reviewer finds the rest waiting (as with the files, see crews.showcase_crew).
    reviewers[yaohai.path] = next(
        u
        for u in users
        if u.role == Role.REVIEWER and u.organisation == yaohai and u.username != "yaohai_reviewer"
    )
    case_workers = first(Role.CASE_WORKER, COUNTY_LEN) | first(Role.CASE_WORKER, CITY_LEN)
    case_workers[yaohai.path] = by_name["yaohai_caseworker"]
    province = first(Role.REVIEWER, PROVINCE_LEN)
    return Actors(
        fund_officer=by_name["fund"],
        leader=by_name["leader"],
        province_reviewer=province[root.path],
        reviewers=reviewers,
        showcase=yaohai.path,
        case_workers=case_workers,
    )


# --- policy and funds ----------------------------------------------------------------------


def ensure_policy() -> AidPolicy:
    """The province's assistance policy with the numbers of DESIGN §4.3 (the model's
    defaults: 10 and 8 months of 低保, medical 80 % up to 16,000, accident 15 % up to
    10,000, 40,000 a household and 20,000 a person a year, > 20,000 to the province)."""
    found = AidPolicy.objects.filter(region_id=anhui.PROVINCE_REGION, name=AID_POLICY_NAME)
    policy = found.order_by("valid_from").first()
    if policy is None:
        policy = AidPolicy(
            name=AID_POLICY_NAME, region_id=anhui.PROVINCE_REGION, valid_from=anhui.POLICY_FROM
        )
        AidPolicy.objects.bulk_create([policy])  # generated data: no audit entry
    return policy


def define_funds(officer: User, root: Organisation, year: int) -> dict[str, Fund]:
    found = {}
    for plan_ in FUNDS:
        found[plan_.code] = funds.define_fund(
            officer,
            code=f"{plan_.code}-{year}",
            name=f"{year}年{plan_.name}",
            source=plan_.source,
            purposes=plan_.purposes,
            requires_file=plan_.requires_file,
            organisation=root,
        )
    return found


# --- plans -----------------------------------------------------------------------------------


def plan(
    rng: random.Random, root: Organisation, year: int, by_code: dict[str, Fund]
) -> list[tuple[int, int]]:
    """Propose plans (the real service) for a share of the filed files; choose the fund of
    each cash line. Returns (file, line) ids of the cash lines."""
    filed = list(
        HardshipFile.objects.filter(root.subtree_q("organisation__"), status=FileStatus.FILED)
        .select_related("created_by__organisation", "organisation", "household__region")
        .order_by("pk")
    )
    showcase = [f for f in filed if f.organisation.region_id == anhui.SHOWCASE_COUNTY]
    chosen = rng.sample(showcase, min(len(showcase), SHOWCASE_PLANS)) + [
        f
        for f in filed
        if f.organisation.region_id != anhui.SHOWCASE_COUNTY and rng.randrange(PLAN_SHARE) == 0
    ]
    cash: list[tuple[int, int, str]] = []
    for file in chosen:
        with acting_as(file.created_by, AuditSource.CLI):
            for line in planning.propose_plan(file.created_by, file, year):
                if line.cash and line.amount_fen > 0:
                    cash.append((file.pk, line.pk, line.kind))
    choose_funds(rng, cash, by_code)
    return [(file, line) for file, line, _kind in cash]


def choose_funds(
    rng: random.Random, lines: Sequence[tuple[int, int, str]], by_code: dict[str, Fund]
) -> None:
    """The case worker's choice of fund for each line, set-based: one UPDATE per fund,
    and an audit row per line written with INSERT … SELECT."""
    chosen: dict[int, list[int]] = defaultdict(list)
    for _file, line, kind in lines:
        payers = PAYERS[kind]
        code = rng.choices([c for c, _w in payers], weights=[w for _c, w in payers])[0]
        chosen[by_code[code].pk].append(line)
    now = timezone.now()
    for fund_id, ids in chosen.items():
        for chunk in chunks(ids, 5_000):
            lines_ = AssistanceLine.objects.filter(pk__in=chunk)
            lines_.update(fund_id=fund_id, updated_at=now)
            before = Value(None, output_field=BigIntegerField())
            audit_lines(lines_, now, fund_id=JSONArray(before, F("fund_id")))


def audit_lines(lines: Any, now: datetime.datetime, **changes: Any) -> int:
    """One audit row per line, by its planner, as planning.audit_approval writes them."""
    select = lines.annotate(
        a_at=Value(now),
        a_source=Value(AuditSource.CLI),
        a_action=Value(AuditAction.UPDATE),
        a_model=Value(AssistanceLine._meta.label_lower),
        a_object=Cast("id", CharField()),
        a_path=F("organisation__path"),
        a_changes=JSONObject(**changes),
    ).values(
        "a_at", "created_by_id", "a_source", "a_action", "a_model", "a_object", "a_path",
        "file_id", "a_changes",
    )  # fmt: skip
    columns = ["at", "actor_id", "source", "action", "model", "object_id", "org_path"]
    return insert_select(AuditEntry, [*columns, "file_id", "changes"], select.order_by())


def chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- model workers and the campaign ------------------------------------------------------------


def write_model_workers(rng: random.Random, root: Organisation, year: int) -> int:
    """Model workers (劳动模范) among the workers, for the campaign's target list."""
    span = Worker.objects.filter(root.subtree_q("organisation__")).aggregate(
        low=Min("pk"), high=Max("pk"), n=Count("pk")
    )
    if not span["n"]:
        return 0
    # Demo workers are numbered without gaps: sample numbers, not rows.
    picked = rng.sample(
        range(span["low"], span["high"] + 1), max(span["n"] // MODEL_WORKERS_PER, 1)
    )
    rows = []
    for pk, worker in enumerate(sorted(picked), start=first_free_pk(ModelWorker)):
        title, level = rng.choice(MODEL_TITLES)
        rows.append((pk, worker, title, level, rng.randint(2005, year - 1)))
    Table(ModelWorker, ("id", "worker_id", "title", "level", "year")).write(rows)
    reset_sequences([ModelWorker])
    return len(rows)


def campaign_dates(year: int) -> tuple[datetime.date, datetime.date]:
    """元旦 to the end of the Spring Festival season: 1 January to the end of February."""
    return datetime.date(year, 1, 1), datetime.date(year, 3, 1) - datetime.timedelta(days=1)


def open_campaign(leader: User, root: Organisation, fund: Fund, year: int) -> Campaign:
    starts_on, ends_on = campaign_dates(year)
    return campaigns.open_campaign(
        leader,
        name=f"{year}年元旦春节送温暖活动",
        organisation=root,
        fund=fund,
        year=year,
        starts_on=starts_on,
        ends_on=ends_on,
        standards=STANDARDS,
    )


@dataclass(frozen=True)
class PlannedVisit:
    target: int
    organisation: int
    path: str
    worker: int
    household: int | None
    file: int | None
    standard_fen: int
    goods: str
    cash_fen: int
    day: datetime.date


def choose_visits(
    rng: random.Random, campaign: Campaign, today: datetime.date
) -> list[PlannedVisit]:
    """Which targets were visited already: a different share in each city (so the
    progress page shows a spread), up to yesterday within the campaign's dates."""
    last = min(campaign.ends_on, today - datetime.timedelta(days=1))
    days = (last - campaign.starts_on).days + 1
    if days <= 0:
        return []
    shares: dict[str, int] = {}
    found = []
    targets = (
        CampaignTarget.objects.filter(campaign=campaign)
        .order_by("worker_id")
        .values_list(
            "pk", "organisation_id", "organisation__path", "worker_id", "household_id",
            "file_id", "amount_fen", "goods",
        )
    )  # fmt: skip
    for pk, org, path, worker, household, file, standard, goods in targets:
        share = shares.setdefault(path[:CITY_LEN], rng.randint(25, 75))
        if rng.randrange(100) >= share:
            continue
        # Most get the standard; some gig workers get only the goods.
        cash = 0 if standard and rng.random() < 0.1 else standard
        day = campaign.starts_on + datetime.timedelta(days=rng.randrange(days))
        found.append(
            PlannedVisit(pk, org, path, worker, household, file, standard, goods, cash, day)
        )
    return found


# --- budgets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holders:
    """The organisations that may hold a budget below the province: cities, the courier
    industry federation and counties, by path."""

    root: Organisation
    orgs: dict[str, Organisation]

    @classmethod
    def of(cls, root: Organisation) -> Holders:
        kinds = [OrganisationKind.CITY, OrganisationKind.INDUSTRY, OrganisationKind.COUNTY]
        found = Organisation.objects.filter(root.subtree_q(), kind__in=kinds).order_by("path")
        return cls(root, {o.path: o for o in found})

    def holder(self, path: str, down_to: int) -> str:
        """Whose budget pays for an organisation at ``path``: its nearest ancestor among
        the holders no deeper than the fund is allocated, else the province."""
        for length in (COUNTY_LEN, CITY_LEN):
            if length <= down_to and path[:length] in self.orgs:
                return path[:length]
        return self.root.path


def needs(
    holders: Holders,
    lines: Sequence[tuple[int, int]],
    visits: Sequence[PlannedVisit],
    by_code: dict[str, Fund],
) -> dict[tuple[int, str], int]:
    """Fen needed per (fund, paying organisation's path)."""
    down_to = {by_code[p.code].pk: p.down_to for p in FUNDS}
    found: dict[tuple[int, str], int] = defaultdict(int)
    rows = (
        AssistanceLine.objects.filter(pk__in=[line for _file, line in lines])
        .values_list("fund_id", "organisation__path")
        .annotate(total=Sum("amount_fen"))
        .order_by()
    )
    for fund_id, path, total in rows:
        found[(fund_id, holders.holder(path, down_to[fund_id]))] += total
    holiday = by_code["SWN"]
    for visit in visits:
        found[(holiday.pk, holders.holder(visit.path, down_to[holiday.pk]))] += visit.cash_fen
    return dict(found)


def with_margin(fen: int) -> int:
    """A fifth more than needed and 5,000 yuan besides, in whole thousands of yuan: every
    approval finds its money, and by the end of the year most of a budget is spent (the
    fund-execution indicators look like a real year's, not a tenth of one)."""
    return -(-fen * 6 // 5 // QIAN) * QIAN + BUFFER


def allocate(
    officer: User,
    holders: Holders,
    by_code: dict[str, Fund],
    year: int,
    need: dict[tuple[int, str], int],
) -> None:
    """Open the year's budgets, receive the money at the province and pass it down
    (province → cities → counties) through the real services, each with a margin."""
    root = holders.root
    for fund_plan in FUNDS:
        fund = by_code[fund_plan.code]
        own = {
            path: with_margin(fen)
            for (fund_id, path), fen in need.items()
            if fund_id == fund.pk and path != root.path
        }
        tops: dict[str, int] = defaultdict(int)  # cities and the industry federation
        for path, fen in own.items():
            tops[path[:CITY_LEN]] += fen
        top = funds.open_budget(officer, fund, root, year)
        reserve = with_margin(need.get((fund.pk, root.path), 0)) + RESERVE
        funds.receive(officer, top, sum(tops.values()) + reserve, memo="年度帮扶资金下达")
        for city_path, fen in sorted(tops.items()):
            city = funds.allocate(officer, top, holders.orgs[city_path], fen, memo="年度资金分配")
            for path, county_fen in sorted(own.items()):
                if len(path) == COUNTY_LEN and path.startswith(city_path):
                    org = holders.orgs[path]
                    funds.allocate(officer, city, org, county_fen, memo="年度资金分配")


# --- approval ----------------------------------------------------------------------------------


def approve(rng: random.Random, cast: Actors, lines: Sequence[int]) -> int:
    """Most lines approved by a reviewer of their city (the showcase county's by its own
    reviewer), never by their planner; what needs a higher level, and the courier
    industry's, by a reviewer of the province. One set-based call per reviewer."""
    rows = AssistanceLine.objects.filter(pk__in=lines).values_list("pk", "organisation__path")
    by_reviewer: dict[str, list[int]] = defaultdict(list)
    for pk, path in rows.order_by("pk"):
        showcase = path.startswith(cast.showcase)
        percent = SHOWCASE_APPROVED_PERCENT if showcase else APPROVED_PERCENT
        if rng.randrange(100) < percent:
            by_reviewer[cast.showcase if showcase else path[:CITY_LEN]].append(pk)
    approved = 0
    for key, ids in sorted(by_reviewer.items()):
        reviewer = cast.reviewers.get(key, cast.province_reviewer)
        with acting_as(reviewer, AuditSource.CLI):
            approved += planning.approve_lines(reviewer, ids).count
    higher = list(
        AssistanceLine.objects.filter(
            pk__in=[pk for ids in by_reviewer.values() for pk in ids], status=LineStatus.PLANNED
        ).values_list("pk", flat=True)
    )
    if higher:
        with acting_as(cast.province_reviewer, AuditSource.CLI):
            approved += planning.approve_lines(cast.province_reviewer, higher).count
    return approved


# --- visits done ------------------------------------------------------------------------------

LINE_COLUMNS = (
    "id", "worker_id", "file_id", "household_id", "organisation_id", "year", "kind", "cash",
    "amount_fen", "proposed_fen", "cap_fen", "cap_rule", "cap_params", "description",
    "fund_id", "budget_id", "status", "needs_level", "created_by_id", "approved_by_id",
    "approved_at", "paid_on",
)  # fmt: skip
ENTRY_COLUMNS = (
    "id",
    "budget_id",
    "kind",
    "amount_fen",
    "at",
    "actor_id",
    "source",
    "line_id",
    "memo",
)
VISIT_COLUMNS = (
    "id", "target_id", "visited_on", "visitors", "cash_fen", "goods", "line_id",
    "recorded_by_id", "created_at",
)  # fmt: skip


def write_visits(
    rng: random.Random, campaign: Campaign, visits: Sequence[PlannedVisit], cast: Actors
) -> int:
    """The visits done, as campaigns.record_visit leaves them: cash as a paid holiday-visit
    line with a COMMIT and a PAY on the budget above the target's union."""
    if not visits:
        return 0
    budget_of = planning.budgets_for(
        {(v.organisation, campaign.fund_id, campaign.year) for v in visits}
    )
    line_pk, entry_pk, visit_pk = (
        first_free_pk(AssistanceLine), first_free_pk(LedgerEntry), first_free_pk(Visit)
    )  # fmt: skip
    lines, entries, rows = [], [], []
    now = timezone.now()
    for v in visits:
        recorder = who_visits(cast, v.path)
        line = None
        if v.cash_fen:
            line, budget = line_pk, budget_of[(v.organisation, campaign.fund_id, campaign.year)]
            line_pk += 1
            at = timezone.make_aware(datetime.datetime.combine(v.day, datetime.time(16)))
            lines.append((
                line, v.worker, v.file, v.household, v.organisation, campaign.year,
                AidKind.HOLIDAY_VISIT, True, v.cash_fen, v.standard_fen, v.standard_fen,
                "holiday_visit", {"campaign": campaign.name}, campaign.name, campaign.fund_id,
                budget, LineStatus.PAID, planning.BASE_LEVEL, recorder.pk,
                campaign.created_by_id, at, v.day,
            ))  # fmt: skip
            for kind in (LedgerKind.COMMIT, LedgerKind.PAY):
                entries.append(
                    (entry_pk, budget, kind, v.cash_fen, now, recorder.pk, AuditSource.CLI,
                     line, campaign.name)
                )  # fmt: skip
                entry_pk += 1
        visitors = f"{recorder.organisation.name if recorder.organisation else ''}" + "、".join(
            rng.sample(VISITORS, 2)
        )
        rows.append(
            (visit_pk, v.target, v.day, visitors, v.cash_fen, v.goods, line, recorder.pk, now)
        )
        visit_pk += 1
    Table(AssistanceLine, LINE_COLUMNS).write(lines)
    Table(LedgerEntry, ENTRY_COLUMNS).write(entries)
    Table(Visit, VISIT_COLUMNS).write(rows)
    reset_sequences([AssistanceLine, LedgerEntry, Visit])
    overdrawn = [pk for pk, b in balances(set(budget_of.values())).items() if b.available < 0]
    assert not overdrawn, f"visits overdrew budgets {overdrawn}"
    return len(rows)


def who_visits(cast: Actors, path: str) -> User:
    for length in (COUNTY_LEN, CITY_LEN):
        if path[:length] in cast.case_workers:
            return cast.case_workers[path[:length]]
    return next(iter(cast.case_workers.values()))


# --- bank cards ---------------------------------------------------------------------------------


def card_number(rng: random.Random, bin_: str) -> str:
    body = bin_ + "".join(str(rng.randrange(10)) for _ in range(12))
    return body + luhn.calc_check_digit(body)


def write_cards(rng: random.Random, root: Organisation) -> int:
    """A card in the recipient's own name (实名) for most people with approved help."""
    recipients = (
        AssistanceLine.objects.filter(root.subtree_q("organisation__"), cash=True)
        .exclude(worker__bank_accounts__active=True)
        .values_list("worker_id", "worker__name")
        .distinct()
        .order_by("worker_id")
    )
    rows = []
    pk = first_free_pk(BankAccount)
    for worker, name in recipients:
        if rng.randrange(100) < NO_CARD_PERCENT:
            continue
        bank, bin_ = rng.choice(BANKS)
        rows.append((pk, worker, bank, check_card(card_number(rng, bin_)), name, True))
        pk += 1
    Table(
        BankAccount, ("id", "worker_id", "bank_name", "account_number", "holder_name", "active")
    ).write(rows)
    reset_sequences([BankAccount])
    return len(rows)


# --- payment batches ------------------------------------------------------------------------------


def pay(rng: random.Random, officer: User, root: Organisation, fund: Fund) -> int:
    """One batch of the central fund per city (and one for the courier industry) with
    approved help, exported and settled with a bank result file; a few payments fail and
    go back to the queue. (Per city rather than per county: 17 batches instead of about a
    hundred keep the demo's build time down; each batch is the same few statements.)"""
    places = (
        AssistanceLine.objects.filter(
            root.subtree_q("organisation__"), fund=fund, status=LineStatus.APPROVED
        )
        .values_list("organisation__path", flat=True)
        .distinct()
    )
    paths = sorted({path[:CITY_LEN] for path in places if len(path) >= CITY_LEN})
    orgs = Organisation.objects.in_bulk(paths, field_name="path")
    made = 0
    with acting_as(officer, AuditSource.CLI):
        for path in paths:
            made += settle(rng, officer, fund, orgs[path])
    return made


# Funds paid in one batch for the whole province: the local matching fund, the union's own,
# the special and the donated fund (the central fund is paid city by city, above).
OTHER_PAID = ("DF", "GH", "YQ", "JZ")


def pay_province(rng: random.Random, officer: User, root: Organisation, found: list[Fund]) -> int:
    """One batch per fund for the approved help of the whole province, settled with the
    bank like the central fund's, so that every fund source shows money spent."""
    made = 0
    with acting_as(officer, AuditSource.CLI):
        for fund in found:
            made += settle(rng, officer, fund, root)
    return made


def settle(rng: random.Random, officer: User, fund: Fund, organisation: Organisation) -> int:
    try:
        batched = payments.create_batch(officer, fund, organisation)
    except DomainError:
        return 0  # nobody there has a card yet
    _name, _data, _type = payments.export_batch(officer, batched.batch, "csv")
    result = bank_result(rng, batched.batch)
    payments.import_result(officer, batched.batch, "result.csv", result)
    return 1


def bank_result(rng: random.Random, batch: PaymentBatch) -> bytes:
    """What the bank sends back: paid, or failed with a reason, for each payment."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(
        ["明细号", "收款人姓名", "银行卡号", "金额", "状态", "失败原因", "银行流水号", "日期"]
    )
    rows = Payment.objects.filter(batch=batch).order_by("pk")
    day = timezone.localdate().isoformat()
    for pk, name, card, fen in rows.values_list("pk", "payee_name", "account_number", "amount_fen"):
        failed = rng.randrange(100) < FAILED_PERCENT
        writer.writerow([
            pk, name, card, f"{Decimal(fen) / 100:,.2f}", "失败" if failed else "成功",
            rng.choice(FAILURES) if failed else "", f"B{batch.pk:05d}{pk:09d}", day,
        ])  # fmt: skip
    return text.getvalue().encode("gb18030")


# --- what there is, and removing it ------------------------------------------------------------


def counts_text(root: Organisation) -> list[str]:
    lines = AssistanceLine.objects.filter(root.subtree_q("organisation__"))
    by_status = dict(lines.values_list("status").annotate(n=Count("pk")).order_by())
    statuses = ", ".join(f"{s} {by_status[s]:,}" for s in LineStatus.values if s in by_status)
    campaign = Campaign.objects.filter(root.subtree_q("organisation__")).first()
    found = [
        f"Funds {Fund.objects.filter(root.subtree_q('organisation__')).count()}; "
        f"assistance lines {sum(by_status.values()):,}: {statuses}"
    ]
    if campaign is not None:
        targets = CampaignTarget.objects.filter(campaign=campaign)
        found.append(
            f"Campaign {campaign.name}: {targets.count():,} targets, "
            f"{targets.filter(visit__isnull=False).count():,} visited"
        )
    return found


def wipe(root: Organisation) -> dict[str, int]:
    """Remove the demo's money (before its organisations and workers go)."""
    tree = Organisation.objects.filter(root.subtree_q())
    lines = AssistanceLine.objects.filter(organisation__in=tree)
    budgets = Budget.objects.filter(organisation__in=tree)
    gone: dict[str, int] = {}
    gone["Visit"] = reset.delete_rows(Visit.objects.filter(target__campaign__organisation__in=tree))
    gone["CampaignTarget"] = reset.delete_rows(
        CampaignTarget.objects.filter(campaign__organisation__in=tree)
    )
    gone["Campaign"] = reset.delete_rows(Campaign.objects.filter(organisation__in=tree))
    with ledger_unlocked():
        gone["LedgerEntry"] = reset.delete_rows(
            LedgerEntry.objects.filter(Q(budget__in=budgets) | Q(line__in=lines))
        )
    gone["Payment"] = reset.delete_rows(Payment.objects.filter(line__in=lines))
    gone["PaymentBatch"] = reset.delete_rows(PaymentBatch.objects.filter(organisation__in=tree))
    gone["AssistanceLine"] = reset.delete_rows(lines)
    gone["Budget"] = reset.delete_rows(budgets)
    gone["Fund"] = reset.delete_rows(Fund.objects.filter(organisation__in=tree))
    workers = Worker.objects.filter(organisation__in=tree)
    gone["BankAccount"] = reset.delete_rows(BankAccount.objects.filter(worker__in=workers))
    gone["ModelWorker"] = reset.delete_rows(ModelWorker.objects.filter(worker__in=workers))
    gone["AidPolicy"] = reset.delete_rows(
        AidPolicy.objects.filter(region_id=anhui.PROVINCE_REGION, name=AID_POLICY_NAME)
    )
    return gone


@contextmanager
def ledger_unlocked() -> Iterator[None]:
    """PostgreSQL refuses to delete ledger entries (a trigger): the demo's reset removes
    generated money as a whole, so it lifts the trigger for that one statement, inside
    the reset's transaction. Real money is never deleted: nothing else does this."""
    if connection.vendor != "postgresql":
        yield
        return
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    trigger = "ledger_entry_append_only"
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while foreign-key checks of this transaction wait (deferred):
        # run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


MODELS = (
    AidPolicy, Fund, Budget, LedgerEntry, AssistanceLine, BankAccount, PaymentBatch, Payment,
    ModelWorker, Campaign, CampaignTarget, Visit,
)  # fmt: skip
