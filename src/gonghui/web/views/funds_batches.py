"""Payment batches: create one for a fund, read its payments (cards masked unless the role
may see them), download the bank file, upload the bank's result; and the queue of failed
payments, where the card is fixed (the next batch picks the line up) or the line cancelled.

Every call goes to :mod:`gonghui.assistance.payments` (and ``accounts``, ``planning``), the
same functions the API and ``gonghui aid`` call.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.assistance import accounts, payments, planning, reports
from gonghui.assistance.choices import BatchStatus, PaymentStatus
from gonghui.assistance.models import AssistanceLine, Payment, PaymentBatch
from gonghui.assistance.money import format_fen
from gonghui.errors import DomainError
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web import fundforms
from gonghui.web.http import AuthedRequest, attach_error, error_status, paginate, require_capability


def _may_fix(request: AuthedRequest) -> bool:
    user = request.user
    return user.can(Capability.PLAN_AID) or user.can(Capability.MANAGE_FUNDS)


# --- batches ---------------------------------------------------------------------------------


def _batch_list(
    request: AuthedRequest, form: fundforms.BatchForm | None = None, status: int = 200
) -> HttpResponse:
    if not reports.may_read(request.user):
        raise PermissionDenied
    batches = (
        PaymentBatch.objects.for_user(request.user)
        .select_related("fund", "organisation", "created_by")
        .order_by("-created_at", "-id")
    )
    may_create = request.user.can(Capability.MANAGE_FUNDS)
    funds = reports.visible_funds(request.user)
    context = {
        "page": paginate(request, batches, settings.GONGHUI_PAGE_SIZE),
        "form": form or (fundforms.BatchForm(funds=funds) if may_create else None),
        "BatchStatus": BatchStatus,
        "may_fix": _may_fix(request),
    }
    return render(request, "web/funds/batches.html", context, status=status)


@login_required
def batch_list(request: AuthedRequest) -> HttpResponse:
    return _batch_list(request)


@login_required
@require_POST
def batch_new(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.MANAGE_FUNDS)
    form = fundforms.BatchForm(request.POST, funds=reports.visible_funds(request.user))
    if not form.is_valid():
        return _batch_list(request, form, 400)
    try:
        batched = payments.create_batch(request.user, form.cleaned_data["fund"])
    except DomainError as exc:
        attach_error(request, form, exc)
        return _batch_list(request, form, error_status(exc))
    done = _("Batch %(number)s: %(count)d payments, %(total)s yuan.") % {
        "number": batched.batch.number,
        "count": batched.count,
        "total": format_fen(batched.total_fen),
    }
    messages.success(request, " ".join([done, *batched.notes()]))
    return redirect("batch-detail", pk=batched.batch.pk)


def _batch(request: AuthedRequest, pk: int) -> PaymentBatch:
    batches = PaymentBatch.objects.select_related("fund", "organisation", "created_by")
    return get_for_user_or_404(batches, request.user, pk=pk)


def _batch_page(
    request: AuthedRequest, batch: PaymentBatch, status: int = 200, **extra: Any
) -> HttpResponse:
    if not reports.may_read(request.user):
        raise PermissionDenied
    rows = batch.payments.select_related("line__file").order_by("id")
    manage = request.user.can(Capability.MANAGE_FUNDS)
    context = {
        "batch": batch,
        "page": paginate(request, rows, settings.GONGHUI_PAGE_SIZE),
        "by_status": dict(
            batch.payments.values_list("status").annotate(n=Count("id")).order_by("status")
        ),
        "PaymentStatus": PaymentStatus,
        "BatchStatus": BatchStatus,
        "may_manage": manage,
        "may_import": manage and batch.status != BatchStatus.OPEN,
        "upload": extra.pop("upload", None) or fundforms.ResultFileForm(),
        **extra,
    }
    return render(request, "web/funds/batch.html", context, status=status)


@login_required
def batch_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return _batch_page(request, _batch(request, pk))


@login_required
@require_POST
def batch_export(request: AuthedRequest, pk: int) -> HttpResponse:
    batch = _batch(request, pk)
    require_capability(request, Capability.MANAGE_FUNDS)
    fmt = request.POST.get("format", "csv")
    try:
        filename, data, content_type = payments.export_batch(request.user, batch, fmt)
    except DomainError as exc:
        messages.error(request, str(exc))
        return _batch_page(request, batch, error_status(exc))
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_POST
def batch_import(request: AuthedRequest, pk: int) -> HttpResponse:
    """Apply the bank's result and show what it did, row by row for what it rejected."""
    batch = _batch(request, pk)
    require_capability(request, Capability.MANAGE_FUNDS)
    form = fundforms.ResultFileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _batch_page(request, batch, 400, upload=form)
    upload = form.cleaned_data["result"]
    try:
        report = payments.import_result(request.user, batch, upload.name, upload.read())
    except DomainError as exc:
        attach_error(request, form, exc)
        return _batch_page(request, batch, error_status(exc), upload=form)
    batch.refresh_from_db()
    return _batch_page(request, batch, report=report)


