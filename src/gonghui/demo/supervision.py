"""Supervision tasks (督查) of the last months: the province's spot checks of every city and
its site inspections of a few, and the cities' spot checks of some of their counties, with
the findings recorded, the problems rectified on time, late or not yet, and tasks closed.

The tasks lie in the past, which the service refuses to create (a due date in the past, a
check recorded back then), so they are written as rows, as
:mod:`gonghui.supervision.tasks` would have left them: the spot check's files drawn with
``tasks.draw`` from the files filed on the day of assignment (its fingerprint kept, so a
redraw compares), findings and rectifications by the checked union's case workers, tasks
assigned and closed by the upper union's leaders and reviewers. The fixed logins find work:
合肥 has just given 瑶海 a spot check to do.
"""

from __future__ import annotations

import datetime
import random
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.models import Organisation, subtree_upper_bound
from gonghui.supervision import tasks as service
from gonghui.supervision.models import (
    Finding,
    FindingResult,
    SupervisionTask,
    TaskKind,
    TaskStatus,
)

from . import anhui
from .events import stamp
from .writer import Table, first_free_pk, reset_sequences

DAY = datetime.timedelta(days=1)
PROVINCE_SHARE = 10  # the province checks a tenth of each city's filed files
CITY_SHARE = service.DEFAULT_SHARE  # a city checks 30 % of a county's
COUNTIES_PER_CITY = 2
SITE_INSPECTIONS = 4
PROBLEM_SHARE = 0.08  # checked files with a problem
RECTIFY_DAYS = 30
LATE_FINDINGS = 0.12  # tasks whose findings are still not in after their due date

PROBLEMS = (
    "入户调查照片缺失，无法核实家庭居住情况",
    "收入核算未附刚性支出凭证",
    "公示材料未存档，公示期无法核实",
    "家庭成员信息与户籍登记不一致",
    "年度复核超期未开展",
    "申请人收入承诺书签字不全",
)
SITE_POINTS = (
    "服务中心帮扶台账更新不及时",
    "困难职工档案柜未上锁，个人信息保护不到位",
    "送温暖慰问签收单不全",
    "帮扶资金发放未留存集体研究记录",
    "服务窗口未公示帮扶政策及办事流程",
)
EVIDENCE = (
    "已补充入户照片并更新档案",
    "已补齐相关凭证，经复核无误",
    "已重新组织公示并存档",
    "已完成整改，整改报告报上级工会备案",
)


@dataclass
class Cast:
    """Who acts in the demo's supervision, by organisation path."""

    leader: User
    province_reviewer: User
    reviewers: dict[str, User]  # city path -> who assigns and closes for the city
    case_workers: dict[str, User]  # city or county path -> who records findings there


class Filed:
    """The files filed so far, by organisation path: a spot check draws from those of the
    checked union's subtree that were filed on the day of assignment."""

    def __init__(
        self, rows: Iterable[tuple[int, str, datetime.date | None, datetime.date | None]]
    ) -> None:
        # id, path, filed on (always set: the query asks for it), exit on
        self.rows = sorted(
            ((pk, path, filed, exit_on) for pk, path, filed, exit_on in rows if filed),
            key=lambda row: row[1],
        )
        self.paths = [row[1] for row in self.rows]

    def on(self, organisation: Organisation, day: datetime.date) -> list[int]:
        first = bisect_left(self.paths, organisation.path)
        last = bisect_left(self.paths, subtree_upper_bound(organisation.path))
        return sorted(
            pk
            for pk, _path, filed, exit_on in self.rows[first:last]
            if filed <= day and (exit_on is None or exit_on > day)
        )


@dataclass
class Written:
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    findings: list[tuple[Any, ...]] = field(default_factory=list)


