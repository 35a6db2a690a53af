"""A household from application to filing, review and exit, through the services."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from gonghui.audit.models import AuditEntry
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship import services
from gonghui.hardship.choices import (
    EventKind,
    ExitKind,
    FileStatus,
    HardshipCategory,
    HardshipCause,
    IncomeKind,
)
from gonghui.hardship.models import FollowUp, HardshipFile, Policy
from gonghui.hardship.services import Application, Line, Visit
from tests.cases import APPLIED, end_notice, filed, investigate, open_file
from tests.factories import Province


def test_it_proposes_deep_with_the_620_standard(province: Province) -> None:
    file = open_file(province)  # 18,000 / 3 / 12 = 500 < 620
    assert file.per_capita_income == Decimal("500.00")
    assert file.proposed_category == HardshipCategory.DEEP
    assert file.policy_snapshot["living_standard"] == "620.00"
    assert file.number.startswith("340102-2024-")


def test_it_walks_a_household_from_application_to_filed(province: Province) -> None:
    file = filed(province)
    file.refresh_from_db()
    assert file.status == FileStatus.FILED
    assert file.category == HardshipCategory.DEEP
    assert file.approved_by == province.rita
    assert file.review_due == services.add_months(file.filed_on, 12)  # type: ignore[arg-type]
    kinds = list(file.events.values_list("kind", flat=True))
    assert kinds[:1] == [EventKind.CREATED]
    assert kinds[-4:] == [
        EventKind.INVESTIGATED,
        EventKind.NOTICE,
        EventKind.REVIEWED,
        EventKind.FILED,
    ]
    on_timeline = set(AuditEntry.objects.filter(file_id=file.pk).values_list("model", flat=True))
    assert {"hardship.hardshipfile", "hardship.incomeline", "hardship.investigation"} <= on_timeline


def test_the_notice_lasts_five_working_days(province: Province) -> None:
    file = services.submit_for_notice(province.alice, investigate(province, open_file(province)))
    assert file.notice_start is not None and file.notice_end is not None
    from gonghui.hardship.calendar import working_days_between

    assert working_days_between(file.notice_start, file.notice_end) == 5
    with pytest.raises(DomainError) as excinfo:
        services.review(province.rita, file)  # the notice is still running
    assert excinfo.value.field == "notice_end"


def test_a_file_cannot_be_submitted_without_an_investigation(province: Province) -> None:
    file = open_file(province)
    with pytest.raises(DomainError) as excinfo:  # still a draft: not investigated
        services.submit_for_notice(province.alice, file)
    assert excinfo.value.field == "investigation"
    HardshipFile.objects.filter(pk=file.pk).update(status=FileStatus.INVESTIGATED)
    with pytest.raises(DomainError) as excinfo:
        services.submit_for_notice(province.alice, HardshipFile.objects.get(pk=file.pk))
    assert excinfo.value.field == "investigation"
    assert HardshipFile.objects.get(pk=file.pk).status == FileStatus.INVESTIGATED


def test_the_submitter_cannot_approve(province: Province) -> None:
    # Rita both submits (as if a case worker) and tries to review: refused, nothing changes.
    file = investigate(province, open_file(province))
    file = services.submit_for_notice(province.alice, file)
    end_notice(file)
    province.alice.role = "reviewer"  # even with the right role, the submitter may not
    with pytest.raises(NotAllowed):
        services.review(province.alice, file)
    assert HardshipFile.objects.get(pk=file.pk).status == FileStatus.NOTICE


def test_approval_is_at_county_level_or_above(province: Province) -> None:
    file = investigate(province, open_file(province))
    file = services.submit_for_notice(province.alice, file)
    end_notice(file)
    file = services.review(province.gina, file)  # a grassroots reviewer may review
    with pytest.raises(NotAllowed):
        services.approve(province.gina, file)
    services.approve(province.carl, file)  # the city may file


def test_the_second_of_two_approvals_is_refused(province: Province) -> None:
    file = investigate(province, open_file(province))
    file = services.submit_for_notice(province.alice, file)
    end_notice(file)
    stale = services.review(province.rita, file)
    services.approve(province.rita, stale)
    with pytest.raises(Conflict) as excinfo:
        services.approve(province.carl, stale)  # the page Carl saw was before Rita's click
    assert "rita" in str(excinfo.value)
    assert HardshipFile.objects.get(pk=file.pk).approved_by == province.rita


def test_the_outsider_cannot_touch_the_file(province: Province) -> None:
    file = open_file(province)
    with pytest.raises(NotAllowed):
        services.record_investigation(
            province.charlie, file, Visit(visited_on=APPLIED, findings="x")
        )


def test_bad_input_leaves_the_data_as_it_was(province: Province) -> None:
    file = open_file(province)
    with pytest.raises(DomainError) as excinfo:
        services.set_finances(
            province.alice,
            file,
            incomes=[Line(IncomeKind.WAGES, Decimal("900")), Line("salary", Decimal("1"))],
            expenses=[],
        )
    assert excinfo.value.field == "incomes"
    assert list(file.incomelines.values_list("amount", flat=True)) == [Decimal("18000.00")]
    with pytest.raises(DomainError) as excinfo:
        services.record_investigation(
            province.alice, file, Visit(visited_on=datetime.date(2099, 1, 1), findings="x")
        )
    assert excinfo.value.field == "visited_on"
    assert HardshipFile.objects.get(pk=file.pk).status == FileStatus.DRAFT


def test_causes_are_one_primary_and_at_most_three_secondary(province: Province) -> None:
    with pytest.raises(DomainError) as excinfo:
        services.check_causes(6, [1, 2, 3, 4])
    assert excinfo.value.field == "secondary_causes"
    with pytest.raises(DomainError):
        services.check_causes(6, [6])
    assert services.check_causes(6, [9, 1]) == [9, 1]


def test_a_later_policy_change_does_not_change_a_filed_decision(province: Province) -> None:
    file = filed(province)
    policy = Policy.objects.get(pk=province.policy.pk)
    policy.relative_multiplier = Decimal("3")
    policy.save()
    assert policy.version == 2
    file.refresh_from_db()
    assert file.policy_version == 1
    assert file.policy_snapshot["relative_multiplier"] == "2.00"
    changes = AuditEntry.objects.get(model="hardship.policy", action="update").changes
    assert changes["relative_multiplier"] == ["2.00", "3"]


def test_a_periodic_review_recomputes_under_todays_standard(province: Province) -> None:
    file = filed(province, wages="23400")  # 23,400/3/12 = 650: RELATIVE in 2024 (620)
    assert HardshipFile.objects.get(pk=file.pk).category == HardshipCategory.RELATIVE
    review = services.periodic_review(province.alice, file)
    # In 2026 Hefei's standard is 680: 650 < 680 makes the household DEEP.
    assert review.previous_category == HardshipCategory.RELATIVE
    assert review.category == HardshipCategory.DEEP
    assert HardshipFile.objects.get(pk=file.pk).category == HardshipCategory.DEEP


def test_exit_needs_six_consecutive_months_above_the_standard(province: Province) -> None:
    file = filed(province)
    months = [datetime.date(2026, m, 1) for m in range(5, 11)]
    for month in months[1:]:
        services.record_income_reading(province.alice, file, month, Decimal("700"))
    with pytest.raises(DomainError) as excinfo:
        services.exit_file(province.alice, file, ExitKind.RECOVERED, datetime.date(2026, 11, 1))
    assert "5" in str(excinfo.value)
    services.record_income_reading(province.alice, file, months[0], Decimal("690"))
    closed = services.exit_file(
        province.alice, file, ExitKind.RECOVERED, datetime.date(2026, 11, 1)
    )
    assert closed.status == FileStatus.CLOSED
    dues = list(FollowUp.objects.filter(file=file).values_list("due_on", flat=True))
    assert dues == [
        datetime.date(2027, 2, 1),
        datetime.date(2027, 5, 1),
        datetime.date(2027, 11, 1),
    ]


def test_a_closed_file_reopens_with_its_history(province: Province) -> None:
    file = filed(province)
    services.exit_file(
        province.alice, file, ExitKind.STABILISED, datetime.date(2026, 1, 5), reason="低保兜底"
    )
    events_before = file.events.count()
    reopened = services.reopen(province.bob, file, reason="丈夫再次住院")
    assert reopened.status == FileStatus.DRAFT
    assert reopened.reopen_count == 1
    assert reopened.events.count() == events_before + 1
    assert reopened.events.filter(kind=EventKind.EXITED).exists()
    with pytest.raises(DomainError) as excinfo:  # the old visit does not count again
        services.submit_for_notice(province.bob, reopened)
    assert excinfo.value.field == "investigation"


def test_one_open_file_per_household(province: Province) -> None:
    file = open_file(province)
    with pytest.raises(DomainError) as excinfo:
        services.open_application(
            province.alice,
            Application(
                household=file.household,
                applicant=file.applicant,
                primary_cause=HardshipCause.LAID_OFF,
                applied_on=APPLIED,
            ),
        )
    assert excinfo.value.field == "household"


def test_a_money_line_names_only_a_member_of_the_household(province: Province) -> None:
    file = open_file(province)
    stranger = open_file(province).household.members.first()
    assert stranger is not None
    with pytest.raises(DomainError) as excinfo:
        services.set_finances(
            province.alice,
            file,
            incomes=[Line(IncomeKind.WAGES, Decimal("100"), member_id=stranger.pk)],
            expenses=[],
        )
    assert excinfo.value.field == "incomes"
