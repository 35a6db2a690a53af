"""Supervision tasks: the spot check's draw, the lifecycle, overdue, who may do what (the
SUPERVISE capability within the subtree)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from gonghui.accounts.choices import ROLE_CAPABILITIES, Capability, Role
from gonghui.assistance import reports
from gonghui.audit.models import AuditEntry
from gonghui.errors import DomainError, NotAllowed
from gonghui.supervision import access, tasks
from gonghui.supervision.models import Finding, FindingResult, TaskKind, TaskStatus
from tests.cases import filed
from tests.factories import Province, user

D = datetime.date
NAMES = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴倩"]


def test_thirty_percent_of_ten_is_three_and_the_seed_draws_them_again() -> None:
    ids = list(range(101, 111))
    assert tasks.sample_size(10, 30) == 3
    assert tasks.sample_size(11, 30) == 4  # 3.3 rounds up: at least the share
    assert tasks.sample_size(1, 30) == 1
    drawn = tasks.draw(ids, 30, seed=20260310)
    assert len(drawn) == 3 and len(set(drawn)) == 3 and set(drawn) <= set(ids)
    assert tasks.draw(list(reversed(ids)), 30, seed=20260310) == drawn  # order does not matter
    assert tasks.draw(ids, 30, seed=1) != drawn or tasks.draw(ids, 30, seed=2) != drawn


def ten_filed(p: Province) -> list[int]:
    return [filed(p, name=name).pk for name in NAMES]


def spot_check(p: Province, seed: int = 7, due: D | None = None) -> tasks.SupervisionTask:
    wanted = tasks.Assignment(
        kind=TaskKind.SPOT_CHECK,
        title="2026年一季度档案抽查",
        organisation=p.yaohai,
        due_on=due or timezone.localdate() + datetime.timedelta(days=30),
        seed=seed,
    )
    return tasks.assign(p.carl, wanted)  # Carl: reviewer of Hefei, above Yaohai


def test_a_spot_check_draws_three_of_ten_files_reproducibly(province: Province) -> None:
    ids = ten_filed(province)
    task = spot_check(province)
    findings = list(task.findings.order_by("position"))
    assert len(findings) == 3
    drawn = [f.file_id for f in findings]
    assert drawn == tasks.draw(ids, 30, 7)
    assert task.population == 10
    assert tasks.redraw(task, ids) == drawn
    with pytest.raises(DomainError):
        tasks.redraw(task, ids[:9])
    assert task.status == TaskStatus.OPEN and task.assigned_by_organisation == province.hefei
    audited = AuditEntry.objects.filter(model="supervision.finding", action="create")
    assert audited.count() == 3
    assert AuditEntry.objects.filter(model="supervision.supervisiontask").count() == 1


def test_only_an_upper_union_assigns_below_itself(province: Province) -> None:
    filed(province)
    due = timezone.localdate() + datetime.timedelta(days=30)
    with pytest.raises(NotAllowed):  # a case worker does not assign
        tasks.assign(
            province.alice,
            tasks.Assignment(TaskKind.SITE_INSPECTION, "x", province.yaohai_union, due),
        )
    with pytest.raises(DomainError) as refused:  # Wuhu is not under Hefei
        tasks.assign(
            province.carl, tasks.Assignment(TaskKind.SITE_INSPECTION, "x", province.jinghu, due)
        )
    assert refused.value.field == "organisation"
    with pytest.raises(DomainError):  # nor is Hefei itself
        tasks.assign(
            province.carl, tasks.Assignment(TaskKind.SITE_INSPECTION, "x", province.hefei, due)
        )
    task = tasks.assign(
        province.leo, tasks.Assignment(TaskKind.SITE_INSPECTION, "走访", province.hefei, due)
    )
    assert task.findings.count() == 0


def test_findings_rectification_and_closing(province: Province) -> None:
    ten_filed(province)
    task = spot_check(province)
    day = timezone.localdate()
    first, second, third = task.findings.order_by("position")
    with pytest.raises(NotAllowed):  # the assigning union does not record findings
        tasks.record_finding(province.carl, task, tasks.Checked(FindingResult.OK), first)
    tasks.record_finding(province.alice, task, tasks.Checked(FindingResult.OK), first)
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS
    with pytest.raises(DomainError) as refused:
        tasks.record_finding(
            province.alice, task, tasks.Checked(FindingResult.PROBLEM, "缺入户照片"), second
        )
    assert refused.value.field == "rectify_by"
    deadline = day + datetime.timedelta(days=14)
    tasks.record_finding(
        province.alice, task, tasks.Checked(FindingResult.PROBLEM, "缺入户照片", deadline), second
    )
    with pytest.raises(DomainError) as refused:
        tasks.submit_findings(province.alice, task)
    assert "1 of the drawn files" in str(refused.value)
    tasks.record_finding(province.rita, task, tasks.Checked(FindingResult.OK), third)
    task = tasks.submit_findings(province.alice, task, "一处问题")
    assert task.status == TaskStatus.FINDINGS
    with pytest.raises(DomainError):
        tasks.close(province.carl, task)  # a problem is not rectified yet
    second.refresh_from_db()
    tasks.record_rectification(province.alice, second, day, "已补拍照片并上传")
    task.refresh_from_db()
    assert task.status == TaskStatus.RECTIFIED
    task = tasks.close(province.carl, task)
    assert task.status == TaskStatus.CLOSED and task.closed_by == province.carl


def test_overdue_when_late_or_a_rectification_is_past_its_deadline(province: Province) -> None:
    ten_filed(province)
    task = spot_check(province, due=timezone.localdate() + datetime.timedelta(days=5))
    due = task.due_on
    assert not tasks.is_overdue(task, due)
    assert tasks.is_overdue(task, due + datetime.timedelta(days=1))
    # Findings recorded with a problem due for rectification on the 20th day.
    deadline = due + datetime.timedelta(days=15)
    for n, finding in enumerate(task.findings.order_by("position")):
        checked = (
            tasks.Checked(FindingResult.PROBLEM, "问题", deadline)
            if n == 0
            else tasks.Checked(FindingResult.OK)
        )
        tasks.record_finding(province.alice, task, checked, finding)
    tasks.submit_findings(province.alice, task)
    task.refresh_from_db()
    assert not tasks.is_overdue(task, due + datetime.timedelta(days=1))  # findings are in
    assert not tasks.is_overdue(task, deadline)
    assert tasks.is_overdue(task, deadline + datetime.timedelta(days=1))
    problem = Finding.objects.get(task=task, result=FindingResult.PROBLEM)
    tasks.record_rectification(province.alice, problem, timezone.localdate(), "已整改")
    assert not tasks.is_overdue(task, deadline + datetime.timedelta(days=1))


def test_a_sibling_union_sees_none_of_the_tasks(province: Province) -> None:
    ten_filed(province)
    task = spot_check(province)
    wuhu_reviewer = user("wuhu_rev", Role.REVIEWER, province.wuhu)
    assert not tasks.SupervisionTask.objects.for_user(wuhu_reviewer).exists()
    assert not tasks.SupervisionTask.objects.for_user(province.charlie).exists()
    assert list(tasks.SupervisionTask.objects.for_user(province.alice)) == [task]
    with pytest.raises(NotAllowed):
        tasks.record_finding(
            province.charlie, task, tasks.Checked(FindingResult.OK), task.findings.first()
        )


# --- the SUPERVISE capability -----------------------------------------------------------------


def test_supervise_belongs_to_leaders_reviewers_and_administrators() -> None:
    holders = {role for role, caps in ROLE_CAPABILITIES.items() if Capability.SUPERVISE in caps}
    assert holders == {Role.LEADER, Role.REVIEWER, Role.ADMIN}


def test_whoever_supervises_may_also_read_fund_figures(province: Province) -> None:
    """The indicator records behind fund execution are ledger entries: SUPERVISE must never
    reach further than reading fund figures does."""
    for role in Role.values:
        someone = user(f"u_{role}", role, province.anhui)
        if access.may_supervise(someone):
            assert reports.may_read(someone), role


def test_without_supervise_nobody_assigns_or_closes(province: Province) -> None:
    filed(province)
    due = timezone.localdate() + datetime.timedelta(days=30)
    fay = user("fay", Role.FUND_OFFICER, province.anhui)
    for refused in (province.audrey, fay, province.alice):
        with pytest.raises(NotAllowed):
            tasks.assign(
                refused, tasks.Assignment(TaskKind.SITE_INSPECTION, "x", province.yaohai, due)
            )
    task = tasks.assign(
        province.leo, tasks.Assignment(TaskKind.SITE_INSPECTION, "省总督查", province.yaohai, due)
    )
    tasks.record_finding(province.alice, task, tasks.Checked(FindingResult.OK))
    task = tasks.submit_findings(province.alice, task, "无问题")
    # The auditor sees the task (the province's subtree) but may not close it; Hefei's
    # reviewer supervises, but below the province that assigned it; Yaohai's reviewer is
    # the checked union itself.
    for refused in (province.audrey, province.carl, province.rita):
        assert not tasks.may_close(refused, task)
        with pytest.raises(NotAllowed):
            tasks.close(refused, task)
    assert tasks.close(province.leo, task).status == TaskStatus.CLOSED


def test_a_supervisor_closes_only_what_their_union_or_one_below_it_assigned(
    province: Province,
) -> None:
    ten_filed(province)
    task = spot_check(province)  # assigned by Hefei (Carl)
    assert tasks.may_close(province.carl, task)
    assert tasks.may_close(province.leo, task)  # the province is above Hefei
    wuhu_reviewer = user("wuhu_rev", Role.REVIEWER, province.wuhu)
    assert access.may_supervise(wuhu_reviewer)
    assert not tasks.may_close(wuhu_reviewer, task)
    assert not access.may_supervise(wuhu_reviewer, province.hefei)
    with pytest.raises(NotAllowed) as refused:
        access.require_supervise(wuhu_reviewer, province.hefei)
    assert "outside your part of the tree" in str(refused.value)