def build(rng: random.Random, root: Organisation, today: datetime.date) -> int:
    """The tasks and their findings; returns how many tasks."""
    cast = _cast(root)
    cities = list(
        Organisation.objects.filter(parent=root, kind=OrganisationKind.CITY).order_by("path")
    )
    counties = list(
        Organisation.objects.filter(root.subtree_q(), kind=OrganisationKind.COUNTY).order_by("path")
    )
    filed = Filed(
        HardshipFile.objects.filter(
            root.subtree_q("organisation__"),
            status__in=[FileStatus.FILED, FileStatus.CLOSED],
            filed_on__isnull=False,
        ).values_list("pk", "organisation__path", "filed_on", "exit_on")
    )
    maker = TaskMaker(
        rng, today, cast, filed, first_free_pk(SupervisionTask), first_free_pk(Finding)
    )
    # The province checked every city about 200 days ago and inspected a few about 130 days
    # ago (so the deadlines of their problems have passed); the cities checked some
    # counties in the last weeks.
    check_day = today - rng.randint(195, 205) * DAY
    visit_day = today - rng.randint(125, 135) * DAY
    for city in cities:
        maker.spot_check(root, city, check_day + rng.randint(0, 6) * DAY, 45, PROVINCE_SHARE)
    for city in rng.sample(cities, min(SITE_INSPECTIONS, len(cities))):
        maker.site_inspection(root, city, visit_day + rng.randint(0, 10) * DAY, 30)
    for city in cities:
        own = [c for c in counties if c.path.startswith(city.path)]
        showcase = [c for c in own if c.region_id == anhui.SHOWCASE_COUNTY]
        others = [c for c in own if c not in showcase]
        for county in rng.sample(others, min(COUNTIES_PER_CITY, len(others))):
            assigned = today - rng.randint(20, 75) * DAY
            maker.spot_check(city, county, assigned, 30, CITY_SHARE)
        for county in showcase:  # work for yaohai_caseworker: just assigned, not begun
            assigned = today - 8 * DAY
            maker.spot_check(city, county, assigned, 30, CITY_SHARE, begun=False)
    Table(SupervisionTask, TASK_COLUMNS).write(maker.written.tasks)
    Table(Finding, FINDING_COLUMNS).write(maker.written.findings)
    reset_sequences([SupervisionTask, Finding])
    return len(maker.written.tasks)


def _cast(root: Organisation) -> Cast:
    users = list(
        User.objects.filter(root.subtree_q("organisation__"), is_active=True)
        .select_related("organisation")
        .order_by("username")
    )
    by_name = {user.username: user for user in users}

    def first(role: str, kind: str) -> dict[str, User]:
        found: dict[str, User] = {}
        for user in users:
            org = user.organisation
            if user.role == role and org is not None and org.kind == kind:
                found.setdefault(org.path, user)
        return found

    reviewers = first(Role.REVIEWER, OrganisationKind.CITY)
    hefei = by_name["hefei_reviewer"]
    assert hefei.organisation is not None
    reviewers[hefei.organisation.path] = hefei
    case_workers = first(Role.CASE_WORKER, OrganisationKind.CITY) | first(
        Role.CASE_WORKER, OrganisationKind.COUNTY
    )
    yaohai = by_name["yaohai_caseworker"]
    assert yaohai.organisation is not None
    case_workers[yaohai.organisation.path] = yaohai
    province = first(Role.REVIEWER, OrganisationKind.PROVINCE)
    return Cast(by_name["leader"], province[root.path], reviewers, case_workers)


