"""Follow-ups (the user's, scoped, with the outcome recorded on the page), supervision
tasks (assign, record findings and rectifications, close) and the daily digest.

Every object comes through the one scoping rule (``for_user`` / ``followups.visible``), so
an object outside the user's subtree is a 404; every change is one call to
:mod:`gonghui.supervision.followups` or :mod:`gonghui.supervision.tasks`, whose refusals
are shown on the field they name.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, ExpressionWrapper
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.models import User
from gonghui.errors import DomainError
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.supervision import digest, followups, tasks
from gonghui.supervision.models import (
    Finding,
    FindingResult,
    SupervisionTask,
    TaskKind,
    TaskStatus,
)
from gonghui.web import taskforms
from gonghui.web.http import AuthedRequest, attach_error, error_status, paginate

# --- follow-ups ---------------------------------------------------------------------------


def _require_follow_ups(request: AuthedRequest) -> None:
    if not followups.may_follow_up(request.user):
        raise PermissionDenied


@login_required
def follow_up_list(request: AuthedRequest) -> HttpResponse:
    """The user's follow-ups (``?all=1``: every one in their subtree), open ones first."""
    _require_follow_ups(request)
    day = timezone.localdate()
    show_all = request.GET.get("all") == "1"
    rows = followups.visible(request.user).select_related(
        "file__applicant", "file__organisation", "owner", "plan"
    )
    if not show_all:
        rows = rows.filter(owner=request.user)
    if request.GET.get("overdue") == "1":
        rows = rows.filter(followups.overdue_q(day))
    rows = rows.order_by("-status", "due_on", "id")  # "due" before "done" and "missed"
    context = {"page": paginate(request, rows, settings.GONGHUI_PAGE_SIZE), "today": day}
    context["show_all"] = show_all
    return render(request, "web/tasks/follow_ups.html", context)


def _follow_up_page(
    request: AuthedRequest, pk: int, form: taskforms.OutcomeForm | None = None, status: int = 200
) -> HttpResponse:
    follow_up = followups.get_visible_or_404(request.user, pk)
    day = timezone.localdate()
    context = {
        "follow_up": follow_up,
        "plan": followups.plan_of(follow_up),
        "overdue": followups.is_overdue(follow_up, day),
        "may_record": followups.may_follow_up(request.user) and follow_up.status == "due",
        "form": form or taskforms.OutcomeForm(initial={"done_on": day}),
    }
    return render(request, "web/tasks/follow_up.html", context, status=status)


@login_required
def follow_up_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return _follow_up_page(request, pk)
    follow_up = followups.get_visible_or_404(request.user, pk)
    _require_follow_ups(request)
    form = taskforms.OutcomeForm(request.POST)
    if not form.is_valid():
        return _follow_up_page(request, pk, form, 400)
    data = form.cleaned_data
    try:
        followups.record_outcome(
            request.user, follow_up, data["status"], data["done_on"], data["outcome"]
        )
    except DomainError as exc:
        attach_error(request, form, exc)
        return _follow_up_page(request, pk, form, error_status(exc))
    messages.success(request, _("The outcome of the follow-up is recorded."))
    return redirect("follow-up-list")


def _owners(file: HardshipFile) -> Any:
    """Active case workers and reviewers who see the file."""
    ancestors = file.organisation.ancestors()
    users = User.objects.filter(is_active=True, organisation__in=ancestors).order_by("username")
    return users.filter(pk__in=[u.pk for u in users if followups.may_follow_up(u)])


