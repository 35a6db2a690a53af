"""One view per action on a file; each calls its service and nothing else decides.

A refusal (DomainError, NotAllowed, Conflict) re-renders the case page with the message
next to the field it names; the service's transaction leaves the data as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from gonghui.accounts.models import User
from gonghui.errors import DomainError
from gonghui.hardship import services
from gonghui.hardship.models import HardshipFile
from gonghui.web.actions import ACTIONS
from gonghui.web.http import AuthedRequest, attach_error, error_status

from .files import case_file, render_case

Perform = Callable[[User, HardshipFile, dict[str, Any]], object]


def _act(
    request: AuthedRequest, pk: int, name: str, perform: Perform, done: str | Promise
) -> HttpResponse:
    file = case_file(request, pk)
    form = ACTIONS[name].form(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        try:
            with transaction.atomic():
                perform(request.user, file, form.cleaned_data)
        except DomainError as exc:
            attach_error(request, form, exc)
            status = error_status(exc)
            file.refresh_from_db()
        else:
            messages.success(request, str(done))
            return redirect("file-detail", pk=file.pk)
    return render_case(request, file, bound={name: form}, status=status)


def _visit(data: dict[str, Any]) -> services.Visit:
    return services.Visit(
        visited_on=data["visited_on"],
        findings=data["findings"],
        co_investigators=data["co_investigators"],
        household_confirmed=data["household_confirmed"],
        uploads=[(upload, data["caption"]) for upload in data["photos"]],
    )


def action_view(name: str, perform: Perform, done: str | Promise) -> Callable[..., HttpResponse]:
    """A POST-only, login-only view that runs one service through :func:`_act`."""

    @login_required
    @require_POST
    def view(request: AuthedRequest, pk: int) -> HttpResponse:
        return _act(request, pk, name, perform, done)

    view.__name__ = f"file_{name}"
    return view


file_investigate = action_view(
    "investigate",
    lambda user, file, data: services.record_investigation(user, file, _visit(data)),
    _("The home investigation is recorded."),
)
file_submit = action_view(
    "submit",
    lambda user, file, data: services.submit_for_notice(user, file),
    _("The file is under public notice."),
)
file_review = action_view(
    "review",
    lambda user, file, data: services.review(user, file, data["note"]),
    _("The file is reviewed and waits for approval."),
)
file_approve = action_view(
    "approve",
    lambda user, file, data: services.approve(user, file, data["note"]),
    _("The household is filed."),
)
file_reject = action_view(
    "reject",
    lambda user, file, data: services.reject(user, file, data["reason"]),
    _("The application is rejected."),
)
file_periodic_review = action_view(
    "periodic_review",
    lambda user, file, data: services.periodic_review(user, file, data["note"]),
    _("The periodic review is recorded."),
)
file_income_reading = action_view(
    "income_reading",
    lambda user, file, data: services.record_income_reading(
        user, file, data["month"], data["per_capita"]
    ),
    _("The monthly income is recorded."),
)
file_exit = action_view(
    "exit",
    lambda user, file, data: services.exit_file(
        user, file, data["exit_kind"], data["exit_on"], data["exit_reason"]
    ),
    _("The household has left the file."),
)
file_reopen = action_view(
    "reopen",
    lambda user, file, data: services.reopen(user, file, data["reason"]),
    _("The file is reopened as a new application."),
)
