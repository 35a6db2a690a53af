"""The indicator library on small hand-built data: every expected value is worked out by
hand in the test (in the comments), never by calling the library's own arithmetic.

The tree (tests/factories.py): 安徽 → 合肥 → 瑶海 → 瑶海 union; 安徽 → 芜湖 → 镜湖 → 镜湖 union.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import duckdb
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gonghui.assistance import funds, ledger
from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus
from gonghui.assistance.models import AssistanceLine
from gonghui.discovery import lists
from gonghui.discovery.choices import (
    CandidateStatus,
    ImportStatus,
    RuleStatus,
    RunKind,
    SourceKind,
)
from gonghui.discovery.models import (
    Candidate,
    LinkMethod,
    ListImport,
    ListRowLink,
    RosterSource,
    ScreeningRule,
    ScreeningRun,
)
from gonghui.errors import DomainError, NotAllowed
from gonghui.hardship.choices import (
    EventKind,
    ExitKind,
    FileStatus,
    FollowUpStatus,
    HardshipCategory,
    HardshipCause,
)
from gonghui.hardship.models import (
    Attachment,
    FileEvent,
    FollowUp,
    HardshipFile,
    IncomeReading,
    PeriodicReview,
    Policy,
)
from gonghui.people.choices import Relation
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import Household, HouseholdMember, Worker
from gonghui.supervision import indicators as lib
from gonghui.supervision.indicators import Period, compute, compute_periods, records
from gonghui.supervision.models import Finding, FindingResult, SupervisionTask, TaskKind
from tests.aid import build_money
from tests.cases import filed, move, open_file
from tests.factories import Province, members, worker

Y2025 = Period.year(2025)
D = datetime.date


def value(results: dict[str, dict[int, lib.Value]], code: str, org: object) -> lib.Value:
    return results[code][org.pk]  # type: ignore[attr-defined]


def line(file: HardshipFile, kind: str, **fields: object) -> AssistanceLine:
    defaults: dict[str, object] = {
        "status": LineStatus.APPROVED,
        "year": 2025,
        "amount_fen": 100_000,
        "approved_at": datetime.datetime(2025, 6, 1, 12, tzinfo=datetime.UTC),
    }
    defaults.update(fields)
    return AssistanceLine.objects.create(
        worker=file.applicant,
        file=file,
        household=file.household,
        organisation=file.organisation,
        kind=kind,
        created_by=file.created_by,
        **defaults,
    )


# --- files per 1,000 members -----------------------------------------------------------------


def test_it_counts_files_per_thousand_members_and_says_no_data_without_members(
    province: Province,
) -> None:
    p = province
    members(p, p.yaohai_union, 4)
    for _ in range(2):
        move(filed(p), filed_on=D(2025, 3, 1))
    # A file in Wuhu's county federation, whose subtree has no members at all.
    move(filed(p), filed_on=D(2025, 3, 1), organisation=p.jinghu)
    results = compute(Y2025, ["files_per_1000_members"])
    code = "files_per_1000_members"
    # 瑶海 union: 2 files / 4 members × 1000 = 500.
    assert value(results, code, p.yaohai_union) == lib.Value(Decimal("500"), 2, 4)
    assert value(results, code, p.hefei) == lib.Value(Decimal("500"), 2, 4)
    # 镜湖: a file but no members (zero denominator): no data, not 0 and not a crash.
    assert value(results, code, p.jinghu) == lib.Value(None, 1, 0)
    assert value(results, code, p.jinghu_union) == lib.Value(None, 0, 0)
    # The province: 3 files / 4 members × 1000 = 750.
    assert value(results, code, p.anhui) == lib.Value(Decimal("750"), 3, 4)
    # A real zero where there are members and no files.
    members(p, p.jinghu_union, 1)
    again = compute(Y2025, [code])
    assert value(again, code, p.jinghu_union) == lib.Value(Decimal("0"), 0, 1)


def test_an_empty_subtree_has_no_data_for_every_indicator(province: Province) -> None:
    results = compute(Y2025)
    for code, by_org in results.items():
        assert by_org[province.jinghu_union.pk].value is None, code
        assert by_org[province.jinghu_union.pk].denominator == 0, code


def test_a_file_on_record_is_one_filed_by_the_end_and_not_exited_before_the_start(
    province: Province,
) -> None:
    p = province
    members(p, p.yaohai_union, 10)
    move(filed(p), filed_on=D(2024, 5, 1))  # on record all of 2025
    move(filed(p), filed_on=D(2026, 1, 5))  # filed after the period: not counted
    move(filed(p), filed_on=D(2023, 5, 1), status=FileStatus.CLOSED, exit_on=D(2024, 12, 31))
    move(filed(p), filed_on=D(2023, 5, 1), status=FileStatus.CLOSED, exit_on=D(2025, 2, 1))
    result = compute(Y2025, ["files_per_1000_members"])["files_per_1000_members"]
    # 2 files / 10 members × 1000 = 200.
    assert result[p.yaohai.pk] == lib.Value(Decimal("200"), 2, 10)


# --- timeliness -------------------------------------------------------------------------------


def test_days_to_filing_is_the_median_and_the_share_within_the_limit(province: Province) -> None:
    p = province
    for days in (10, 20, 40):
        move(filed(p), applied_on=D(2025, 1, 1), filed_on=D(2025, 1, 1) + datetime.timedelta(days))
    move(filed(p), applied_on=D(2025, 2, 1), filed_on=D(2025, 2, 6), organisation=p.jinghu_union)
    move(filed(p), applied_on=D(2024, 1, 1), filed_on=D(2024, 12, 31))  # filed before 2025
    results = compute(Y2025, ["days_to_filing", "filed_within_limit"])
    # 瑶海: 10, 20, 40 → median 20; two of three within 30 days = 66.6667 %.
    assert value(results, "days_to_filing", p.yaohai) == lib.Value(Decimal("20"), None, 3)
    assert value(results, "filed_within_limit", p.yaohai) == lib.Value(Decimal("66.6667"), 2, 3)
    # The province: 5, 10, 20, 40 → the mean of the middle two, 15; three of four = 75 %.
    assert value(results, "days_to_filing", p.anhui) == lib.Value(Decimal("15"), None, 4)
    assert value(results, "filed_within_limit", p.anhui) == lib.Value(Decimal("75"), 3, 4)
    # 镜湖 federation: one file of 5 days.
    assert value(results, "days_to_filing", p.jinghu) == lib.Value(Decimal("5"), None, 1)


def test_days_to_first_help_counts_from_filing_to_the_first_approved_line(
    province: Province,
) -> None:
    p = province
    quick = move(filed(p), filed_on=D(2025, 5, 1))
    slow = move(filed(p), filed_on=D(2025, 3, 1))
    never = move(filed(p), filed_on=D(2025, 3, 1))
    at = datetime.datetime
    line(quick, AidKind.MEDICAL, approved_at=at(2025, 5, 11, 4, tzinfo=datetime.UTC))
    line(quick, AidKind.LIVING, approved_at=at(2025, 7, 1, 4, tzinfo=datetime.UTC))
    line(slow, AidKind.MEDICAL, approved_at=at(2025, 6, 9, 4, tzinfo=datetime.UTC))
    # A holiday visit before the household was filed is not help after filing.
    line(slow, AidKind.HOLIDAY_VISIT, approved_at=at(2025, 1, 20, 4, tzinfo=datetime.UTC))
    line(never, AidKind.MEDICAL, status=LineStatus.PLANNED, approved_at=None)
    results = compute(Y2025, ["days_to_first_help", "helped_within_limit"])
    # quick: 1 May → 11 May = 10 days; slow: 1 March → 9 June = 100 days; median 55.
    assert value(results, "days_to_first_help", p.yaohai) == lib.Value(Decimal("55"), None, 2)
    # Within 30 days: quick only, of the three filed (never helped counts as late).
    assert value(results, "helped_within_limit", p.yaohai) == lib.Value(Decimal("33.3333"), 1, 3)


# --- help that fits -------------------------------------------------------------------------


def test_help_fits_the_cause_and_deep_households_get_living_aid(province: Province) -> None:
    p = province
    ill = move(filed(p), filed_on=D(2024, 6, 1), category=HardshipCategory.DEEP)
    relative = {"filed_on": D(2024, 6, 1), "category": HardshipCategory.RELATIVE}
    school = move(filed(p), primary_cause=HardshipCause.CHILDREN_IN_SCHOOL, **relative)
    laid_off = move(filed(p), primary_cause=HardshipCause.LAID_OFF, **relative)
    move(filed(p), filed_on=D(2024, 6, 1), category=HardshipCategory.DEEP)  # no help at all
    line(ill, AidKind.MEDICAL)  # illness → medical: fits
    line(ill, AidKind.LIVING, year=2024)  # last year's living aid is not this year's
    line(school, AidKind.LIVING)  # school → living only: does not fit
    line(laid_off, AidKind.JOB_REFERRAL, cash=False, amount_fen=0)  # fits
    line(laid_off, AidKind.EDUCATION, status=LineStatus.CANCELLED)  # cancelled: not help
    results = compute(Y2025, ["help_fits_cause", "deep_with_living_aid"])
    # Helped in 2025: ill, school, laid_off; fitting: ill and laid_off → 2/3.
    assert value(results, "help_fits_cause", p.yaohai) == lib.Value(Decimal("66.6667"), 2, 3)
    # Two deep files, neither with living aid in 2025 → 0 %, a real zero (there is data).
    assert value(results, "deep_with_living_aid", p.yaohai) == lib.Value(Decimal("0"), 0, 2)
    line(ill, AidKind.LIVING, status=LineStatus.PAID)
    again = compute(Y2025, ["deep_with_living_aid"])
    assert value(again, "deep_with_living_aid", p.yaohai) == lib.Value(Decimal("50"), 1, 2)


# --- money ------------------------------------------------------------------------------------


def test_fund_execution_is_paid_over_received_per_subtree(province: Province) -> None:
    p = province
    money = build_money(p)  # 2026: province receives 1,000,000 yuan, gives Yaohai 200,000
    ledger.post(money.yaohai_budget, LedgerKind.COMMIT, 6_000_000)
    ledger.post(money.yaohai_budget, LedgerKind.PAY, 6_000_000)
    ledger.post(money.yaohai_budget, LedgerKind.REVERSE, 1_000_000)
    result = compute(Period.year(2026), ["fund_execution"])["fund_execution"]
    # 瑶海: paid 60,000 − 10,000 reversed = 50,000 of 200,000 yuan = 25 %.
    assert result[p.yaohai.pk] == lib.Value(Decimal("25"), 5_000_000, 20_000_000)
    assert result[p.hefei.pk] == lib.Value(Decimal("25"), 5_000_000, 20_000_000)
    # The province: 1,000,000 received, 200,000 passed on and received again below.
    assert result[p.anhui.pk] == lib.Value(Decimal("5"), 5_000_000, 100_000_000)
    assert result[p.wuhu.pk].value is None
    assert compute(Y2025, ["fund_execution"])["fund_execution"][p.anhui.pk].value is None


def test_compliance_is_the_share_of_paid_lines_with_no_flag(province: Province) -> None:
    p = province
    build_money(p)
    file = move(filed(p), filed_on=D(2025, 1, 1))
    paid = {"status": LineStatus.PAID, "paid_on": D(2025, 6, 1)}
    ok = line(file, AidKind.MEDICAL, **paid)
    over = line(file, AidKind.ACCIDENT, cap_fen=50_000, **paid)  # above its own cap: a flag
    line(file, AidKind.EDUCATION, status=LineStatus.APPROVED)  # not paid: not counted
    line(file, AidKind.MEDICAL, status=LineStatus.PAID, paid_on=D(2024, 12, 1))  # last year
    result = compute(Y2025, ["compliance"])["compliance"]
    assert result[p.yaohai.pk] == lib.Value(Decimal("50"), 1, 2)
    assert list(records("compliance", p.yaohai, Y2025, "numerator")) == [ok]
    assert set(records("compliance", p.yaohai, Y2025)) == {ok, over}


# --- dynamic management and supervision --------------------------------------------------------


def test_reviews_on_time_count_done_reviews_and_overdue_files(province: Province) -> None:
    p = province
    on_time = move(filed(p), review_due=D(2026, 3, 1))
    late = move(filed(p), review_due=D(2026, 5, 1))
    overdue = move(filed(p), review_due=D(2025, 9, 1))  # due in 2025, never reviewed
    move(filed(p), review_due=D(2026, 9, 1))  # next due after the period
    for file, due, done in (
        (on_time, D(2025, 2, 1), D(2025, 1, 20)),
        (late, D(2025, 4, 1), D(2025, 4, 15)),
    ):
        PeriodicReview.objects.create(
            file=file,
            due_on=due,
            done_on=done,
            reviewer=p.rita,
            per_capita_income=Decimal("500"),
            previous_category=HardshipCategory.DEEP,
            category=HardshipCategory.DEEP,
        )
    result = compute(Y2025, ["reviews_on_time"])["reviews_on_time"]
    # Due in 2025: on_time, late, overdue → 1 of 3 on time.
    assert result[p.yaohai.pk] == lib.Value(Decimal("33.3333"), 1, 3)
    assert set(records("reviews_on_time", p.yaohai, Y2025)) == {on_time, late, overdue}


def test_exits_with_evidence_relapse_and_complete_records(province: Province) -> None:
    p = province
    closed = {"status": FileStatus.CLOSED, "filed_on": D(2024, 1, 1)}
    recovered = move(filed(p), exit_kind=ExitKind.RECOVERED, exit_on=D(2025, 7, 1), **closed)
    for month in range(1, 7):
        IncomeReading.objects.create(
            file=recovered,
            month=D(2025, month, 1),
            per_capita_income=Decimal("900"),
            living_standard=Decimal("650"),
        )
    thin = move(filed(p), exit_kind=ExitKind.RECOVERED, exit_on=D(2025, 8, 1), **closed)
    IncomeReading.objects.create(
        file=thin,
        month=D(2025, 1, 1),
        per_capita_income=Decimal("900"),
        living_standard=Decimal("650"),
    )
    move(
        filed(p),
        exit_kind=ExitKind.RETIREMENT,
        exit_on=D(2025, 9, 1),
        exit_reason="退休证明",
        **closed,
    )
    move(filed(p), exit_kind=ExitKind.TRANSFER, exit_on=D(2025, 9, 1), exit_reason="", **closed)
    results = compute(Y2025, ["exits_with_evidence", "relapse_rate", "records_complete"])
    # Four exits: recovered with 6 readings ✓, recovered with 1 ✗, retirement described ✓,
    # transfer undescribed ✗ → 50 %.
    assert value(results, "exits_with_evidence", p.yaohai) == lib.Value(Decimal("50"), 2, 4)

    # Relapse: events decide (the services write them); two exited, one reopened in 2025.
    at = datetime.datetime
    for file in (recovered, thin):
        event = FileEvent.objects.create(file=file, kind=EventKind.EXITED)
        FileEvent.objects.filter(pk=event.pk).update(at=at(2024, 12, 1, tzinfo=datetime.UTC))
    event = FileEvent.objects.create(file=thin, kind=EventKind.REOPENED)
    FileEvent.objects.filter(pk=event.pk).update(at=at(2025, 3, 1, tzinfo=datetime.UTC))
    again = compute(Y2025, ["relapse_rate"])
    assert value(again, "relapse_rate", p.yaohai) == lib.Value(Decimal("50"), 1, 2)
    assert list(records("relapse_rate", p.yaohai, Y2025, "numerator")) == [thin]

    # Records complete: the four files are on record in 2025 (exited during it); none has
    # an attachment to its investigation; give one an attachment → 1 of 4.
    assert value(results, "records_complete", p.yaohai) == lib.Value(Decimal("0"), 0, 4)
    Attachment.objects.create(
        file=recovered, investigation=recovered.investigations.get(), upload="files/x.jpg"
    )
    complete = compute(Y2025, ["records_complete"])
    assert value(complete, "records_complete", p.yaohai) == lib.Value(Decimal("25"), 1, 4)


def test_follow_ups_on_time(province: Province) -> None:
    p = province
    file = filed(p)
    rows = [
        (D(2025, 3, 1), FollowUpStatus.DONE, D(2025, 2, 28)),  # on time
        (D(2025, 3, 1), FollowUpStatus.DONE, D(2025, 3, 1)),  # on the day: on time
        (D(2025, 6, 1), FollowUpStatus.DONE, D(2025, 6, 9)),  # late
        (D(2025, 9, 1), FollowUpStatus.DUE, None),  # overdue
        (D(2025, 9, 1), FollowUpStatus.MISSED, D(2025, 8, 30)),  # could not reach
        (D(2026, 1, 2), FollowUpStatus.DUE, None),  # due after the period
    ]
    for due, status, done in rows:
        FollowUp.objects.create(file=file, due_on=due, status=status, done_on=done)
    result = compute(Y2025, ["follow_ups_on_time"])["follow_ups_on_time"]
    assert result[p.yaohai_union.pk] == lib.Value(Decimal("40"), 2, 5)
    assert result[p.wuhu.pk].value is None


# --- the records behind a value -------------------------------------------------------------


def test_records_are_the_files_behind_the_value_in_the_subtree_only(province: Province) -> None:
    p = province
    members(p, p.yaohai_union, 2)
    mine = move(filed(p), filed_on=D(2025, 3, 1))
    other = move(filed(p), filed_on=D(2025, 3, 1), organisation=p.jinghu_union)
    code = "files_per_1000_members"
    assert list(records(code, p.yaohai, Y2025, "numerator")) == [mine]
    assert list(records(code, p.jinghu, Y2025, "numerator")) == [other]
    assert set(records(code, p.anhui, Y2025, "numerator")) == {mine, other}
    assert records(code, p.yaohai, Y2025, "denominator").count() == 2
    # Scoped: a user sees the records of their own subtree, not the outsider's.
    assert list(records(code, p.yaohai, Y2025, "numerator", user=p.alice)) == [mine]
    with pytest.raises(NotAllowed):
        records(code, p.yaohai, Y2025, "numerator", user=p.charlie)
    with pytest.raises(DomainError) as error:
        records("no_such_thing", p.yaohai, Y2025)
    assert error.value.field == "indicator"


def test_every_indicator_is_documented(province: Province) -> None:
    for code, indicator in lib.LIBRARY.items():
        described = indicator.as_json()
        assert described["code"] == code
        for key in ("name", "description", "unit", "numerator", "denominator"):
            assert described[key], (code, key)


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(DomainError) as error:
        Period(D(2025, 2, 1), D(2025, 1, 1))
    assert error.value.field == "end"


def test_compute_is_set_based(province: Province, django_assert_max_num_queries: object) -> None:
    """A constant number of queries whatever the number of organisations."""
    members(province, province.yaohai_union, 2)
    move(filed(province), filed_on=D(2025, 3, 1))
    with django_assert_max_num_queries(40):  # type: ignore[operator]
        compute(Y2025)


def test_a_subtree_alone_gives_the_same_values_as_the_whole_tree(province: Province) -> None:
    p = province
    members(p, p.yaohai_union, 3)
    move(filed(p), filed_on=D(2025, 3, 1))
    move(filed(p), filed_on=D(2025, 3, 1), organisation=p.jinghu_union)
    code = "files_per_1000_members"
    part = compute(Y2025, [code], root=p.hefei)[code]
    assert set(part) == {p.hefei.pk, p.yaohai.pk, p.yaohai_union.pk}
    # 1 file / 3 members × 1000 = 333.3333, in the subtree as in the whole tree.
    assert part[p.hefei.pk] == lib.Value(Decimal("333.3333"), 1, 3)
    assert compute(Y2025, [code])[code][p.hefei.pk] == part[p.hefei.pk]


# --- finding: discovery candidates -------------------------------------------------------------

NEW, CONTACTED, FILED = CandidateStatus.NEW, CandidateStatus.CONTACTED, CandidateStatus.FILED
NOT_ELIGIBLE, UNREACHABLE = CandidateStatus.NOT_ELIGIBLE, CandidateStatus.UNREACHABLE


def at(year: int, month: int, day: int, hour: int = 4) -> datetime.datetime:
    """An instant in UTC; 04:00 UTC is noon in China, the same local day."""
    return datetime.datetime(year, month, day, hour, tzinfo=datetime.UTC)


AFTER_FLAG = at(2025, 4, 1)


@pytest.fixture
def run(province: Province) -> ScreeningRun:
    rule = ScreeningRule.objects.create(
        code="test-rule", name="测试规则", status=RuleStatus.ON, definition={}
    )
    return ScreeningRun.objects.create(
        rule=rule,
        rule_version=1,
        kind=RunKind.RUN,
        organisation=province.anhui,
        created_by=province.adam,
        as_of=D(2025, 1, 1),
    )


def flag(
    run: ScreeningRun,
    who: Worker,
    union: object,
    flagged: datetime.datetime,
    status: str = NEW,
    dropped: datetime.datetime | None = None,
) -> Candidate:
    """A candidate of ``union`` for ``who``, flagged (and dropped) at the given instants."""
    candidate = Candidate.objects.create(
        worker=who,
        organisation=union,
        rule=run.rule,
        rule_version=1,
        status=status,
        found_by=run,
        dropped_at=dropped,
    )
    Candidate.objects.filter(pk=candidate.pk).update(created_at=flagged)
    return candidate


def test_candidates_contacted_and_resolved_count_the_period_s_candidates(
    province: Province, run: ScreeningRun
) -> None:
    p = province

    def someone() -> Worker:
        return worker(p.yaohai_union, p.yaohai_region)

    y = p.yaohai_union
    mine = {
        "new": flag(run, someone(), y, at(2025, 3, 1)),
        "contacted": flag(run, someone(), y, at(2025, 3, 1), CONTACTED),
        "filed": flag(run, someone(), y, at(2025, 3, 1), FILED),
        "not_eligible": flag(run, someone(), y, at(2025, 3, 1), NOT_ELIGIBLE),
        "unreachable": flag(run, someone(), y, at(2025, 3, 1), UNREACHABLE),
        # Dropped after the period: still in the queue at its end, untouched.
        "dropped_later": flag(run, someone(), y, at(2025, 3, 1), dropped=at(2026, 2, 1)),
        # Contacted, then no longer found: the outcome stays.
        "contacted_dropped": flag(run, someone(), y, at(2025, 3, 1), CONTACTED, at(2025, 5, 1)),
        # 17:00 UTC on 31 December 2024 is 01:00 on 1 January 2025 in China: in the period.
        "new_year": flag(run, someone(), y, at(2024, 12, 31, 17)),
    }
    # Left out: dropped in the period before anyone acted; flagged in 2024 (local time).
    flag(run, someone(), y, at(2025, 3, 1), dropped=at(2025, 5, 1))
    flag(run, someone(), y, at(2024, 12, 31, 12), FILED)
    theirs = flag(run, worker(p.jinghu_union, p.jinghu_region), p.jinghu_union, at(2025, 6, 1))
    Candidate.objects.filter(pk=theirs.pk).update(status=UNREACHABLE)
    results = compute(Y2025, ["candidates_contacted", "candidates_resolved"])
    # 瑶海 union: 8 candidates; acted on: contacted, filed, not eligible, unreachable,
    # contacted_dropped = 5 → 62.5 %; final: filed, not eligible, unreachable = 3 → 37.5 %.
    assert value(results, "candidates_contacted", y) == lib.Value(Decimal("62.5"), 5, 8)
    assert value(results, "candidates_resolved", y) == lib.Value(Decimal("37.5"), 3, 8)
    # 镜湖: one unreachable candidate: 100 % on both.
    assert value(results, "candidates_resolved", p.jinghu) == lib.Value(Decimal("100"), 1, 1)
    # The province: 6 of 9 acted on = 66.6667 %; 4 of 9 final = 44.4444 %.
    assert value(results, "candidates_contacted", p.anhui) == lib.Value(Decimal("66.6667"), 6, 9)
    assert value(results, "candidates_resolved", p.anhui) == lib.Value(Decimal("44.4444"), 4, 9)
    acted = {mine[k] for k in ("contacted", "filed", "not_eligible", "unreachable")}
    acted.add(mine["contacted_dropped"])
    assert set(records("candidates_contacted", p.yaohai, Y2025, "numerator")) == acted
    assert set(records("candidates_contacted", p.yaohai, Y2025)) == set(mine.values())
    # No candidate in 2024 at 芜湖 at all: no data.
    earlier = compute(Period.year(2024), ["candidates_contacted"])["candidates_contacted"]
    assert earlier[p.wuhu.pk] == lib.Value(None, 0, 0)


def test_a_file_came_from_discovery_when_its_household_was_flagged_before_it_was_opened(
    province: Province, run: ScreeningRun
) -> None:
    p = province
    opened = at(2025, 2, 1)

    def file_opened(**fields: object) -> HardshipFile:
        file = move(filed(p), filed_on=D(2025, 3, 1), **fields)
        HardshipFile.objects.filter(pk=file.pk).update(created_at=opened)
        return HardshipFile.objects.get(pk=file.pk)

    before, after = at(2025, 1, 15), at(2025, 2, 10)
    applicant_flagged = file_opened()
    flag(run, applicant_flagged.applicant, p.yaohai_union, before)
    flagged_late = file_opened()
    flag(run, flagged_late.applicant, p.yaohai_union, after)
    member_flagged = file_opened()
    spouse = worker(p.yaohai_union, p.yaohai_region, name="配偶")
    HouseholdMember.objects.create(
        household=member_flagged.household, worker=spouse, name="配偶", relation=Relation.SPOUSE
    )
    flag(run, spouse, p.wuhu, before)  # a candidate of any union counts
    dropped_before = file_opened()
    flag(run, dropped_before.applicant, p.yaohai_union, before, dropped=at(2025, 1, 20))
    dropped_after = file_opened()
    flag(run, dropped_after.applicant, p.yaohai_union, before, dropped=at(2025, 2, 20))
    file_opened(organisation=p.jinghu_union)  # no candidate at all
    last_year = move(filed(p), filed_on=D(2024, 3, 1))  # flagged, but filed in 2024
    flag(run, last_year.applicant, p.yaohai_union, at(2023, 1, 1))
    result = compute(Y2025, ["files_from_discovery"])["files_from_discovery"]
    # 瑶海 union: 5 files filed in 2025; from discovery: applicant_flagged, member_flagged,
    # dropped_after → 60 %. 镜湖 union: 0 of 1. The province: 3 of 6 = 50 %.
    assert result[p.yaohai_union.pk] == lib.Value(Decimal("60"), 3, 5)
    assert result[p.jinghu_union.pk] == lib.Value(Decimal("0"), 0, 1)
    assert result[p.anhui.pk] == lib.Value(Decimal("50"), 3, 6)
    behind = set(records("files_from_discovery", p.anhui, Y2025, "numerator"))
    assert behind == {applicant_flagged, member_flagged, dropped_after}


def test_the_missed_rate_is_the_share_of_filed_candidates_another_union_filed(
    province: Province, run: ScreeningRun
) -> None:
    p = province
    flagged = at(2025, 3, 1)

    def filed_by(union: object, opened: datetime.datetime = AFTER_FLAG) -> HardshipFile:
        file = move(filed(p), organisation=union)
        HardshipFile.objects.filter(pk=file.pk).update(created_at=opened)
        return file

    y = p.yaohai_union
    own = filed_by(y)
    flag(run, own.applicant, y, flagged)  # filed by its own union: not missed
    other = filed_by(p.jinghu_union)
    missed = flag(run, other.applicant, y, flagged)  # filed in Wuhu: missed
    above = filed_by(p.yaohai)  # the county federation is outside the union's subtree
    missed_above = flag(run, above.applicant, y, flagged)
    member_of = filed_by(p.jinghu_union)
    relative = worker(y, p.yaohai_region, name="亲属")
    HouseholdMember.objects.create(
        household=member_of.household, worker=relative, name="亲属", relation=Relation.CHILD
    )
    missed_member = flag(run, relative, y, flagged)  # filed in Wuhu as a household member
    flag(run, worker(y, p.yaohai_region), y, flagged)  # never filed: not in the denominator
    earlier = filed_by(p.jinghu_union, opened=at(2025, 1, 1))
    flag(run, earlier.applicant, y, flagged)  # filed before the flag: not "later"
    draft = open_file(p)
    HardshipFile.objects.filter(pk=draft.pk).update(created_at=AFTER_FLAG, organisation=p.jinghu)
    flag(run, draft.applicant, y, flagged)  # a file opened but not filed: not filed
    jinghu_candidate = filed_by(y)
    flag(run, jinghu_candidate.applicant, p.jinghu_union, flagged)  # Wuhu's, filed in Hefei
    below = filed_by(y)
    flag(run, below.applicant, p.yaohai, flagged)  # the county's, filed in its subtree: not
    result = compute(Y2025, ["missed_rate"])["missed_rate"]
    # 瑶海 union: filed afterwards: own, other, above, member_of = 4; only by another
    # union: other, above, member_of = 3 → 75 %. 瑶海 county adds its own candidate, filed
    # below it: 3 of 5 = 60 %. 镜湖 union: 1 of 1. The province: 4 of 6 = 66.6667 %.
    assert result[y.pk] == lib.Value(Decimal("75"), 3, 4)
    assert result[p.yaohai.pk] == lib.Value(Decimal("60"), 3, 5)
    assert result[p.jinghu_union.pk] == lib.Value(Decimal("100"), 1, 1)
    assert result[p.anhui.pk] == lib.Value(Decimal("66.6667"), 4, 6)
    assert lib.LIBRARY["missed_rate"].higher_is_better is False
    behind = set(records("missed_rate", p.hefei, Y2025, "numerator"))
    assert behind == {missed, missed_above, missed_member}
    # No candidate flagged in 2024: no data, not 0.
    assert compute(Period.year(2024), ["missed_rate"])["missed_rate"][p.anhui.pk].value is None


# --- the cross-check against external lists -----------------------------------------------------


def list_import(
    p: Province,
    finished: datetime.datetime,
    id_numbers: list[str | None],
    status: str = ImportStatus.DONE,
) -> ListImport:
    """A 低保 list import finished at ``finished``, its rows written as the import writes
    them (``rows.parquet``, the kind's schema), one row per ID number (None: no valid one)."""
    kind = SourceKind.MINIMUM_LIVING
    source, _created = RosterSource.objects.get_or_create(
        organisation=p.anhui, name="民政低保名单", defaults={"kind": kind}
    )
    imp = ListImport.objects.create(
        organisation=p.anhui,
        created_by=p.adam,
        file_name="dibao.csv",
        sha256=f"{ListImport.objects.count() + 1:064d}",
        size_bytes=1,
        file_format="csv",
        source=source,
        kind=kind,
        agency="合肥市民政局",
        period_from=D(2024, 1, 1),
        period_to=D(2025, 12, 31),
        status=status,
        finished_at=finished,
    )
    selects = []
    for row_no, number in enumerate(id_numbers, start=2):
        given = {
            "import_id": str(imp.pk),
            "row_no": str(row_no),
            "id_number": f"'{number}'" if number else "NULL",
            "name": "'某人'",
        }
        cells = [
            f"CAST({given.get(name, 'NULL')} AS {sql}) AS {name}"
            for name, sql in lists.schema(kind)
        ]
        selects.append("SELECT " + ", ".join(cells))
    target = lists.rows_path(imp.work_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(f"COPY ({' UNION ALL '.join(selects)}) TO '{target}' (FORMAT parquet)")
    return imp


def test_the_cross_check_rate_counts_filed_households_found_on_the_period_s_lists(
    province: Province,
) -> None:
    p = province

    def on_record() -> HardshipFile:
        return move(filed(p), filed_on=D(2024, 6, 1))

    applicant_listed = on_record()
    member_listed = on_record()
    spouse_id = make_id_number("340102", D(1987, 2, 3), 901)
    HouseholdMember.objects.create(
        household=member_listed.household, name="妻子", id_number=spouse_id, relation="spouse"
    )
    linked = on_record()
    son = worker(p.yaohai_union, p.yaohai_region, name="儿子")
    HouseholdMember.objects.create(
        household=linked.household, worker=son, name="儿子", relation=Relation.CHILD
    )
    listed_2024 = on_record()
    rolled_back = on_record()
    on_record()  # on no list
    move(filed(p), filed_on=D(2024, 6, 1), organisation=p.jinghu_union)  # on no list
    this_year = list_import(
        p, at(2025, 3, 1), [applicant_listed.applicant.id_number, spouse_id, None]
    )
    # The row without an ID number was linked to the son by the fuzzy linkage.
    ListRowLink.objects.create(
        list_import=this_year, row_no=4, worker=son, probability=0.97, method=LinkMethod.AUTO
    )
    list_import(p, at(2024, 5, 1), [listed_2024.applicant.id_number])
    list_import(
        p, at(2025, 4, 1), [rolled_back.applicant.id_number], status=ImportStatus.ROLLED_BACK
    )
    code = "cross_check_rate"
    before, now = compute_periods([Period.year(2024), Y2025], [code])
    # 2025: the 7 files are on record; 瑶海 union: applicant_listed, member_listed, linked
    # of 6 = 50 %; 镜湖 union 0 of 1; the province 3 of 7 = 42.8571 %.
    assert now[code][p.yaohai_union.pk] == lib.Value(Decimal("50"), 3, 6)
    assert now[code][p.jinghu_union.pk] == lib.Value(Decimal("0"), 0, 1)
    assert now[code][p.anhui.pk] == lib.Value(Decimal("42.8571"), 3, 7)
    # 2024: only the 2024 list counts: listed_2024 → 1 of 6 = 16.6667 %, 1 of 7 = 14.2857 %.
    assert before[code][p.yaohai_union.pk] == lib.Value(Decimal("16.6667"), 1, 6)
    assert before[code][p.anhui.pk] == lib.Value(Decimal("14.2857"), 1, 7)
    assert compute(Y2025, [code])[code] == now[code]
    behind = set(records(code, p.yaohai, Y2025, "numerator"))
    assert behind == {applicant_listed, member_listed, linked}
    assert records(code, p.jinghu, Y2025, "numerator").count() == 0
    assert records(code, p.anhui, Y2025).count() == 7


# --- supervision findings ------------------------------------------------------------------------


def test_findings_rectified_on_time_count_problems_due_in_the_period(province: Province) -> None:
    p = province
    task = SupervisionTask.objects.create(
        kind=TaskKind.SPOT_CHECK,
        title="2025年档案抽查",
        organisation=p.yaohai_union,
        assigned_by_organisation=p.hefei,
        assigned_by=p.carl,
        assigned_on=D(2025, 1, 10),
        due_on=D(2025, 2, 10),
    )
    rows = [
        (FindingResult.PROBLEM, D(2025, 3, 1), D(2025, 2, 28)),  # on time
        (FindingResult.PROBLEM, D(2025, 6, 1), D(2025, 6, 1)),  # on the day: on time
        (FindingResult.PROBLEM, D(2025, 4, 1), D(2025, 4, 2)),  # a day late
        (FindingResult.PROBLEM, D(2025, 5, 1), None),  # never rectified
        (FindingResult.PROBLEM, D(2026, 1, 10), D(2025, 12, 1)),  # due after the period
        (FindingResult.OK, None, None),  # no problem: nothing to rectify
    ]
    found = [
        Finding.objects.create(
            task=task, position=n, result=result, rectify_by=due, rectified_on=done
        )
        for n, (result, due, done) in enumerate(rows)
    ]
    code = "findings_rectified_on_time"
    result = compute(Y2025, [code])[code]
    # Due in 2025: four problems; two rectified by their deadline → 50 %.
    assert result[p.yaohai_union.pk] == lib.Value(Decimal("50"), 2, 4)
    assert result[p.anhui.pk] == lib.Value(Decimal("50"), 2, 4)
    assert result[p.wuhu.pk] == lib.Value(None, 0, 0)
    assert set(records(code, p.hefei, Y2025, "numerator")) == {found[0], found[1]}
    assert set(records(code, p.hefei, Y2025)) == set(found[:4])


# --- fund execution per fund source ---------------------------------------------------------------


def test_fund_execution_per_fund_source(province: Province) -> None:
    p = province
    money = build_money(p)  # 2026: central fund, province 1,000,000 yuan, Yaohai 200,000
    ledger.post(money.yaohai_budget, LedgerKind.COMMIT, 6_000_000)
    ledger.post(money.yaohai_budget, LedgerKind.PAY, 6_000_000)
    ledger.post(money.yaohai_budget, LedgerKind.REVERSE, 1_000_000)
    holiday = funds.open_budget(money.fiona, money.holiday, p.anhui, 2026)
    funds.receive(money.fiona, holiday, 10_000_000, memo="送温暖资金下达")
    ledger.post(holiday, LedgerKind.COMMIT, 2_500_000)
    ledger.post(holiday, LedgerKind.PAY, 2_500_000)
    codes = ["fund_execution", "fund_execution:central", "fund_execution:holiday"]
    results = compute(Period.year(2026), [*codes, "fund_execution:union"])
    # Central: 瑶海 50,000 of 200,000 = 25 %; the province 50,000 of 1,000,000 = 5 %.
    assert value(results, "fund_execution:central", p.yaohai) == lib.Value(
        Decimal("25"), 5_000_000, 20_000_000
    )
    assert value(results, "fund_execution:central", p.anhui) == lib.Value(
        Decimal("5"), 5_000_000, 100_000_000
    )
    # Holiday visits: the province 25,000 of 100,000 = 25 %; 瑶海 has no such budget.
    assert value(results, "fund_execution:holiday", p.anhui) == lib.Value(
        Decimal("25"), 2_500_000, 10_000_000
    )
    assert value(results, "fund_execution:holiday", p.yaohai) == lib.Value(None, 0, 0)
    # All funds: 75,000 of 1,100,000 = 6.8182 %; no union-funds budget anywhere.
    assert value(results, "fund_execution", p.anhui) == lib.Value(
        Decimal("6.8182"), 7_500_000, 110_000_000
    )
    assert value(results, "fund_execution:union", p.anhui) == lib.Value(None, 0, 0)
    # One source at a time gives the same as several at once, and the records are the
    # ledger entries of that source only.
    alone = compute(Period.year(2026), ["fund_execution:holiday"])["fund_execution:holiday"]
    assert alone == results["fund_execution:holiday"]
    paid = records("fund_execution:holiday", p.anhui, Period.year(2026), "numerator")
    assert {(e.kind, e.amount_fen) for e in paid} == {(LedgerKind.PAY, 2_500_000)}
    described = lib.LIBRARY["fund_execution:holiday"].as_json()
    assert "Holiday-visit" in described["name"] and "Holiday-visit" in described["description"]


# --- the limits are policy data -------------------------------------------------------------------


def test_the_within_limit_shares_use_the_policy_in_force_for_the_household_s_region(
    province: Province,
) -> None:
    p = province
    for days in (10, 20, 40):
        move(filed(p), applied_on=D(2025, 1, 1), filed_on=D(2025, 1, 1) + datetime.timedelta(days))
    wuhu_file = move(
        filed(p), applied_on=D(2025, 1, 1), filed_on=D(2025, 1, 21), organisation=p.jinghu_union
    )
    Household.objects.filter(pk=wuhu_file.household_id).update(region=p.jinghu_region)
    for days in (20, 40):  # filed in 2023, before any policy was in force
        move(filed(p), applied_on=D(2023, 1, 1), filed_on=D(2023, 1, 1) + datetime.timedelta(days))
    code = "filed_within_limit"

    def shares(period: Period = Y2025) -> tuple[lib.Value, lib.Value]:
        found = compute(period, [code])[code]
        return found[p.yaohai.pk], found[p.anhui.pk]

    # The province's policy, 30 days by default: 瑶海 10 and 20 of 10, 20, 40; 镜湖 20.
    assert shares() == (lib.Value(Decimal("66.6667"), 2, 3), lib.Value(Decimal("75"), 3, 4))
    # An administrator raises the province's limit to 45 days: every file is within it.
    p.policy.filing_limit_days = 45
    p.policy.save()
    assert shares() == (lib.Value(Decimal("100"), 3, 3), lib.Value(Decimal("100"), 4, 4))
    # Hefei sets 15 days for its own region from 2025: its households (瑶海 is in Hefei)
    # follow the city, 镜湖 (Wuhu) still the province: 1 of 3 and 2 of 4.
    Policy.objects.create(
        name="合肥市帮扶政策", region_id="340100", valid_from=D(2025, 1, 1), filing_limit_days=15
    )
    # A county policy that ended mid-year is not in force at the period's end.
    Policy.objects.create(
        name="瑶海区试行政策",
        region=p.yaohai_region,
        valid_from=D(2025, 1, 1),
        valid_to=D(2025, 6, 30),
        filing_limit_days=100,
    )
    assert shares() == (lib.Value(Decimal("33.3333"), 1, 3), lib.Value(Decimal("50"), 2, 4))
    # Before any policy: the default 30 days (20 within, 40 not), in the same pass.
    early, now = compute_periods([Period.year(2023), Y2025], [code])
    assert early[code][p.yaohai.pk] == lib.Value(Decimal("50"), 1, 2)
    assert now[code][p.yaohai.pk] == lib.Value(Decimal("33.3333"), 1, 3)
    assert list(records(code, p.yaohai, Y2025, "numerator").values_list("filed_on", flat=True)) == [
        D(2025, 1, 11)
    ]


def test_the_help_limit_is_policy_data_too(province: Province) -> None:
    p = province
    file = move(filed(p), filed_on=D(2025, 5, 1))
    line(file, AidKind.MEDICAL, approved_at=datetime.datetime(2025, 5, 21, 4, tzinfo=datetime.UTC))
    code = "helped_within_limit"
    # 20 days from filing to first help: within the default 30.
    assert compute(Y2025, [code])[code][p.yaohai.pk] == lib.Value(Decimal("100"), 1, 1)
    p.policy.help_limit_days = 15
    p.policy.save()
    assert compute(Y2025, [code])[code][p.yaohai.pk] == lib.Value(Decimal("0"), 0, 1)


# --- several periods in one pass -------------------------------------------------------------


def test_a_trend_costs_the_queries_of_one_period(province: Province) -> None:
    p = province
    members(p, p.yaohai_union, 4)
    for filed_on in (D(2023, 3, 1), D(2024, 3, 1), D(2025, 3, 1), D(2025, 4, 1)):
        move(filed(p), applied_on=filed_on - datetime.timedelta(days=10), filed_on=filed_on)
    years = [Period.year(year) for year in (2019, 2023, 2024, 2025)]
    with CaptureQueriesContext(connection) as one:
        compute_periods(years[-1:])
    with CaptureQueriesContext(connection) as four:
        trend = compute_periods(years)
    assert len(four.captured_queries) == len(one.captured_queries)
    code = "files_per_1000_members"
    # 2019: no member yet (they joined in 2020): no data. On record: the 2023 file in
    # 2023; 2 in 2024; all 4 in 2025. Four members: 250, 500 and 1,000 per 1,000 members.
    assert [t[code][p.anhui.pk].value for t in trend] == [
        None,
        Decimal("250"),
        Decimal("500"),
        Decimal("1000"),
    ]
    # Files filed: none in 2019 (no data), then 1, 1 and 2, each 10 days after applying.
    days = [t["days_to_filing"][p.yaohai.pk] for t in trend]
    assert days == [
        lib.Value(None, None, 0),
        lib.Value(Decimal("10"), None, 1),
        lib.Value(Decimal("10"), None, 1),
        lib.Value(Decimal("10"), None, 2),
    ]
    # Every period of the trend equals the period computed on its own.
    for period, values in zip(years, trend, strict=True):
        assert compute(period) == values
    # Asking for some organisations only gives those.
    only = compute_periods(years, [code], only=[p.hefei.pk])
    assert [set(t[code]) for t in only] == [{p.hefei.pk}] * 4