@login_required
def follow_up_new(request: AuthedRequest, pk: int) -> HttpResponse:
    file = get_for_user_or_404(
        HardshipFile.objects.select_related("organisation"), request.user, pk=pk
    )
    _require_follow_ups(request)
    owners = _owners(file)
    form = taskforms.ScheduleForm(
        request.POST or None, owners=owners, initial={"owner": request.user.pk}
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            wanted = followups.Manual(file, data["due_on"], data["owner"], data["purpose"])
            try:
                followups.schedule(request.user, wanted)
            except DomainError as exc:
                attach_error(request, form, exc)
                status = error_status(exc)
            else:
                messages.success(request, _("The follow-up is scheduled."))
                return redirect("file-detail", pk=file.pk)
    return render(
        request, "web/tasks/follow_up_new.html", {"file": file, "form": form}, status=status
    )


# --- supervision tasks --------------------------------------------------------------------------


def _require_tasks(request: AuthedRequest) -> None:
    if not tasks.deals_with_tasks(request.user):
        raise PermissionDenied


def _task_list(
    request: AuthedRequest, form: taskforms.TaskForm | None = None, status: int = 200
) -> HttpResponse:
    _require_tasks(request)
    day = timezone.localdate()
    scoped = SupervisionTask.objects.for_user(request.user)
    if request.GET.get("overdue") == "1":
        scoped = scoped.filter(tasks.overdue_q(day))
    # Overdue or not, in the page's own query: no second query over every overdue task.
    rows = (
        scoped.select_related("organisation", "assigned_by_organisation")
        .annotate(late=ExpressionWrapper(tasks.overdue_q(day), output_field=BooleanField()))
        .order_by("status", "due_on", "id")
    )
    may_assign = tasks.may_assign(request.user)
    assert request.user.organisation is not None
    context = {
        "page": paginate(request, rows, settings.GONGHUI_PAGE_SIZE),
        "form": form
        or (taskforms.TaskForm(organisation=request.user.organisation) if may_assign else None),
    }
    return render(request, "web/tasks/tasks.html", context, status=status)


@login_required
def task_list(request: AuthedRequest) -> HttpResponse:
    return _task_list(request)


@login_required
@require_POST
def task_new(request: AuthedRequest) -> HttpResponse:
    if not tasks.may_assign(request.user):
        raise PermissionDenied
    assert request.user.organisation is not None
    form = taskforms.TaskForm(request.POST, organisation=request.user.organisation)
    if not form.is_valid():
        return _task_list(request, form, 400)
    data = form.cleaned_data
    wanted = tasks.Assignment(
        kind=data["kind"],
        title=data["title"],
        organisation=data["organisation"],
        due_on=data["due_on"],
        share_percent=data["share_percent"],
        instructions=data["instructions"],
    )
    try:
        task = tasks.assign(request.user, wanted)
    except DomainError as exc:
        attach_error(request, form, exc)
        return _task_list(request, form, error_status(exc))
    messages.success(request, _("The task is assigned."))
    return redirect("task-detail", pk=task.pk)


def _task(request: AuthedRequest, pk: int) -> SupervisionTask:
    rows = SupervisionTask.objects.select_related(
        "organisation", "assigned_by_organisation", "assigned_by", "closed_by"
    )
    return get_for_user_or_404(rows, request.user, pk=pk)


def _task_page(
    request: AuthedRequest, task: SupervisionTask, status: int = 200, **forms: Any
) -> HttpResponse:
    _require_tasks(request)
    day = timezone.localdate()
    findings = task.findings.select_related("file__applicant", "checked_by", "rectified_by")
    user = request.user
    may_record = tasks.may_record(user, task)
    context = {
        "task": task,
        "findings": findings,
        "overdue": tasks.is_overdue(task, day),
        "today": day,
        "may_record": may_record and task.status in tasks.BEFORE_FINDINGS,
        "may_rectify": may_record and task.status != TaskStatus.CLOSED,
        "may_close": tasks.may_close(user, task) and task.status != TaskStatus.CLOSED,
        "site": task.kind == TaskKind.SITE_INSPECTION,
        "FindingResult": FindingResult,
        "finding_form": forms.get("finding_form") or taskforms.FindingForm(),
        "submit_form": forms.get("submit_form") or taskforms.SubmitForm(),
        "rectify_form": forms.get("rectify_form")
        or taskforms.RectificationForm(initial={"rectified_on": day}),
    }
    return render(request, "web/tasks/task.html", context, status=status)


@login_required
def task_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return _task_page(request, _task(request, pk))


def _checked(form: taskforms.FindingForm) -> tasks.Checked:
    data = form.cleaned_data
    return tasks.Checked(data["result"], data["description"], data["rectify_by"])


@login_required
@require_POST
def task_finding(request: AuthedRequest, pk: int) -> HttpResponse:
    """A point found on a site inspection."""
    task = _task(request, pk)
    form = taskforms.FindingForm(request.POST)
    if not form.is_valid():
        return _task_page(request, task, 400, finding_form=form)
    try:
        tasks.record_finding(request.user, task, _checked(form))
    except DomainError as exc:
        attach_error(request, form, exc)
        return _task_page(request, task, error_status(exc), finding_form=form)
    messages.success(request, _("The finding is recorded."))
    return redirect("task-detail", pk=task.pk)


def _finding(request: AuthedRequest, pk: int) -> Finding:
    rows = Finding.objects.select_related("task__organisation", "task__assigned_by_organisation")
    return get_for_user_or_404(rows, request.user, pk=pk)


@login_required
@require_POST
def finding_record(request: AuthedRequest, pk: int) -> HttpResponse:
    """The result of one drawn file."""
    finding = _finding(request, pk)
    form = taskforms.FindingForm(request.POST)
    if not form.is_valid():
        return _task_page(request, finding.task, 400, finding_form=form)
    try:
        tasks.record_finding(request.user, finding.task, _checked(form), finding)
    except DomainError as exc:
        attach_error(request, form, exc)
        return _task_page(request, finding.task, error_status(exc), finding_form=form)
    messages.success(request, _("The finding is recorded."))
    return redirect("task-detail", pk=finding.task_id)


@login_required
@require_POST
def finding_rectify(request: AuthedRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    form = taskforms.RectificationForm(request.POST)
    if not form.is_valid():
        return _task_page(request, finding.task, 400, rectify_form=form)
    data = form.cleaned_data
    try:
        tasks.record_rectification(request.user, finding, data["rectified_on"], data["evidence"])
    except DomainError as exc:
        attach_error(request, form, exc)
        return _task_page(request, finding.task, error_status(exc), rectify_form=form)
    messages.success(request, _("The rectification is recorded."))
    return redirect("task-detail", pk=finding.task_id)


@login_required
@require_POST
def task_submit(request: AuthedRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    form = taskforms.SubmitForm(request.POST)
    form.is_valid()
    try:
        tasks.submit_findings(request.user, task, form.cleaned_data.get("summary", ""))
    except DomainError as exc:
        attach_error(request, form, exc)
        return _task_page(request, task, error_status(exc), submit_form=form)
    messages.success(request, _("The findings are submitted."))
    return redirect("task-detail", pk=task.pk)


@login_required
@require_POST
def task_close(request: AuthedRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    try:
        tasks.close(request.user, task)
    except DomainError as exc:
        messages.error(request, str(exc))
        return _task_page(request, task, error_status(exc))
    messages.success(request, _("The task is closed."))
    return redirect("task-detail", pk=task.pk)


# --- the digest ---------------------------------------------------------------------------------


@login_required
def digest_today(request: AuthedRequest) -> HttpResponse:
    day = timezone.localdate()
    found = digest.daily(request.user, day)
    if found is None:
        raise Http404
    alerts = digest.overdue_for(request.user, day)
    return render(request, "web/tasks/digest.html", {"digest": found, "alerts": alerts})
