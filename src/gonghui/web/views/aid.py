"""The assistance plan of a filed household: the year's lines with the rule that capped
each, proposing a plan by cause, editing, adding, cancelling and approving lines.

Every action is one call to :mod:`gonghui.assistance.planning`; a refusal re-renders the
plan with the message next to the field it names and the status of the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import BaseForm
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.assistance import flags, planning
from gonghui.assistance.choices import LineStatus
from gonghui.assistance.funds import usable_funds
from gonghui.assistance.models import AssistanceLine
from gonghui.assistance.money import format_fen, to_fen
from gonghui.errors import DomainError
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people.models import HouseholdMember
from gonghui.web import aidforms
from gonghui.web.http import AuthedRequest, attach_error, error_status

from .aid_money import household_money_context

EDITABLE = frozenset({LineStatus.PLANNED})
CANCELLABLE = frozenset({LineStatus.PLANNED, LineStatus.APPROVED, LineStatus.FAILED})


def plan_file(request: AuthedRequest, pk: int) -> HardshipFile:
    """The file of the URL with what the plan page reads, or a 404 for outsiders."""
    files = HardshipFile.objects.with_people().select_related("household")
    return get_for_user_or_404(files, request.user, pk=pk)


def plan_year(request: AuthedRequest) -> int:
    raw = request.POST.get("year") or request.GET.get("year") or ""
    today = planning.today().year
    return int(raw) if raw.isdigit() and today - 10 <= int(raw) <= today + 1 else today


def plan_line(request: AuthedRequest, pk: int) -> AssistanceLine:
    lines = AssistanceLine.objects.select_related("file", "fund", "organisation")
    return get_for_user_or_404(lines, request.user, pk=pk)


@dataclass
class Row:
    """One line of the plan as the page shows it, with the forms the user may use."""

    line: AssistanceLine
    edit: BaseForm | None
    cancel: BaseForm | None
    approve: BaseForm | None
    not_approvable: str | None
    flags: list[str]


def _rows(
    request: AuthedRequest,
    file: HardshipFile,
    lines: list[AssistanceLine],
    funds: list[Any],
    bound: dict[str, BaseForm],
) -> list[Row]:
    user = request.user
    may_plan = user.can(Capability.PLAN_AID) and file.status == FileStatus.FILED
    may_cancel = user.can(Capability.PLAN_AID) or user.can(Capability.MANAGE_FUNDS)
    may_approve = user.can(Capability.APPROVE_AID)
    codes = flags.evaluate(AssistanceLine.objects.filter(pk__in=[line.pk for line in lines])).codes
    rows = []
    for line in lines:
        line.file = file  # the page's file: no query per line
        key = str(line.pk)
        planned = line.status == LineStatus.PLANNED
        edit = None
        if may_plan and planned:
            edit = bound.get(f"edit-{key}") or aidforms.LineEditForm(
                prefix=f"line{key}",
                funds=aidforms.funds_for_kind(funds, line.kind),
                initial={
                    "amount": format_fen(line.amount_fen).replace(",", ""),
                    "fund": line.fund_id,
                    "description": line.description,
                },
            )
        cancel = None
        if may_cancel and line.status in CANCELLABLE:
            cancel = bound.get(f"cancel-{key}") or aidforms.CancelForm(prefix=f"cancel{key}")
        approve, reason = None, None
        if may_approve and planned:
            reason = planning.why_not_approvable(user, line)
            approve = bound.get(f"approve-{key}") or aidforms.ApproveForm()
        found = [str(flags.FLAG_LABELS[code]) for code in sorted(codes.get(line.pk, ()))]
        rows.append(Row(line, edit, cancel, approve, reason, found))
    return rows


def _caps(file: HardshipFile, year: int) -> dict[str, Any]:
    """The household's yearly caps and what counts against them; a missing policy is said."""
    try:
        terms = planning.terms_for(file, year)
    except DomainError as exc:
        return {"caps_error": str(exc)}
    counted = planning.received(file.household_id, year)
    with_planned = planning.received(file.household_id, year, planned=True)
    return {
        "household_cap_fen": to_fen(terms.household_year_cap),
        "person_cap_fen": to_fen(terms.person_year_cap),
        "counted_fen": counted.household_fen,
        "planned_fen": with_planned.household_fen - counted.household_fen,
        "left_fen": to_fen(terms.household_year_cap) - with_planned.household_fen,
    }


