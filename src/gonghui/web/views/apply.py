"""A new application, and the household's finances for the 12 months before it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.errors import DomainError
from gonghui.hardship import services
from gonghui.hardship.choices import HardshipCategory
from gonghui.hardship.models import HardshipFile
from gonghui.people.idnumber import normalise
from gonghui.people.models import Household, Worker
from gonghui.people.services import create_household
from gonghui.web import forms as web_forms
from gonghui.web.http import AuthedRequest, attach_error, error_status, require_capability
from gonghui.web.people import has_household_elsewhere, household_of, open_file_of

from .files import case_file


def _find_worker(
    request: AuthedRequest, lookup: web_forms.IdNumberForm
) -> tuple[Worker | None, str]:
    """The worker in the user's scope with this number, and the number if none is found.

    A number the validator refuses is still looked up as typed: a worker registered before
    a stricter check (or imported) must not become impossible to find. Only when nobody has
    it does the validator's message stand.
    """
    workers = Worker.objects.for_user(request.user).select_related("organisation")
    if not lookup.is_valid():
        typed = normalised_or_blank(lookup.data.get("id_number", ""))
        worker = workers.holding(typed).first() if typed else None
        if worker is not None:
            lookup.errors.clear()
        return worker, ""
    number = lookup.cleaned_data["id_number"]
    worker = workers.holding(number).first()
    if worker is None:
        lookup.add_error(
            "id_number",
            _("No worker with this ID number is registered in your organisation."),
        )
        return None, number
    return worker, ""


def normalised_or_blank(raw: str) -> str:
    number = normalise(raw)
    return number if len(number) == 18 else ""


def _household_problem(worker: Worker, household: Household | None) -> str:
    if household is None and has_household_elsewhere(worker):
        return _("This worker belongs to a household outside your organisation.")
    return ""


def _open(
    request: AuthedRequest, worker: Worker, household: Household | None, data: dict[str, Any]
) -> HardshipFile:
    """Create the household if needed and open the file, all or nothing."""
    with transaction.atomic():
        home = household or create_household(request.user, worker, data["region"], data["address"])
        application = services.Application(
            household=home,
            applicant=worker,
            primary_cause=data["primary_cause"],
            applied_on=data["applied_on"],
            secondary_causes=data["secondary_causes"],
            exclusions_found=data["exclusions_found"],
            idle_able_members=data["idle_able_members"],
            income_pledge=data["income_pledge"],
            finance_check_authorised=data["finance_check_authorised"],
        )
        return services.open_application(request.user, application)


@login_required
def file_new(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.OPEN_FILE)
    # The ID number stays in the query string from the lookup through the POST.
    lookup = web_forms.IdNumberForm(request.GET if "id_number" in request.GET else None)
    worker, unknown_number = _find_worker(request, lookup)
    household = household_of(request.user, worker) if worker else None
    problem = _household_problem(worker, household) if worker else ""
    form, status = None, 200
    if worker is not None and not problem:
        form = web_forms.ApplicationForm(
            request.POST if request.method == "POST" else None,
            initial={"applied_on": timezone.localdate(), "region": worker.region_id},
            needs_household=household is None,
            organisation=request.user.organisation,
        )
        if form.is_bound:
            status = 400
            if form.is_valid():
                try:
                    file = _open(request, worker, household, form.cleaned_data)
                except DomainError as exc:
                    attach_error(request, form, exc)
                    status = error_status(exc)
                else:
                    messages.success(
                        request, _("File %(number)s is opened.") % {"number": file.number}
                    )
                    return redirect("file-finances", pk=file.pk)
    context = {
        "lookup": lookup,
        "worker": worker,
        "household": household,
        "open_file": open_file_of(household) if household else None,
        "problem": problem,
        "form": form,
        "show_personal": True,
        "register_url": (
            f"{reverse('worker-new')}?{urlencode({'next': 'apply', 'id_number': unknown_number})}"
            if unknown_number
            else ""
        ),
    }
    return render(request, "web/files/new.html", context, status=status)


def _line_formsets(request: AuthedRequest, file: HardshipFile, extra: int) -> tuple[Any, Any]:
    members = [
        (m.pk, f"{m.name} · {m.get_relation_display()}") for m in file.household.members.all()
    ]
    formset_class = web_forms.line_formset(extra)
    sets = []
    for prefix, kinds, lines in (
        ("income", web_forms.INCOME_KINDS, file.incomelines.all()),  # type: ignore[attr-defined]
        ("expense", web_forms.EXPENSE_KINDS, file.expenselines.all()),  # type: ignore[attr-defined]
    ):
        initial = [
            {"kind": li.kind, "amount": f"{li.amount:.2f}", "member": li.member_id, "note": li.note}
            for li in lines
        ]
        sets.append(
            formset_class(
                request.POST if request.method == "POST" else None,
                prefix=prefix,
                initial=None if request.method == "POST" else initial,
                form_kwargs={"kinds": kinds, "members": members},
            )
        )
    return sets[0], sets[1]


def _lines(formset: Any) -> list[services.Line]:
    return [
        services.Line(
            kind=form.cleaned_data["kind"],
            amount=form.cleaned_data["amount"],
            note=form.cleaned_data["note"],
            member_id=form.cleaned_data["member"],
        )
        for form in formset.forms
        if not form.is_blank
    ]


@login_required
def file_finances(request: AuthedRequest, pk: int) -> HttpResponse:
    file = case_file(request, pk)
    require_capability(request, Capability.OPEN_FILE)
    rows = request.GET.get("rows", "")
    extra = min(int(rows), 30) if rows.isdigit() else 3
    incomes, expenses = _line_formsets(request, file, extra)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        status = 400
        if incomes.is_valid() and expenses.is_valid():
            try:
                file = services.set_finances(request.user, file, _lines(incomes), _lines(expenses))
            except DomainError as exc:
                errors[exc.field or "all"] = str(exc)
                status = error_status(exc)
            else:
                messages.success(request, _finances_done(file))
                return redirect("file-detail", pk=file.pk)
    context = {
        "file": file,
        "incomes": incomes,
        "expenses": expenses,
        "errors": errors,
        "more_rows": extra + 5,
    }
    return render(request, "web/files/finances.html", context, status=status)


def _finances_done(file: HardshipFile) -> str:
    if file.proposed_category and file.per_capita_income is not None:
        return _(
            "The finances are saved. Per-capita monthly net income: %(amount)s yuan; "
            "proposed category: %(category)s."
        ) % {
            "amount": file.per_capita_income,
            "category": HardshipCategory(file.proposed_category).label,
        }
    return _("The finances are saved.")