@dataclass
class TaskMaker:
    rng: random.Random
    today: datetime.date
    cast: Cast
    filed: Filed
    next_task: int
    next_finding: int
    written: Written = field(default_factory=Written)

    def assigner(self, by: Organisation) -> User:
        if by.parent_id is None:
            return self.cast.leader
        return self.cast.reviewers.get(by.path, self.cast.province_reviewer)

    def closer(self, by: Organisation) -> User:
        if by.parent_id is None:
            return self.cast.province_reviewer
        return self.assigner(by)

    def recorder(self, target: Organisation) -> User:
        return self.cast.case_workers[target.path]

    # --- the two kinds of task ---------------------------------------------------------------

    def spot_check(
        self,
        by: Organisation,
        target: Organisation,
        assigned: datetime.date,
        days: int,
        share: int,
        begun: bool = True,
    ) -> None:
        population = self.filed.on(target, assigned)
        if not population:
            return  # the service refuses a spot check of a union with no filed file
        seed = self.rng.getrandbits(62)
        drawn = service.draw(population, share, seed)
        task = Task(
            TaskKind.SPOT_CHECK,
            f"{assigned.year}年度困难职工档案抽查（{target.name}）",
            f"按{share}%比例随机抽取已建档档案，重点核查收入核算、入户调查及公示材料。",
            by, target, assigned, assigned + days * DAY, share, seed, len(population),
            service.fingerprint(population),
        )  # fmt: skip
        self.carry_out(task, [(pk, "") for pk in drawn], begun)

    def site_inspection(
        self, by: Organisation, target: Organisation, assigned: datetime.date, days: int
    ) -> None:
        task = Task(
            TaskKind.SITE_INSPECTION,
            f"{assigned.year}年帮扶服务中心规范化建设实地督查（{target.name}）",
            "实地查看服务中心台账、档案管理、资金发放及政策公示情况。",
            by, target, assigned, assigned + days * DAY, service.DEFAULT_SHARE, 0, 0, "",
        )  # fmt: skip
        points = self.rng.sample(SITE_POINTS, self.rng.randint(2, 3))
        self.carry_out(task, [(None, point) for point in points], True)

    # --- what happened to it -------------------------------------------------------------------

    def carry_out(self, task: Task, items: Sequence[tuple[int | None, str]], begun: bool) -> None:
        """Findings up to today: all in by the due day (or late), some still being checked,
        or none yet; then rectifications and, for some, the closing."""
        rng, today = self.rng, self.today
        task.pk, self.next_task = self.next_task, self.next_task + 1
        recorder, last_day = self.recorder(task.organisation), today - DAY
        if not begun or task.assigned >= last_day:
            checked_until, task.status = None, TaskStatus.OPEN
        elif task.due >= today or rng.random() < LATE_FINDINGS:
            # Still at it: half the items checked so far (or none: findings late).
            checked_until = last_day if rng.random() < 0.6 else None
            task.status = TaskStatus.IN_PROGRESS if checked_until else TaskStatus.OPEN
        else:
            late = rng.random() < 0.2
            task.findings_on = min(
                task.due + (rng.randint(1, 15) if late else -rng.randint(0, 10)) * DAY, last_day
            )
            task.findings_on = max(task.findings_on, task.assigned + DAY)
            checked_until, task.status = task.findings_on, TaskStatus.FINDINGS
        done = len(items) if task.status == TaskStatus.FINDINGS else len(items) // 2
        problems = 0
        for position, (file_pk, point) in enumerate(items, start=1):
            row = FindingRow(file_pk, position)
            if checked_until is not None and position <= done:
                problems += self.check(row, point, task.assigned, checked_until, recorder)
            self.add_finding(task, row)
        if task.status == TaskStatus.FINDINGS:
            task.summary = f"共检查{len(items)}项，发现问题{problems}个，已通知限期整改。"
            self.settle(task)
        self.add_task(task)

    def check(
        self,
        row: FindingRow,
        point: str,
        assigned: datetime.date,
        until: datetime.date,
        recorder: User,
    ) -> int:
        """One item checked between the assignment and ``until``; 1 for a problem."""
        rng = self.rng
        span = max((until - assigned).days, 1)
        row.checked_on = min(assigned + rng.randint(1, span) * DAY, until)
        row.checked_by = recorder.pk
        # A point noted on a site inspection is a problem; a drawn file may be in order.
        if not point and rng.random() >= PROBLEM_SHARE:
            row.result = FindingResult.OK
            return 0
        row.result = FindingResult.PROBLEM
        row.description = point or rng.choice(PROBLEMS)
        row.rectify_by = row.checked_on + RECTIFY_DAYS * DAY
        draw = rng.random()
        if draw < 0.7:
            day = row.rectify_by - rng.randint(0, RECTIFY_DAYS - 2) * DAY
        elif draw < 0.85:
            day = row.rectify_by + rng.randint(1, 30) * DAY
        else:
            return 1  # not rectified yet
        if day < self.today:
            row.rectified_on, row.rectified_by = day, recorder.pk
            row.evidence = rng.choice(EVIDENCE)
        return 1

    def settle(self, task: Task) -> None:
        """As the service settles: every problem rectified → rectified; then the assigning
        side closes most of the tasks with nothing left open."""
        findings = task.findings
        problems = [f for f in findings if f.result == FindingResult.PROBLEM]
        open_problems = [f for f in problems if f.rectified_on is None]
        if problems and not open_problems:
            task.status = TaskStatus.RECTIFIED
        if open_problems or self.rng.random() < 0.35:
            return
        assert task.findings_on is not None
        ready = max([task.findings_on, *(f.rectified_on for f in problems if f.rectified_on)])
        closed = ready + self.rng.randint(1, 12) * DAY
        if closed < self.today:
            task.status, task.closed_on = TaskStatus.CLOSED, closed
            task.closed_by = self.closer(task.assigned_by).pk

    # --- rows -------------------------------------------------------------------------------------

    def add_finding(self, task: Task, row: FindingRow) -> None:
        row.pk, self.next_finding = self.next_finding, self.next_finding + 1
        task.findings.append(row)
        self.written.findings.append(row.values(task.pk))

    def add_task(self, task: Task) -> None:
        self.written.tasks.append(task.values(self.assigner(task.assigned_by).pk, self.today))


