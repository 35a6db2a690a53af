"""The outreach worklist, the precision of each screening rule and the coverage view
(issue 4, points 5 and 6). Every object comes through the scoping rule (an outsider gets
a 404); every change is one call to :mod:`gonghui.discovery.outreach`, whose refusals are
shown on the field they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from gonghui.accounts.choices import Capability
from gonghui.discovery import outreach
from gonghui.discovery.choices import CandidateStatus
from gonghui.discovery.models import Candidate, ScreeningRule
from gonghui.errors import DomainError
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web.http import AuthedRequest, attach_error, error_status, paginate


class OutcomeForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=[(s.value, s.label) for s in outreach.OUTCOMES],
    )
    # Required for "not eligible" only: the service says so, on this field.
    reason = forms.CharField(
        label=gettext_lazy("Reason or notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _require_queue(request: AuthedRequest) -> None:
    if not outreach.may_work(request.user):
        raise PermissionDenied


def _require_figures(request: AuthedRequest) -> None:
    if not outreach.may_see_figures(request.user):
        raise PermissionDenied


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def worklist(request: AuthedRequest) -> HttpResponse:
    """The candidates of the user's subtree, newest first, by rule and by status."""
    _require_queue(request)
    rule = _int(request.GET.get("rule"))
    status = request.GET.get("status") or ""
    if status not in CandidateStatus.values:
        status = ""
    page = paginate(
        request, outreach.worklist(request.user, rule, status), settings.GONGHUI_PAGE_SIZE
    )
    rows = list(page.object_list)
    evidence = outreach.evidence_in_words(rows)
    context = {
        "page": page,
        "rows": [(c, evidence.get(c.pk, [])) for c in rows],
        "rules": ScreeningRule.objects.order_by("code"),
        "statuses": CandidateStatus.choices,
        "rule": rule,
        "status": status,
        "may_open": request.user.can(Capability.OPEN_FILE),
    }
    return render(request, "web/outreach/worklist.html", context)


def _candidate(request: AuthedRequest, pk: int) -> Candidate:
    rows = Candidate.objects.select_related("worker", "organisation", "rule", "found_by")
    return get_for_user_or_404(outreach.with_file(rows), request.user, pk=pk)


def _candidate_page(
    request: AuthedRequest, candidate: Candidate, form: OutcomeForm | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "candidate": candidate,
        # One worker's page: ID numbers and phones shown to a role that may see them.
        "show_personal": True,
        "evidence": outreach.evidence_in_words(
            [candidate], reveal=request.user.can(Capability.SEE_PERSONAL)
        ).get(candidate.pk, []),
        "form": form or OutcomeForm(initial={"status": candidate.status}),
        "may_record": candidate.dropped_at is None,
        "may_open": request.user.can(Capability.OPEN_FILE),
    }
    return render(request, "web/outreach/candidate.html", context, status=status)


@login_required
def candidate_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """A candidate with its evidence; POST records the outcome of the contact."""
    candidate = _candidate(request, pk)
    _require_queue(request)
    if request.method != "POST":
        return _candidate_page(request, candidate)
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        return _candidate_page(request, candidate, form, 400)
    data = form.cleaned_data
    try:
        outreach.record_outcome(request.user, candidate, data["status"], data["reason"])
    except DomainError as exc:
        attach_error(request, form, exc)
        return _candidate_page(request, candidate, form, error_status(exc))
    messages.success(request, _("The outcome is recorded."))
    target = request.POST.get("next", "")
    if target.startswith("/outreach/") and "//" not in target:
        return redirect(target)
    return redirect("outreach-candidate", pk=candidate.pk)


@login_required
@require_GET
def candidate_apply(request: AuthedRequest, pk: int) -> HttpResponse:
    """One click from a candidate to the new-application page for the worker (the ID
    number goes into the URL here, not into the masked list)."""
    candidate = _candidate(request, pk)
    if not request.user.can(Capability.OPEN_FILE):
        raise PermissionDenied
    query = urlencode({"id_number": candidate.worker.id_number})
    return redirect(f"{reverse('file-new')}?{query}")


@login_required
@require_GET
def rule_precision(request: AuthedRequest) -> HttpResponse:
    _require_figures(request)
    return render(request, "web/outreach/rules.html", {"rows": outreach.precision(request.user)})


def _coverage(request: AuthedRequest, organisation: Organisation) -> HttpResponse:
    _require_figures(request)
    rows = outreach.coverage(request.user, organisation)
    user_org = request.user.organisation
    assert user_org is not None
    trail = [o for o in organisation.ancestors() if user_org.contains(o)]
    context: dict[str, Any] = {
        "organisation": organisation,
        "rows": rows[:-1],
        "total": rows[-1],
        "trail": trail,
    }
    return render(request, "web/outreach/coverage.html", context)


@login_required
@require_GET
def coverage(request: AuthedRequest) -> HttpResponse:
    _require_figures(request)
    assert request.user.organisation is not None
    return _coverage(request, request.user.organisation)


@login_required
@require_GET
def coverage_of(request: AuthedRequest, pk: int) -> HttpResponse:
    organisation = get_for_user_or_404(Organisation, request.user, pk=pk)
    return _coverage(request, organisation)
