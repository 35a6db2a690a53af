"""The indicator library on small hand-built data: every expected value is worked out by
hand in the test (in the comments), never by calling the library's own arithmetic.

The tree (tests/factories.py): 安徽 → 合肥 → 瑶海 → 瑶海 union; 安徽 → 芜湖 → 镜湖 → 镜湖 union.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from gonghui.assistance import ledger
from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus
from gonghui.assistance.models import AssistanceLine
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
)
from gonghui.people.models import Membership
from gonghui.supervision import indicators as lib
from gonghui.supervision.indicators import Period, compute, records
from tests.aid import build_money
from tests.cases import filed
from tests.factories import Province, worker

Y2025 = Period.year(2025)
D = datetime.date


def move(file: HardshipFile, **fields: object) -> HardshipFile:
    """Hand-set a file's dates or organisation (the services stamp today)."""
    HardshipFile.objects.filter(pk=file.pk).update(**fields)
    return HardshipFile.objects.get(pk=file.pk)


def members(p: Province, union: object, count: int) -> None:
    for _ in range(count):
        person = worker(p.yaohai_union, p.yaohai_region)
        Membership.objects.create(worker=person, organisation=union, since=D(2020, 1, 1))


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