@dataclass
class FindingRow:
    file: int | None
    position: int
    pk: int = 0
    result: str = FindingResult.PENDING
    description: str = ""
    checked_on: datetime.date | None = None
    checked_by: int | None = None
    rectify_by: datetime.date | None = None
    rectified_on: datetime.date | None = None
    evidence: str = ""
    rectified_by: int | None = None

    def values(self, task: int) -> tuple[Any, ...]:
        return (
            self.pk, task, self.file, self.position, self.result, self.description,
            self.checked_on, self.checked_by, self.rectify_by, self.rectified_on,
            self.evidence, self.rectified_by,
        )  # fmt: skip


@dataclass
class Task:
    kind: str
    title: str
    instructions: str
    assigned_by: Organisation
    organisation: Organisation
    assigned: datetime.date
    due: datetime.date
    share: int
    seed: int
    population: int
    digest: str
    pk: int = 0
    status: str = TaskStatus.OPEN
    summary: str = ""
    findings_on: datetime.date | None = None
    closed_on: datetime.date | None = None
    closed_by: int | None = None
    findings: list[FindingRow] = field(default_factory=list)

    def values(self, assigner: int, today: datetime.date) -> tuple[Any, ...]:
        moments = [
            self.assigned, self.findings_on, self.closed_on,
            *(f.checked_on for f in self.findings), *(f.rectified_on for f in self.findings),
        ]  # fmt: skip
        last = max(day for day in moments if day is not None)
        return (
            self.pk, self.kind, self.title, self.instructions, self.organisation.pk,
            self.assigned_by.pk, assigner, self.assigned, self.due, self.share, self.seed,
            self.population, self.digest, self.status, self.summary, self.findings_on,
            self.closed_on, self.closed_by, stamp(self.assigned, 9), stamp(min(last, today), 16),
        )  # fmt: skip


MODELS = (SupervisionTask, Finding)


def counts_text(root: Organisation) -> str:
    tasks = SupervisionTask.objects.filter(root.subtree_q("organisation__"))
    statuses = Counter(tasks.values_list("status", flat=True))
    shown = ", ".join(f"{s} {statuses[s]:,}" for s in TaskStatus.values if statuses[s])
    problems = Finding.objects.filter(task__in=tasks, result=FindingResult.PROBLEM)
    late = problems.filter(service.late_rectifications_q(timezone.localdate())).count()
    return (
        f"Supervision tasks {sum(statuses.values()):,}: {shown}; problems found "
        f"{problems.count():,}, {late:,} not rectified past their deadline"
    )


TASK_COLUMNS = (
    "id", "kind", "title", "instructions", "organisation_id", "assigned_by_organisation_id",
    "assigned_by_id", "assigned_on", "due_on", "share_percent", "seed", "population",
    "population_digest", "status", "summary", "findings_on", "closed_on", "closed_by_id",
    "created_at", "updated_at",
)  # fmt: skip
FINDING_COLUMNS = (
    "id", "task_id", "file_id", "position", "result", "description", "checked_on",
    "checked_by_id", "rectify_by", "rectified_on", "evidence", "rectified_by_id",
)  # fmt: skip
