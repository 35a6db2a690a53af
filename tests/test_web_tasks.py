"""The follow-up, supervision-task and digest pages."""

from __future__ import annotations

import datetime

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gonghui.accounts.choices import Role
from gonghui.hardship.choices import FollowUpStatus
from gonghui.hardship.models import FollowUp
from gonghui.supervision.models import Digest, FindingResult, SupervisionTask, TaskStatus
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
