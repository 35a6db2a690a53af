"""Supervision tasks (督查): an upper union gives a lower one in its subtree a spot check of
a share of its filed files (30 % by default) or a site inspection, with a due date; the
lower union records a finding per checked file (no problem, or a problem with its
description and a rectification deadline) and then each rectification with its evidence.

Status: open → in progress (first finding) → findings recorded (every item checked,
submitted) → rectified (every problem rectified) → closed (by the assigning side). A task
is overdue while its findings are late, or while a problem is unrectified after its
deadline.

The spot check's files are drawn at assignment, deterministically from a stored seed: the
same seed over the same files (ordered by id) draws the same files, and the task keeps a
fingerprint of the files it drew from, so anyone can redraw and compare.

Who may do what: assigning and closing need the SUPERVISE capability
(:func:`gonghui.supervision.access.may_supervise`, the one check shared with the indicator
pages), recording needs MANAGE_FILED in the checked union; everything is reached through
``SupervisionTask.objects.for_user``, so a task outside the user's subtree does not exist
for them.
"""

from __future__ import annotations

import datetime
import hashlib
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Value
from django.db.models.functions import JSONArray, JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.bulk import record_rows
from gonghui.audit.context import current_source
from gonghui.audit.models import AuditAction
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.models import Organisation

from . import access
from .models import Finding, FindingResult, SupervisionTask, TaskKind, TaskStatus

DEFAULT_SHARE = 30
# Statuses in which the task's own due date still counts.
BEFORE_FINDINGS = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)
FINISHED = (TaskStatus.RECTIFIED, TaskStatus.CLOSED)


def today() -> datetime.date:
    return timezone.localdate()


# --- who may do what ------------------------------------------------------------------------


def may_assign(user: User) -> bool:
    """Assigning is supervising: SUPERVISE (leaders and reviewers). Where to is checked by
    :func:`assign`: a union strictly below the user's own."""
    return access.may_supervise(user)


def may_close(user: User, task: SupervisionTask) -> bool:
    """The assigning side closes: SUPERVISE in the assigning union or above it."""
    return access.may_supervise(user, task.assigned_by_organisation)


def may_record(user: User, task: SupervisionTask | None = None) -> bool:
    """Findings and rectifications are recorded by those who manage filed households
    (MANAGE_FILED) in the checked union or between it and the assigning union, never in
    the assigning union itself: a check is not done by the one who orders it."""
    own = user.organisation if user.is_active else None
    if own is None or not user.can(Capability.MANAGE_FILED):
        return False
    if task is None:
        return True
    assigner = task.assigned_by_organisation
    return own.contains(task.organisation) and assigner.contains(own) and own.pk != assigner.pk


def deals_with_tasks(user: User) -> bool:
    """Sees the task pages and their alerts: either side of a task."""
    return may_assign(user) or may_record(user)


def _refuse() -> NotAllowed:
    return NotAllowed(_("Your role does not allow this."))


# --- the draw ---------------------------------------------------------------------------------


def sample_size(population: int, share_percent: int) -> int:
    """How many files a share draws: rounded up (30 % of 10 = 3, of 11 = 4), at least one
    when there is any file."""
    return min(population, -(-population * share_percent // 100))


def draw(file_ids: Sequence[int], share_percent: int, seed: int) -> list[int]:
    """The files drawn from ``file_ids`` with ``seed``: the same seed and files, the same
    draw, whatever order the ids came in. Returned in the order they were drawn."""
    ordered = sorted(file_ids)
    return random.Random(seed).sample(ordered, sample_size(len(ordered), share_percent))


def fingerprint(file_ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(file_ids))).encode()).hexdigest()


def eligible_files(organisation: Organisation) -> QuerySet[HardshipFile]:
    """The files a spot check draws from: the filed files of the union's subtree."""
    return HardshipFile.objects.filter(
        organisation.subtree_q("organisation__"), status=FileStatus.FILED
    )


def redraw(task: SupervisionTask, file_ids: Sequence[int]) -> list[int]:
    """The draw again from ``file_ids`` with the task's seed; refused when those are not
    the files the task drew from."""
    if fingerprint(file_ids) != task.population_digest:
        raise DomainError(_("These are not the files the task drew from."), field="files")
    return draw(file_ids, task.share_percent, task.seed)


# --- assigning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    kind: str
    title: str
    organisation: Organisation
    due_on: datetime.date
    share_percent: int = DEFAULT_SHARE
    instructions: str = ""
    seed: int | None = None  # a fresh random seed unless given (tests, a repeated draw)


