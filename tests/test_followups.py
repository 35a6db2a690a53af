"""Follow-ups: after a payment (once per file and batch), at review time, by hand; the
outcome; overdue on given dates; the daily digest, idempotent."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from gonghui.assistance import payments, planning
from gonghui.assistance.choices import AidKind
from gonghui.audit.models import AuditEntry
from gonghui.errors import Conflict, DomainError
from gonghui.hardship import services
from gonghui.hardship.choices import FollowUpStatus, HardshipCategory
from gonghui.hardship.models import FileEvent, FollowUp, HardshipFile
from gonghui.supervision import digest, followups
from gonghui.supervision.models import Digest, FollowUpPlan, FollowUpReason
from tests.aid import YEAR
from tests.cases import filed
from tests.factories import Province
from tests.test_payments import exported, result_csv, scene

D = datetime.date


def test_one_follow_up_per_file_and_batch_not_per_line(province: Province) -> None:
    s = scene(province)  # 张伟 and 李娜, one line each, both with a card
    # A second line for 张伟's file in the same batch: still one follow-up for the file.
    first = s.lines[0]
    assert first.file is not None
    extra = planning.add_line(
        province.alice,
        first.file,
        planning.LineInput(kind=AidKind.MEDICAL, amount_fen=500_00, fund=s.money.fund),
        YEAR,
    )
    planning.approve_line(province.rita, extra)
    batch = exported(province, s.money)
    assert batch.payments.count() == 3
    report = payments.import_result(s.money.fred, batch, "r.csv", result_csv(batch))
    assert report.paid == 3
    plans = FollowUpPlan.objects.filter(batch=batch)
    assert plans.count() == 2
    assert set(plans.values_list("file_id", flat=True)) == {s.lines[0].file_id, s.lines[1].file_id}
    due = services.add_months(timezone.localdate(), 1)
    for plan in plans.select_related("follow_up", "file"):
        assert plan.reason == FollowUpReason.PAYMENT
        assert plan.follow_up.due_on == due
        assert plan.follow_up.owner_id == plan.file.created_by_id == province.alice.pk
        assert plan.follow_up.status == FollowUpStatus.DUE
    # Audited row by row, in SQL.
    ids = {str(pk) for pk in plans.values_list("follow_up_id", flat=True)}
    created = AuditEntry.objects.filter(model="hardship.followup", action="create")
    assert set(created.values_list("object_id", flat=True)) >= ids
    assert AuditEntry.objects.filter(model="supervision.followupplan").count() == 2
    # The same result again changes nothing.
    again = payments.import_result(s.money.fred, batch, "r.csv", result_csv(batch))
    assert again.already_imported
    assert FollowUpPlan.objects.filter(batch=batch).count() == 2
    assert followups.after_payment(batch, s.money.fred, timezone.now()) == 0
    assert FollowUp.objects.count() == 2


def test_a_review_that_changes_the_category_schedules_a_follow_up(province: Province) -> None:
    file = filed(province)
    same = services.periodic_review(province.rita, file)
    assert same.category == same.previous_category
    assert not FollowUpPlan.objects.filter(review=same).exists()  # nothing changed
    # Recorded as relative hardship before: the review finds it deep again.
    HardshipFile.objects.filter(pk=file.pk).update(category=HardshipCategory.RELATIVE)
    file.refresh_from_db()
    changed = services.periodic_review(province.rita, file)
    assert (changed.previous_category, changed.category) == ("relative", same.category)
    plan = FollowUpPlan.objects.get(review=changed)
    assert plan.reason == FollowUpReason.REVIEW
    # Reviews every 12 months: the follow-up is 6 months after the review.
    assert plan.follow_up.due_on == services.add_months(changed.done_on, 6)
    assert plan.follow_up.owner == province.rita


def test_a_case_worker_schedules_one_by_hand_and_records_the_outcome(
    province: Province,
) -> None:
    file = filed(province)
    day = timezone.localdate()
    due = day + datetime.timedelta(days=10)
    wanted = followups.Manual(file, due, province.bob, "  看望并核实就医情况 ")
    follow_up = followups.schedule(province.alice, wanted)
    plan = followups.plan_of(follow_up)
    assert plan is not None and plan.reason == FollowUpReason.MANUAL
    assert plan.purpose == "看望并核实就医情况" and follow_up.owner == province.bob
    with pytest.raises(DomainError) as refused:
        followups.schedule(province.alice, followups.Manual(file, due, province.charlie, "x"))
    assert refused.value.field == "owner"  # Charlie (Wuhu) cannot see the file
    with pytest.raises(DomainError) as refused:
        followups.schedule(province.alice, followups.Manual(file, due, province.bob, " "))
    assert refused.value.field == "purpose"
    with pytest.raises(DomainError) as refused:
        followups.record_outcome(province.bob, follow_up, FollowUpStatus.MISSED, day, "")
    assert refused.value.field == "outcome"
    done = followups.record_outcome(
        province.bob, follow_up, FollowUpStatus.MISSED, day, "电话无人接听"
    )
    assert (done.status, done.done_on, done.outcome) == (FollowUpStatus.MISSED, day, "电话无人接听")
    assert FileEvent.objects.filter(file=file, kind="follow_up").count() == 1
    with pytest.raises(Conflict):
        followups.record_outcome(province.bob, follow_up, FollowUpStatus.DONE, day, "again")


def test_overdue_means_due_and_past_the_due_day(province: Province) -> None:
    file = filed(province)
    due = FollowUp.objects.create(file=file, due_on=D(2026, 3, 10), owner=province.alice)
    assert not followups.is_overdue(due, D(2026, 3, 10))  # due today is not late yet
    assert followups.is_overdue(due, D(2026, 3, 11))
    FollowUp.objects.filter(pk=due.pk).update(status=FollowUpStatus.DONE)
    due.refresh_from_db()
    assert not followups.is_overdue(due, D(2026, 4, 1))


def test_the_digest_counts_what_is_overdue_and_is_built_once(province: Province) -> None:
    file = filed(province)
    HardshipFile.objects.filter(pk=file.pk).update(review_due=D(2026, 3, 8))
    for day in (D(2026, 3, 1), D(2026, 3, 5), D(2026, 3, 20)):
        FollowUp.objects.create(file=file, due_on=day, owner=province.alice)
    today = D(2026, 3, 10)
    alerts = digest.overdue_for(province.alice, today)
    assert alerts.count(digest.FOLLOW_UPS) == 2  # 1 and 5 March; 20 March is not due yet
    assert [i.day for i in alerts.lists[digest.FOLLOW_UPS]] == [D(2026, 3, 1), D(2026, 3, 5)]
    # Filed in 2024 with yearly reviews: the review fell due in 2025.
    assert alerts.count(digest.REVIEWS) == 1
    assert digest.overdue_for(province.charlie, today).total == 0  # Wuhu sees none of it
    built = digest.daily(province.alice, today)
    assert built is not None and built.counts["follow_ups"] == 2
    # Digests are written in the site's language (Chinese), whatever the request's.
    assert built.language == "zh-hans" and "2项回访已逾期。" in built.text
    assert "<li>" in built.html
    # Building again, for her or for everyone, keeps the one digest of the day.
    again = digest.daily(province.alice, today)
    assert again is not None and again.pk == built.pk
    first_run = digest.build_all(today)
    assert digest.build_all(today) == 0
    assert Digest.objects.filter(day=today).count() == first_run + 1
    # The set-based build agrees with the one-user view.
    assert digest.gather([province.alice], today)[province.alice.pk].counts == alerts.counts


def test_the_digest_command_builds_every_staff_user_once(
    province: Province, tmp_path: object
) -> None:
    from django.core.management import call_command

    call_command("digest", "--date", "2026-03-10", "--out", str(tmp_path))
    count = Digest.objects.filter(day=D(2026, 3, 10)).count()
    assert count == digest.staff_users().count()
    call_command("digest", "--date", "2026-03-10", "--user", "alice")
    assert Digest.objects.filter(day=D(2026, 3, 10)).count() == count
    assert (tmp_path / "alice-2026-03-10.txt").exists()  # type: ignore[operator]
