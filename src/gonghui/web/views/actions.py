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
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.models import User
from gonghui.errors import DomainError
from gonghui.hardship import services
from gonghui.hardship.models import HardshipFile
from gonghui.web.actions import ACTIONS
from gonghui.web.http import AuthedRequest, attach_error, error_status

from .files import case_file, render_case

Perform = Callable[[User, HardshipFile, dict[str, Any]], object]


def _act(request: AuthedRequest, pk: int, name: str, perform: Perform, done: str) -> HttpResponse:
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
            messages.success(request, done)
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


@login_required
@require_POST
def file_investigate(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "investigate",
        lambda user, file, data: services.record_investigation(user, file, _visit(data)),
        _("The home investigation is recorded."),
    )


@login_required
@require_POST
def file_submit(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "submit",
        lambda user, file, data: services.submit_for_notice(user, file),
        _("The file is under public notice."),
    )


@login_required
@require_POST
def file_review(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "review",
        lambda user, file, data: services.review(user, file, data["note"]),
        _("The file is reviewed and waits for approval."),
    )


@login_required
@require_POST
def file_approve(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "approve",
        lambda user, file, data: services.approve(user, file, data["note"]),
        _("The household is filed."),
    )


@login_required
@require_POST
def file_reject(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "reject",
        lambda user, file, data: services.reject(user, file, data["reason"]),
        _("The application is rejected."),
    )


@login_required
@require_POST
def file_periodic_review(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "periodic_review",
        lambda user, file, data: services.periodic_review(user, file, data["note"]),
        _("The periodic review is recorded."),
    )


@login_required
@require_POST
def file_income_reading(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "income_reading",
        lambda user, file, data: services.record_income_reading(
            user, file, data["month"], data["per_capita"]
        ),
        _("The monthly income is recorded."),
    )


@login_required
@require_POST
def file_exit(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "exit",
        lambda user, file, data: services.exit_file(
            user, file, data["exit_kind"], data["exit_on"], data["exit_reason"]
        ),
        _("The household has left the file."),
    )


@login_required
@require_POST
def file_reopen(request: AuthedRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "reopen",
        lambda user, file, data: services.reopen(user, file, data["reason"]),
        _("The file is reopened as a new application."),
    )
