"""The follow-up, supervision-task and digest pages."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gonghui.accounts.choices import Role
from gonghui.hardship.choices import FollowUpStatus
from gonghui.hardship.models import FollowUp
from gonghui.supervision import tasks
from gonghui.supervision.models import (
    Digest,
    Finding,
    FindingResult,
    SupervisionTask,
    TaskKind,
    TaskStatus,
)
from tests.cases import filed
from tests.factories import Province, user


def client_for(someone: object) -> Client:
    """A client logged in as ``someone``, reading English so tests match source strings."""
    client = Client()
    client.force_login(someone)  # type: ignore[arg-type]
    client.cookies["django_language"] = "en"
    return client


def test_the_follow_up_list_and_recording_an_outcome(province: Province) -> None:
    file = filed(province)
    day = timezone.localdate()
    late = FollowUp.objects.create(
        file=file, due_on=day - datetime.timedelta(days=3), owner=province.alice
    )
    FollowUp.objects.create(file=file, due_on=day, owner=province.bob)
    alice = client_for(province.alice)
    page = alice.get("/follow-ups/")
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 1  # hers only
    assert alice.get("/follow-ups/?all=1").context["page"].paginator.count == 2
    assert "Overdue" in page.content.decode()
    refused = alice.post(
        f"/follow-ups/{late.pk}/", {"status": "done", "done_on": day, "outcome": ""}
    )
    assert refused.status_code == 400
    done = alice.post(
        f"/follow-ups/{late.pk}/", {"status": "done", "done_on": day, "outcome": "补助已到账"}
    )
    assert done.status_code == 302
    late.refresh_from_db()
    assert late.status == FollowUpStatus.DONE and late.outcome == "补助已到账"
    scheduled = alice.post(
        f"/files/{file.pk}/follow-ups/new/",
        {"due_on": day + datetime.timedelta(days=7), "owner": province.bob.pk, "purpose": "回访"},
    )
    assert scheduled.status_code == 302
    assert FollowUp.objects.filter(file=file, owner=province.bob).count() == 2
    assert client_for(province.leo).get("/follow-ups/").status_code == 403  # no filed work


def test_assigning_a_task_and_recording_findings_on_the_pages(province: Province) -> None:
    for name in ("张伟", "李娜", "王芳"):
        filed(province, name=name)
    due = timezone.localdate() + datetime.timedelta(days=20)
    carl = client_for(province.carl)
    assert carl.get("/tasks/").status_code == 200
    made = carl.post(
        "/tasks/new/",
        {
            "kind": "spot_check",
            "title": "档案抽查",
            "organisation": province.yaohai.pk,
            "due_on": due,
            "share_percent": 30,
        },
    )
    assert made.status_code == 302
    task = SupervisionTask.objects.get()
    assert task.findings.count() == 1  # 30 % of 3 files, rounded up
    alice = client_for(province.alice)
    finding = task.findings.get()
    assert alice.post(f"/findings/{finding.pk}/", {"result": "ok"}).status_code == 302
    assert alice.post(f"/tasks/{task.pk}/submit/", {"summary": ""}).status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.FINDINGS
    assert alice.post(f"/tasks/{task.pk}/close/").status_code == 403  # not hers to close
    assert carl.post(f"/tasks/{task.pk}/close/").status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.CLOSED
    assert task.findings.get().result == FindingResult.OK
    # A sibling county's reviewer sees no task and gets 404 on it.
    jinghu_rev = client_for(user("jinghu_rev", Role.REVIEWER, province.jinghu))
    assert jinghu_rev.get("/tasks/").context["page"].paginator.count == 0
    assert jinghu_rev.get(f"/tasks/{task.pk}/").status_code == 404


def test_the_digest_page_shows_todays_digest_once(province: Province) -> None:
    alice = client_for(province.alice)
    first = alice.get("/digest/")
    assert first.status_code == 200
    assert alice.get("/digest/").status_code == 200
    assert Digest.objects.filter(user=province.alice).count() == 1


def test_the_work_queue_raises_overdue_follow_ups(province: Province) -> None:
    file = filed(province)
    today = timezone.localdate()
    FollowUp.objects.create(
        file=file, due_on=today - datetime.timedelta(days=3), owner=province.alice
    )
    page = client_for(province.alice).get(reverse("queue")).content.decode()
    assert 'id="queue-alerts"' in page and "1 follow-up" in page
    assert reverse("follow-up-list") + "?overdue=1" in page
    # Bob owns none: no alert line for him.
    other = client_for(province.bob).get(reverse("queue")).content.decode()
    assert 'id="queue-alerts"' not in other


# --- who may: SUPERVISE assigns and closes, in its subtree ------------------------------------


def test_the_task_pages_refuse_without_supervise_and_hide_tasks_outside_the_subtree(
    province: Province,
) -> None:
    filed(province)
    due = timezone.localdate() + datetime.timedelta(days=20)
    fay = user("fay", Role.FUND_OFFICER, province.anhui)
    task = tasks.assign(
        province.carl, tasks.Assignment(TaskKind.SITE_INSPECTION, "实地督查", province.yaohai, due)
    )
    post = {
        "kind": "site",
        "title": "督查",
        "organisation": province.yaohai.pk,
        "due_on": due,
        "share_percent": 30,
    }
    # Neither side of a task: no task pages at all.
    for someone in (province.audrey, fay):
        client = client_for(someone)
        assert client.get("/tasks/").status_code == 403
        assert client.post("/tasks/new/", post).status_code == 403
    # A case worker records findings but does not assign: the list without the form.
    alice = client_for(province.alice)
    listed = alice.get("/tasks/")
    assert listed.status_code == 200 and listed.context["form"] is None
    assert alice.post("/tasks/new/", post).status_code == 403
    # Yaohai's reviewer supervises, but the task came from Hefei above: not hers to close.
    assert client_for(province.rita).post(f"/tasks/{task.pk}/close/").status_code == 403
    # Wuhu's reviewer supervises too, elsewhere: the task does not exist for him, and
    # Yaohai is not a union he can assign to.
    wuhu = client_for(user("wuhu_rev", Role.REVIEWER, province.wuhu))
    assert wuhu.get(f"/tasks/{task.pk}/").status_code == 404
    assert wuhu.post(f"/tasks/{task.pk}/close/").status_code == 404
    assert wuhu.post("/tasks/new/", post).status_code == 400
    assert SupervisionTask.objects.count() == 1
    # Hefei's reviewer assigns on the page to a union below Hefei.
    made = client_for(province.carl).post("/tasks/new/", post)
    assert made.status_code == 302 and SupervisionTask.objects.count() == 2


def test_the_task_list_runs_a_constant_number_of_queries(province: Province) -> None:
    filed(province)
    due = timezone.localdate() + datetime.timedelta(days=20)

    def assign(n: int) -> None:
        for index in range(n):
            wanted = tasks.Assignment(
                TaskKind.SITE_INSPECTION, f"督查{index}", province.yaohai, due
            )
            tasks.assign(province.carl, wanted)

    carl = client_for(province.carl)
    assign(1)
    carl.get("/tasks/")  # the session is warm
    with CaptureQueriesContext(connection) as few:
        assert carl.get("/tasks/").status_code == 200
    assign(4)
    late = SupervisionTask.objects.order_by("pk").first()
    assert late is not None
    SupervisionTask.objects.filter(pk=late.pk).update(
        assigned_on=due - datetime.timedelta(days=60), due_on=due - datetime.timedelta(days=40)
    )
    with CaptureQueriesContext(connection) as more:
        page = carl.get("/tasks/")
    assert len(more.captured_queries) == len(few.captured_queries)
    assert page.context["page"].paginator.count == 5
    assert page.content.decode().count('class="overdue"') == 1


# --- overdue tasks and rectifications raise alerts --------------------------------------------


def late_task_and_rectification(p: Province) -> tuple[SupervisionTask, SupervisionTask]:
    """A site inspection Hefei gave Yaohai, due yesterday with no findings; and a spot check
    whose one problem was to be rectified by yesterday."""
    for name in ("张伟", "李娜", "王芳"):
        filed(p, name=name)
    today = timezone.localdate()
    due = today + datetime.timedelta(days=20)
    late = tasks.assign(
        p.carl, tasks.Assignment(TaskKind.SITE_INSPECTION, "实地督查", p.yaohai, due)
    )
    SupervisionTask.objects.filter(pk=late.pk).update(
        assigned_on=today - datetime.timedelta(days=30), due_on=today - datetime.timedelta(days=1)
    )
    check = tasks.assign(p.carl, tasks.Assignment(TaskKind.SPOT_CHECK, "档案抽查", p.yaohai, due))
    problem = tasks.Checked(FindingResult.PROBLEM, "缺入户照片", today + datetime.timedelta(days=7))
    finding = check.findings.get()
    tasks.record_finding(p.alice, check, problem, finding)
    tasks.submit_findings(p.alice, check)
    Finding.objects.filter(pk=finding.pk).update(rectify_by=today - datetime.timedelta(days=1))
    return late, check


def test_late_tasks_and_rectifications_raise_alerts_in_the_queue(province: Province) -> None:
    late_task_and_rectification(province)
    for someone in (province.carl, province.alice):  # the assigning and the checked side
        page = client_for(someone).get(reverse("queue")).content.decode()
        assert 'id="queue-alerts"' in page, someone
        assert "1 supervision task" in page and "1 rectification" in page, someone
        assert reverse("task-list") + "?overdue=1" in page
    # Wuhu sees none of it; the auditor is on neither side of a task.
    for someone in (province.charlie, province.audrey):
        page = client_for(someone).get(reverse("queue")).content.decode()
        assert 'id="queue-alerts"' not in page, someone


def test_late_tasks_and_rectifications_are_in_the_daily_digest(
    province: Province, settings: Any
) -> None:
    settings.LANGUAGE_CODE = "en"  # digests are built in the site's language
    late, check = late_task_and_rectification(province)
    page = client_for(province.carl).get("/digest/")
    assert page.status_code == 200
    built = Digest.objects.get(user=province.carl)
    assert built.counts["tasks"] == 1 and built.counts["rectifications"] == 1
    assert "1 supervision task is overdue." in built.text
    assert "1 rectification is past its deadline." in built.text
    assert reverse("task-detail", args=[late.pk]) in built.html
    assert reverse("task-detail", args=[check.pk]) in built.html
    assert "Rectifications past their deadline</a> (1)" in page.content.decode()