@login_required
@require_POST
def payment_reverse(request: AuthedRequest, pk: int) -> HttpResponse:
    """The bank sent paid money back: the payment fails and its line waits again."""
    require_capability(request, Capability.MANAGE_FUNDS)
    payment = get_for_user_or_404(Payment.objects.select_related("batch"), request.user, pk=pk)
    batch = _batch(request, payment.batch_id)
    try:
        payments.reverse_payment(request.user, payment, request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, str(exc))
        return _batch_page(request, batch, error_status(exc))
    messages.success(request, _("The payment is reversed; its line waits in the failed queue."))
    return redirect("batch-detail", pk=batch.pk)


# --- failed payments -------------------------------------------------------------------------


@login_required
def failed_list(request: AuthedRequest) -> HttpResponse:
    if not _may_fix(request):
        raise PermissionDenied
    lines = payments.failed_lines(request.user).select_related("file")
    context = {
        "page": paginate(request, lines, settings.GONGHUI_PAGE_SIZE),
        "cancel_form": fundforms.CancelForm(),
        "may_batch": request.user.can(Capability.MANAGE_FUNDS),
    }
    return render(request, "web/funds/failed.html", context)


def _line(request: AuthedRequest, pk: int) -> AssistanceLine:
    lines = AssistanceLine.objects.select_related("worker__organisation", "fund", "organisation")
    return get_for_user_or_404(lines, request.user, pk=pk)


@login_required
def failed_card(request: AuthedRequest, pk: int) -> HttpResponse:
    """Record the recipient's card (a new one, or the same one confirmed) for a line."""
    line = _line(request, pk)
    if not _may_fix(request):
        raise PermissionDenied
    worker = line.worker
    current = accounts.active_account(worker)
    form = fundforms.BankCardForm(
        request.POST or None,
        initial={"holder_name": worker.name, "bank_name": current.bank_name if current else ""},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                accounts.save_bank_account(request.user, worker, **form.cleaned_data)
            except DomainError as exc:
                attach_error(request, form, exc)
                status = error_status(exc)
            else:
                messages.success(
                    request,
                    _("The card of %(name)s is saved; the next batch of the fund pays the line.")
                    % {"name": worker.name},
                )
                return redirect("failed-list")
    context = {"line": line, "form": form, "current": current}
    return render(request, "web/funds/card.html", context, status=status)


@login_required
@require_POST
def failed_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    line = _line(request, pk)
    if not _may_fix(request):
        raise PermissionDenied
    form = fundforms.CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for cancelling."))
        return redirect("failed-list")
    planning.cancel_line(request.user, line, form.cleaned_data["reason"])
    messages.success(
        request,
        _("The line is cancelled; %(amount)s yuan go back to the budget.")
        % {"amount": format_fen(line.amount_fen)},
    )
    return redirect("failed-list")
