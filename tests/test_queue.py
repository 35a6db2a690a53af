"""The work queue and file search: what they list, for whom, in a constant number of queries."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection

from gonghui.errors import Conflict
from gonghui.hardship import services
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.hardship.queue import QueueKind, queue_counts, work_queue
from gonghui.hardship.search import search_files
from tests.cases import end_notice, investigate, open_file
from tests.factories import Province

TODAY = datetime.date(2026, 11, 30)


def set_status(file: HardshipFile, status: str, **fields: object) -> None:
    HardshipFile.objects.filter(pk=file.pk).update(status=status, **fields)


def test_the_case_worker_sees_what_needs_them(province: Province) -> None:
    draft = open_file(province)
    late = open_file(province)
    HardshipFile.objects.filter(pk=late.pk).update(applied_on=TODAY - datetime.timedelta(days=9))
    HardshipFile.objects.filter(pk=draft.pk).update(applied_on=TODAY)
    review_soon = open_file(province)
    set_status(review_soon, FileStatus.FILED, review_due=TODAY + datetime.timedelta(days=10))
    overdue = open_file(province)
    set_status(overdue, FileStatus.FILED, review_due=TODAY - datetime.timedelta(days=1))
    far = open_file(province)
    set_status(far, FileStatus.FILED, review_due=TODAY + datetime.timedelta(days=200))

    reasons = {f.pk: f.queue_reason for f in work_queue(province.alice, today=TODAY)}
    assert reasons == {
        draft.pk: QueueKind.INVESTIGATE,
        late.pk: QueueKind.OVERDUE,
        review_soon.pk: QueueKind.REVIEW_DUE,
        overdue.pk: QueueKind.OVERDUE,
    }
    counts = queue_counts(province.alice, today=TODAY)
    assert counts[QueueKind.OVERDUE] == 2
    assert counts[QueueKind.INVESTIGATE] == 1
    assert counts[QueueKind.REVIEW_DUE] == 1
    only = work_queue(province.alice, kind=QueueKind.REVIEW_DUE, today=TODAY)
    assert [f.pk for f in only] == [review_soon.pk]


def test_the_reviewer_sees_notices_ended_and_files_to_approve(province: Province) -> None:
    ended = open_file(province)
    set_status(ended, FileStatus.NOTICE, notice_end=TODAY - datetime.timedelta(days=1))
    running = open_file(province)
    set_status(running, FileStatus.NOTICE, notice_end=TODAY + datetime.timedelta(days=1))
    reviewed = open_file(province)
    set_status(reviewed, FileStatus.REVIEWED)
    reasons = {f.pk: f.queue_reason for f in work_queue(province.rita, today=TODAY)}
    assert reasons[ended.pk] == QueueKind.TO_REVIEW
    assert reasons[reviewed.pk] == QueueKind.TO_APPROVE
    assert running.pk not in reasons  # nothing for the reviewer to do yet
    assert work_queue(province.charlie, today=TODAY).count() == 0  # the outsider


def test_the_queue_runs_a_constant_number_of_queries(
    province: Province, django_assert_num_queries: object
) -> None:
    def run() -> int:
        files = list(work_queue(province.alice, today=TODAY)[:50])
        for file in files:  # what a list page touches
            _ = (file.applicant.name, file.organisation.name)
        return len(files)

    open_file(province)
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert run() == 1
    for _ in range(6):
        open_file(province)
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert run() == 7


def test_search_by_name_id_phone_and_number(province: Province) -> None:
    file = open_file(province)
    person = file.applicant
    other = open_file(province)
    HardshipFile.objects.filter(pk=other.pk)  # a second file, never matched below by id
    assert list(search_files(province.alice, person.id_number)) == [file]
    assert list(search_files(province.alice, person.id_number.lower())) == [file]
    assert list(search_files(province.alice, person.phone)) == [file]
    assert list(search_files(province.alice, file.number)) == [file]
    assert set(search_files(province.alice, "张")) == {file, other}
    assert list(search_files(province.alice, "李")) == []
    assert list(search_files(province.charlie, person.id_number)) == []  # out of scope


@pytest.mark.django_db(transaction=True)
def test_two_people_approving_at_once_one_wins(province: Province) -> None:
    """Two reviewers click approve on the same file at the same moment: exactly one files
    it, the other is told who did. Real threads, real database connections."""
    file = investigate(province, open_file(province))
    file = services.submit_for_notice(province.alice, file)
    end_notice(file)
    file = services.review(province.rita, file)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(user: object) -> None:
        barrier.wait()
        try:
            services.approve(user, file)  # type: ignore[arg-type]
            outcomes.append("filed")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (province.rita, province.carl)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "filed"]
    file.refresh_from_db()
    assert file.status == FileStatus.FILED
    assert file.events.filter(kind="filed").count() == 1


def test_each_tab_lists_exactly_what_it_counts(province: Province) -> None:
    late = open_file(province)  # a draft past the 5 days: overdue, not "to investigate"
    HardshipFile.objects.filter(pk=late.pk).update(applied_on=TODAY - datetime.timedelta(days=9))
    fresh = open_file(province)
    HardshipFile.objects.filter(pk=fresh.pk).update(applied_on=TODAY)
    counts = queue_counts(province.alice, today=TODAY)
    for kind, count in counts.items():
        listed = list(work_queue(province.alice, kind=kind, today=TODAY))
        assert len(listed) == count, kind
    assert [f.pk for f in work_queue(province.alice, QueueKind.INVESTIGATE, TODAY)] == [fresh.pk]


def test_a_closed_file_with_a_follow_up_due_is_listed_once(province: Province) -> None:
    from gonghui.hardship.models import FollowUp

    file = open_file(province)
    set_status(file, FileStatus.CLOSED)
    for days in (1, 2):
        FollowUp.objects.create(file=file, due_on=TODAY - datetime.timedelta(days=days))
    listed = list(work_queue(province.alice, today=TODAY))
    assert [(f.pk, f.queue_reason) for f in listed] == [(file.pk, QueueKind.FOLLOW_UP)]