def assign(user: User, wanted: Assignment) -> SupervisionTask:
    if not may_assign(user):
        raise _refuse()
    own = user.organisation
    assert own is not None
    target = wanted.organisation
    if target.pk == own.pk or not own.contains(target):
        raise DomainError(
            _("Choose a union below yours in your part of the tree."), field="organisation"
        )
    if wanted.kind not in TaskKind.values:
        raise DomainError(_("Choose a spot check or a site inspection."), field="kind")
    if not wanted.title.strip():
        raise DomainError(_("Give the task a title."), field="title")
    day = today()
    if wanted.due_on < day:
        raise DomainError(_("The due date has passed already."), field="due_on")
    if not 1 <= wanted.share_percent <= 100:
        raise DomainError(_("The share lies between 1 and 100 %."), field="share_percent")
    seed = wanted.seed if wanted.seed is not None else secrets.randbits(62)
    with transaction.atomic():
        task = SupervisionTask(
            kind=wanted.kind,
            title=wanted.title.strip(),
            instructions=wanted.instructions.strip(),
            organisation=target,
            assigned_by_organisation=own,
            assigned_by=user,
            assigned_on=day,
            due_on=wanted.due_on,
            share_percent=wanted.share_percent,
            seed=seed,
        )
        drawn: list[int] = []
        if wanted.kind == TaskKind.SPOT_CHECK:
            ids = list(eligible_files(target).values_list("pk", flat=True))
            if not ids:
                raise DomainError(
                    _("This union has no filed files to check."), field="organisation"
                )
            drawn = draw(ids, wanted.share_percent, seed)
            task.population, task.population_digest = len(ids), fingerprint(ids)
        task.save()
        if drawn:
            Finding.objects.bulk_create(
                Finding(task=task, file_id=pk, position=n) for n, pk in enumerate(drawn, 1)
            )
            _audit_drawn(task, user)
    return task


def _audit_drawn(task: SupervisionTask, user: User) -> None:
    none = Value(None, output_field=IntegerField())
    record_rows(
        Finding.objects.filter(task=task),
        model=Finding,
        action=AuditAction.CREATE,
        at=timezone.now(),
        actor=user.pk,
        source=current_source(),
        object_id="pk",
        org_path="task__organisation__path",
        file_id="file_id",
        changes=JSONObject(
            task_id=JSONArray(none, F("task_id")),
            file_id=JSONArray(none, F("file_id")),
            position=JSONArray(none, F("position")),
        ),
    )


# --- findings and rectifications ----------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    result: str
    description: str = ""
    rectify_by: datetime.date | None = None
    checked_on: datetime.date | None = None


def _locked(user: User, task: SupervisionTask) -> SupervisionTask:
    found = (
        SupervisionTask.objects.for_user(user)
        .select_for_update(of=("self",))
        .select_related("organisation", "assigned_by_organisation")
        .filter(pk=task.pk)
        .first()
    )
    if found is None:
        raise NotAllowed(_("This is outside your organisation."))
    return found


def _check_finding(checked: Checked, day: datetime.date) -> None:
    if checked.result not in (FindingResult.OK, FindingResult.PROBLEM):
        raise DomainError(_("Choose no problem or problem."), field="result")
    if checked.checked_on is not None and checked.checked_on > day:
        raise DomainError(_("The check cannot be in the future."), field="checked_on")
    if checked.result == FindingResult.PROBLEM:
        if not checked.description.strip():
            raise DomainError(_("Describe the problem."), field="description")
        if checked.rectify_by is None:
            raise DomainError(_("Give the rectification deadline."), field="rectify_by")
        if checked.rectify_by < day:
            raise DomainError(_("The deadline has passed already."), field="rectify_by")


def record_finding(
    user: User, task: SupervisionTask, checked: Checked, finding: Finding | None = None
) -> Finding:
    """The result of one checked file (``finding`` of the task), or, for a site
    inspection, a new point found on site (no ``finding``)."""
    day = today()
    _check_finding(checked, day)
    with transaction.atomic():
        task = _locked(user, task)
        if not may_record(user, task):
            raise _refuse()
        if task.status not in BEFORE_FINDINGS:
            raise Conflict(_("The findings of this task are submitted already."))
        if finding is None:
            if task.kind != TaskKind.SITE_INSPECTION:
                raise DomainError(_("Choose one of the drawn files."), field="finding")
            finding = Finding(task=task, position=task.findings.count() + 1)
        elif finding.task_id != task.pk:
            raise DomainError(_("This finding belongs to another task."), field="finding")
        problem = checked.result == FindingResult.PROBLEM
        finding.result = checked.result
        finding.description = checked.description.strip()
        finding.rectify_by = checked.rectify_by if problem else None
        finding.checked_on = checked.checked_on or day
        finding.checked_by = user
        finding.save()
        if task.status == TaskStatus.OPEN:
            task.status = TaskStatus.IN_PROGRESS
            task.save()
    return finding