def plan_context(
    request: AuthedRequest, file: HardshipFile, year: int, bound: dict[str, BaseForm] | None = None
) -> dict[str, Any]:
    bound = bound or {}
    user = request.user
    funds = usable_funds(user)
    lines = list(
        AssistanceLine.objects.for_user(user)
        .filter(file=file, year=year)
        .select_related("fund", "member", "created_by", "approved_by", "organisation")
        .order_by("id")
    )
    members = list(HouseholdMember.objects.filter(household_id=file.household_id).order_by("id"))
    may_plan = user.can(Capability.PLAN_AID) and file.status == FileStatus.FILED
    today = planning.today().year
    return {
        "file": file,
        "year": year,
        "years": [y for y in (today - 1, today) if y != year],
        "rows": _rows(request, file, lines, funds, bound),
        "may_plan": may_plan,
        "filed": file.status == FileStatus.FILED,
        "add_form": bound.get("add")
        or aidforms.LineAddForm(prefix="add", funds=funds, members=members),
        "propose_form": bound.get("propose") or aidforms.ProposeForm(),
        **_caps(file, year),
        **household_money_context(user, file.household, year, file=file, members=members),
        "on_plan": True,
        "page_url": reverse("aid-plan", args=[file.pk]) + f"?year={year}",
    }


def render_plan(
    request: AuthedRequest,
    file: HardshipFile,
    year: int,
    bound: dict[str, BaseForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = plan_context(request, file, year, bound)
    return render(request, "web/aid/plan.html", context, status=status)


def back_to_plan(file_id: int, year: int, anchor: str = "") -> HttpResponse:
    url = reverse("aid-plan", args=[file_id]) + f"?year={year}"
    return redirect(url + (f"#{anchor}" if anchor else ""))


def _run(
    request: AuthedRequest,
    file: HardshipFile,
    year: int,
    key: str,
    form: BaseForm,
    perform: Callable[[dict[str, Any]], object],
    done: str,
    anchor: str = "",
) -> HttpResponse:
    """Validate ``form``, call the service; success redirects to the plan, a refusal
    re-renders it with the form bound under ``key``."""
    status = 400
    if form.is_valid():
        try:
            perform(form.cleaned_data)
        except DomainError as exc:
            attach_error(request, form, exc)
            status = error_status(exc)
        else:
            messages.success(request, done)
            return back_to_plan(file.pk, year, anchor)
    return render_plan(request, file, year, {key: form}, status)


@login_required
def aid_plan(request: AuthedRequest, pk: int) -> HttpResponse:
    return render_plan(request, plan_file(request, pk), plan_year(request))


@login_required
@require_POST
def aid_propose(request: AuthedRequest, pk: int) -> HttpResponse:
    file, year = plan_file(request, pk), plan_year(request)

    def perform(data: dict[str, Any]) -> object:
        return planning.propose_plan(request.user, file, year)

    form = aidforms.ProposeForm(request.POST)
    return _run(request, file, year, "propose", form, perform, _("A plan is proposed."))


@login_required
@require_POST
def aid_line_add(request: AuthedRequest, pk: int) -> HttpResponse:
    file, year = plan_file(request, pk), plan_year(request)
    funds = usable_funds(request.user)
    members = list(HouseholdMember.objects.filter(household_id=file.household_id))
    form = aidforms.LineAddForm(request.POST, prefix="add", funds=funds, members=members)

    def perform(data: dict[str, Any]) -> object:
        entry = planning.LineInput(
            kind=data["kind"],
            amount_fen=data["amount"] or 0,
            cash=data["cash"],
            member_id=data["member"],
            fund=data["fund"],
            description=data["description"],
        )
        return planning.add_line(request.user, file, entry, year)

    return _run(request, file, year, "add", form, perform, _("The line is added to the plan."))


def _line_action(
    request: AuthedRequest,
    pk: int,
    key: str,
    make_form: Callable[[AssistanceLine], BaseForm],
    perform: Callable[[AssistanceLine, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    line = plan_line(request, pk)
    file = line.file
    if file is None:  # a campaign's line: it has no plan page
        raise DomainError(_("Only lines of a hardship file are planned here."), field="file")
    file = plan_file(request, file.pk)
    return _run(
        request,
        file,
        line.year,
        f"{key}-{line.pk}",
        make_form(line),
        lambda data: perform(line, data),
        done,
        anchor=f"line-{line.pk}",
    )


@login_required
@require_POST
def aid_line_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    funds = usable_funds(request.user)
    return _line_action(
        request,
        pk,
        "edit",
        lambda line: aidforms.LineEditForm(
            request.POST,
            prefix=f"line{line.pk}",
            funds=aidforms.funds_for_kind(funds, line.kind),
        ),
        lambda line, data: planning.edit_line(
            request.user,
            line,
            amount_fen=data["amount"],
            fund=data["fund"],
            description=data["description"],
        ),
        _("The line is changed."),
    )


@login_required
@require_POST
def aid_line_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    return _line_action(
        request,
        pk,
        "cancel",
        lambda line: aidforms.CancelForm(request.POST, prefix=f"cancel{line.pk}"),
        lambda line, data: planning.cancel_line(request.user, line, data["reason"]),
        _("The line is cancelled."),
    )


@login_required
@require_POST
def aid_line_approve(request: AuthedRequest, pk: int) -> HttpResponse:
    return _line_action(
        request,
        pk,
        "approve",
        lambda line: aidforms.ApproveForm(request.POST),
        lambda line, data: planning.approve_line(request.user, line),
        _("The line is approved and its money committed."),
    )
