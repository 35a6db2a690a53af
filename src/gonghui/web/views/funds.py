"""Funds, their budgets down the tree, and fund views (figures, chart, XLSX, drill-down).

Every object comes through ``for_user`` (a fund also reaches a user through a budget in
their subtree: :func:`gonghui.assistance.reports.visible_funds`); every change is one call
to :mod:`gonghui.assistance.funds`, whose refusals are shown on the field they name.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.forms import BaseForm
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.assistance import funds, reports
from gonghui.assistance.choices import AidKind, FundSource, LedgerKind
from gonghui.assistance.models import Budget, Fund, LedgerEntry
from gonghui.assistance.money import format_fen
from gonghui.errors import DomainError
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web import fundforms
from gonghui.web.http import AuthedRequest, attach_error, error_status, paginate, require_capability

MEASURE_LABELS = {
    "total": gettext_lazy("Budget"),
    "available": gettext_lazy("Available"),
    "committed": gettext_lazy("Committed"),
    "paid": gettext_lazy("Paid"),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def require_reader(request: AuthedRequest) -> None:
    if not reports.may_read(request.user):
        raise PermissionDenied


def visible_fund(request: AuthedRequest, pk: int) -> Fund:
    """The fund if it is managed in, or has a budget in, the user's subtree; else 404."""
    fund = reports.visible_funds(request.user).filter(pk=pk).first()
    if fund is None:
        raise Http404
    return fund


def chosen_year(request: AuthedRequest) -> int:
    try:
        year = int(request.GET.get("year") or timezone.localdate().year)
    except ValueError:
        year = timezone.localdate().year
    return min(max(year, 2000), 2100)


def years_of(request: AuthedRequest, fund: Fund, year: int) -> list[int]:
    budgets = Budget.objects.for_user(request.user).filter(fund=fund)
    found = set(budgets.values_list("year", flat=True).distinct())
    return sorted(found | {year, timezone.localdate().year}, reverse=True)


# --- funds --------------------------------------------------------------------------------


@login_required
def fund_list(request: AuthedRequest) -> HttpResponse:
    require_reader(request)
    rows = list(reports.visible_funds(request.user).order_by("code"))
    user_org = request.user.organisation
    for fund in rows:
        fund.editable = bool(  # type: ignore[attr-defined]
            user_org and user_org.contains(fund.organisation)
        )
    context = {
        "funds": rows,
        "AidKind": AidKind,
        "FundSource": FundSource,
        "may_manage": request.user.can(Capability.MANAGE_FUNDS),
    }
    return render(request, "web/funds/list.html", context)


def _fund_form_page(
    request: AuthedRequest, form: fundforms.FundForm, fund: Fund | None, status: int = 200
) -> HttpResponse:
    title = _("Edit fund") if fund else _("New fund")
    context = {"form": form, "fund": fund, "title": title}
    return render(request, "web/funds/fund_form.html", context, status=status)


@login_required
def fund_new(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.MANAGE_FUNDS)
    form = fundforms.FundForm(request.POST or None)
    if request.method != "POST":
        return _fund_form_page(request, form, None)
    if form.is_valid():
        data = form.cleaned_data
        try:
            fund = funds.define_fund(
                request.user,
                code=data["code"],
                name=data["name"],
                source=data["source"],
                purposes=data["purposes"],
                requires_file=data["requires_file"],
            )
        except DomainError as exc:
            attach_error(request, form, exc)
            return _fund_form_page(request, form, None, error_status(exc))
        messages.success(request, _("The fund %(code)s is defined.") % {"code": fund.code})
        return redirect("fund-list")
    return _fund_form_page(request, form, None, 400)


@login_required
def fund_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    fund = get_for_user_or_404(Fund.objects.select_related("organisation"), request.user, pk=pk)
    require_capability(request, Capability.MANAGE_FUNDS)
    form = fundforms.FundForm(request.POST or None, fund=fund)
    if request.method != "POST":
        return _fund_form_page(request, form, fund)
    if form.is_valid():
        data = form.cleaned_data
        try:
            funds.update_fund(
                request.user,
                fund,
                name=data["name"],
                purposes=data["purposes"],
                requires_file=data["requires_file"],
                active=data["active"],
            )
        except DomainError as exc:
            attach_error(request, form, exc)
            return _fund_form_page(request, form, fund, error_status(exc))
        messages.success(request, _("The changes are saved and recorded in the history."))
        return redirect("fund-list")
    return _fund_form_page(request, form, fund, 400)