def submit_findings(user: User, task: SupervisionTask, summary: str = "") -> SupervisionTask:
    """Every drawn file is checked (a site inspection: at least one point or a summary):
    the findings are recorded; with no problem the task waits only to be closed."""
    with transaction.atomic():
        task = _locked(user, task)
        if not may_record(user, task):
            raise _refuse()
        if task.status not in BEFORE_FINDINGS:
            raise Conflict(_("The findings of this task are submitted already."))
        unchecked = task.findings.filter(result=FindingResult.PENDING).count()
        if unchecked:
            raise DomainError(
                _("%(count)d of the drawn files are not checked yet.") % {"count": unchecked},
                field="findings",
            )
        summary = summary.strip()
        if task.kind == TaskKind.SITE_INSPECTION and not (summary or task.findings.exists()):
            raise DomainError(_("Record what the inspection found."), field="summary")
        task.summary = summary
        task.findings_on = today()
        task.status = TaskStatus.FINDINGS
        _settle(task)
        task.save()
    return task


def _settle(task: SupervisionTask) -> None:
    """Findings recorded and every problem rectified (or none): rectified."""
    open_problems = task.findings.filter(result=FindingResult.PROBLEM, rectified_on__isnull=True)
    has_problems = task.findings.filter(result=FindingResult.PROBLEM).exists()
    if task.status == TaskStatus.FINDINGS and has_problems and not open_problems.exists():
        task.status = TaskStatus.RECTIFIED


def record_rectification(
    user: User, finding: Finding, rectified_on: datetime.date, evidence: str
) -> Finding:
    evidence = evidence.strip()
    if not evidence:
        raise DomainError(_("Describe the evidence of the rectification."), field="evidence")
    if rectified_on > today():
        raise DomainError(_("The rectification cannot be in the future."), field="rectified_on")
    with transaction.atomic():
        task = _locked(user, finding.task)
        if not may_record(user, task):
            raise _refuse()
        finding = Finding.objects.select_for_update().get(pk=finding.pk)
        if finding.result != FindingResult.PROBLEM:
            raise DomainError(_("Only a problem is rectified."), field="finding")
        if finding.rectified_on is not None:
            raise Conflict(_("This rectification is recorded already."))
        if task.status == TaskStatus.CLOSED:
            raise Conflict(_("This task is closed."))
        finding.rectified_on = rectified_on
        finding.evidence = evidence
        finding.rectified_by = user
        finding.save()
        _settle(task)
        task.save()
    return finding


def close(user: User, task: SupervisionTask) -> SupervisionTask:
    """The assigning side closes a task whose findings are in and problems rectified."""
    with transaction.atomic():
        task = _locked(user, task)
        if not may_close(user, task):
            raise _refuse()
        if task.status == TaskStatus.CLOSED:
            raise Conflict(_("This task is closed."))
        if task.status in BEFORE_FINDINGS:
            raise DomainError(_("The findings are not recorded yet."), field="status")
        if unrectified(task).exists():
            raise DomainError(_("Some problems are not rectified yet."), field="status")
        task.status = TaskStatus.CLOSED
        task.closed_on = today()
        task.closed_by = user
        task.save()
    return task


# --- overdue ----------------------------------------------------------------------------------


def unrectified(task: SupervisionTask) -> QuerySet[Finding]:
    return task.findings.filter(result=FindingResult.PROBLEM, rectified_on__isnull=True)


def late_rectifications_q(day: datetime.date, prefix: str = "") -> Q:
    return Q(
        **{
            f"{prefix}result": FindingResult.PROBLEM,
            f"{prefix}rectified_on__isnull": True,
            f"{prefix}rectify_by__lt": day,
        }
    ) & ~Q(**{f"{prefix}task__status": TaskStatus.CLOSED})


def late_findings_q(day: datetime.date) -> Q:
    """Tasks whose findings are late: not recorded and the due day has passed."""
    return Q(status__in=BEFORE_FINDINGS, due_on__lt=day)


def overdue_q(day: datetime.date) -> Q:
    late = Finding.objects.filter(late_rectifications_q(day), task=OuterRef("pk"))
    return late_findings_q(day) | Q(Exists(late))


def is_overdue(task: SupervisionTask, day: datetime.date) -> bool:
    return SupervisionTask.objects.filter(overdue_q(day), pk=task.pk).exists()