# --- the budget tree ------------------------------------------------------------------------


@login_required
def fund_budgets(request: AuthedRequest, pk: int) -> HttpResponse:
    require_reader(request)
    fund = visible_fund(request, pk)
    year = chosen_year(request)
    return _budgets_page(request, fund, year)


def _budgets_page(
    request: AuthedRequest,
    fund: Fund,
    year: int,
    open_form: fundforms.OpenBudgetForm | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = reports.budget_tree(request.user, fund, year)
    user_org = request.user.organisation
    may_open = (
        request.user.can(Capability.MANAGE_FUNDS)
        and user_org is not None
        and user_org.pk == fund.organisation_id
        and not any(row.budget.organisation_id == user_org.pk for row in rows)
    )
    context = {
        "fund": fund,
        "year": year,
        "years": years_of(request, fund, year),
        "rows": rows,
        # Allocations inside the subtree cancel out: the sum is what reached it.
        "total": sum((r.figures for r in rows), reports.Figures()),
        "open_form": open_form or (fundforms.OpenBudgetForm(initial={"year": year})),
        "may_open": may_open or open_form is not None,
    }
    return render(request, "web/funds/budgets.html", context, status=status)


@login_required
@require_POST
def budget_open(request: AuthedRequest, pk: int) -> HttpResponse:
    fund = visible_fund(request, pk)
    require_capability(request, Capability.MANAGE_FUNDS)
    form = fundforms.OpenBudgetForm(request.POST)
    year = chosen_year(request)
    if not form.is_valid():
        return _budgets_page(request, fund, year, form, 400)
    year = form.cleaned_data["year"]
    organisation = request.user.organisation
    assert organisation is not None
    try:
        budget = funds.open_budget(request.user, fund, organisation, year)
    except DomainError as exc:
        attach_error(request, form, exc)
        return _budgets_page(request, fund, year, form, error_status(exc))
    return redirect("budget-detail", pk=budget.pk)


# --- one budget: its ledger and the actions on it -----------------------------------------


def _budget(request: AuthedRequest, pk: int) -> Budget:
    budgets = Budget.objects.select_related("fund", "organisation", "parent__organisation")
    return get_for_user_or_404(budgets, request.user, pk=pk)


def _budget_forms(
    request: AuthedRequest, budget: Budget, bound: dict[str, BaseForm]
) -> dict[str, BaseForm]:
    if not request.user.can(Capability.MANAGE_FUNDS):
        return {}
    below = Organisation.objects.for_user(request.user)
    forms: dict[str, BaseForm] = {
        "receive": fundforms.AmountForm(prefix="receive"),
        "allocate": fundforms.AllocateForm(prefix="allocate", budget=budget, below=below),
    }
    if budget.parent_id is not None:
        forms["return"] = fundforms.AmountForm(prefix="return")
    return forms | bound


def _budget_page(
    request: AuthedRequest,
    budget: Budget,
    bound: dict[str, BaseForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    require_reader(request)
    entries = (
        LedgerEntry.objects.filter(budget=budget)
        .select_related("actor", "counterpart__organisation", "line__worker")
        .order_by("-at", "-id")
    )
    context = {
        "budget": budget,
        "check": reports.reconcile(budget),
        "page": paginate(request, entries, settings.GONGHUI_PAGE_SIZE),
        "forms": _budget_forms(request, budget, bound or {}),
        "LedgerKind": LedgerKind,
        "page_url": reverse("budget-detail", args=[budget.pk]),
    }
    return render(request, "web/funds/budget.html", context, status=status)


@login_required
def budget_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return _budget_page(request, _budget(request, pk))


def _budget_action(request: AuthedRequest, pk: int, name: str) -> HttpResponse:
    budget = _budget(request, pk)
    require_capability(request, Capability.MANAGE_FUNDS)
    form: fundforms.AmountForm
    if name == "allocate":
        below = Organisation.objects.for_user(request.user)
        form = fundforms.AllocateForm(request.POST, prefix=name, budget=budget, below=below)
    else:
        form = fundforms.AmountForm(request.POST, prefix=name)
    if not form.is_valid():
        return _budget_page(request, budget, {name: form}, 400)
    try:
        done = _apply(request, budget, name, form)
    except DomainError as exc:
        attach_error(request, form, exc)
        return _budget_page(request, budget, {name: form}, error_status(exc))
    messages.success(request, done)
    return redirect("budget-detail", pk=budget.pk)


def _apply(request: AuthedRequest, budget: Budget, name: str, form: fundforms.AmountForm) -> str:
    user, amount, memo = request.user, form.amount_fen, form.cleaned_data["memo"]
    yuan = format_fen(amount)
    if name == "receive":
        funds.receive(user, budget, amount, memo)
        return _("%(amount)s yuan received.") % {"amount": yuan}
    if name == "return":
        funds.return_unspent(user, budget, amount, memo)
        return _("%(amount)s yuan returned upwards.") % {"amount": yuan}
    org = form.cleaned_data["organisation"]
    funds.allocate(user, budget, org, amount, memo)
    return _("%(amount)s yuan allocated to %(org)s.") % {"amount": yuan, "org": org.name}


@login_required
@require_POST
def budget_receive(request: AuthedRequest, pk: int) -> HttpResponse:
    return _budget_action(request, pk, "receive")


@login_required
@require_POST
def budget_allocate(request: AuthedRequest, pk: int) -> HttpResponse:
    return _budget_action(request, pk, "allocate")


@login_required
@require_POST
def budget_return(request: AuthedRequest, pk: int) -> HttpResponse:
    return _budget_action(request, pk, "return")


# --- fund views -----------------------------------------------------------------------------


def _view_org(request: AuthedRequest) -> Organisation:
    """The organisation a view is about: ``?org=`` within the user's subtree, or theirs."""
    raw = request.GET.get("org") or ""
    if raw.isdigit():
        return get_for_user_or_404(Organisation, request.user, pk=int(raw))
    if request.user.organisation is None:
        raise Http404
    return request.user.organisation


def _view(request: AuthedRequest, pk: int) -> reports.FundView:
    require_reader(request)
    fund = visible_fund(request, pk)
    return reports.fund_view(request.user, fund, chosen_year(request), _view_org(request))


def query(**params: Any) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


@login_required
def fund_report(request: AuthedRequest, pk: int) -> HttpResponse:
    view = _view(request, pk)
    context = {
        "view": view,
        "years": years_of(request, view.fund, view.year),
        "base": query(year=view.year, org=view.organisation.pk),
        "page_url": request.get_full_path(),
    }
    return render(request, "web/funds/report.html", context)


@login_required
def fund_report_xlsx(request: AuthedRequest, pk: int) -> HttpResponse:
    view = _view(request, pk)
    name, data = reports.fund_view_xlsx(request.user, view, "web")
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def fund_entries(request: AuthedRequest, pk: int) -> HttpResponse:
    """The ledger entries behind one figure of a fund view: their sum is the figure."""
    require_reader(request)
    fund = visible_fund(request, pk)
    year, organisation = chosen_year(request), _view_org(request)
    measure = request.GET.get("measure") or "paid"
    own = request.GET.get("own") == "1"
    try:
        month = reports.parse_month(request.GET.get("month", ""))
        entries = reports.entries_behind(
            request.user, fund, year, organisation, measure, month, own=own
        )
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": str(exc)}, status=400)
    total = entries.aggregate(total=Sum("signed"))["total"] or 0
    entries = entries.select_related(
        "budget__organisation", "actor", "line__worker", "line__file", "payment"
    )
    context = {
        "fund": fund,
        "year": year,
        "organisation": organisation,
        "measure": measure,
        "measure_label": MEASURE_LABELS.get(measure, measure),
        "own": own,
        "month": request.GET.get("month", ""),
        "total": total,
        "page": paginate(request, entries, settings.GONGHUI_PAGE_SIZE),
        "LedgerKind": LedgerKind,
        "back": reverse("fund-report", args=[fund.pk]) + query(year=year, org=organisation.pk),
    }
    return render(request, "web/funds/entries.html", context)
