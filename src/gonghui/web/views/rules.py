"""Screening-rule pages (issue 4, point 3): the rules with their version, status and last
run; one rule with its definition, its parameters (a change makes a new version), a dry
run that shows per organisation what a run would add, drop, change and keep, the switch,
the run itself and the history of runs; and the start of the fuzzy linkage of a list.

Rules are shared by every administrator who imports lists (a rule has no union); what a
rule does is scoped: a dry run or a run counts and touches only the user's subtree, and
runs are seen by the unions above the one that made them. Every change is one call to
:mod:`gonghui.discovery.screening` or :mod:`gonghui.discovery.linking`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.discovery import linking, screening
from gonghui.discovery.choices import RuleStatus, RunKind
from gonghui.discovery.models import Candidate, ListImport, ScreeningRule, ScreeningRun
from gonghui.errors import DomainError
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web import ruleforms
from gonghui.web.http import AuthedRequest, error_status, paginate, require_capability

ACTIONS = ("parameters", "dry_run", "switch", "run")


def _runs(request: AuthedRequest) -> Any:
    return ScreeningRun.objects.for_user(request.user)


# --- the list -----------------------------------------------------------------------------


@login_required
def rule_list(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.IMPORT_ROSTERS)
    runs = _runs(request).filter(rule=OuterRef("pk")).order_by("-created_at", "-id")
    counted = (
        Candidate.objects.for_user(request.user)
        .filter(rule=OuterRef("pk"), dropped_at__isnull=True)
        .order_by()
        .values("rule")
        .annotate(n=Count("pk"))
        .values("n")
    )
    found = ScreeningRule.objects.annotate(
        last_run_id=Subquery(runs.values("pk")[:1]),
        active_candidates=Subquery(counted, output_field=IntegerField()),
    ).order_by("code")
    rule_rows = list(found)
    last = _runs(request).filter(pk__in=[r.last_run_id for r in rule_rows if r.last_run_id])
    last_runs = {run.pk: run for run in last.select_related("created_by")}
    rows = [
        {
            "rule": rule,
            "parameters": ruleforms.current(rule),
            "last_run": last_runs.get(rule.last_run_id),
            "candidates": rule.active_candidates or 0,
        }
        for rule in rule_rows
    ]
    return render(request, "web/rules/index.html", {"rows": rows, "RuleStatus": RuleStatus})


# --- one rule -----------------------------------------------------------------------------


def _rule(request: AuthedRequest, pk: int) -> ScreeningRule:
    require_capability(request, Capability.IMPORT_ROSTERS)
    return get_object_or_404(ScreeningRule, pk=pk)


def _page(
    request: AuthedRequest,
    rule: ScreeningRule,
    forms: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    forms = forms or {}
    history = _runs(request).filter(rule=rule).select_related("created_by", "organisation")
    context = {
        "rule": rule,
        "sql": (rule.definition or {}).get("sql", "").strip(),
        "parameters": ruleforms.current(rule),
        "parameters_form": forms.get("parameters")
        or ruleforms.ParametersForm(rule=rule, prefix="p"),
        "dry_form": forms.get("dry_run") or ruleforms.AsOfForm(prefix="dry"),
        "run_form": forms.get("run") or ruleforms.AsOfForm(prefix="run"),
        "page": paginate(request, history, settings.GONGHUI_PAGE_SIZE),
        "RuleStatus": RuleStatus,
        "is_on": rule.status == RuleStatus.ON,
    }
    return render(request, "web/rules/detail.html", context, status=status)


@login_required
def rule_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    if request.method != "POST":
        return _page(request, rule)
    action = request.POST.get("action", "")
    if action == "parameters":
        return _change_parameters(request, rule)
    if action in ("dry_run", "run"):
        return _screen(request, rule, action)
    if action == "switch":
        return _switch(request, rule)
    messages.error(request, _("Unknown action."))
    return _page(request, rule, status=400)


def _change_parameters(request: AuthedRequest, rule: ScreeningRule) -> HttpResponse:
    form = ruleforms.ParametersForm(request.POST, rule=rule, prefix="p")
    if not form.is_valid():
        return _page(request, rule, {"parameters": form}, 400)
    values = form.values()
    if values == rule.parameters:
        messages.info(request, _("The parameters are unchanged."))
        return redirect("rule-detail", pk=rule.pk)
    try:
        rule = screening.change_rule(request.user, rule, parameters=values)
    except DomainError as exc:
        form.attach(exc)
        rule.refresh_from_db()
        return _page(request, rule, {"parameters": form}, error_status(exc))
    messages.success(
        request,
        _("The parameters are saved: the rule is now version %(version)s.")
        % {"version": rule.version},
    )
    return redirect("rule-detail", pk=rule.pk)


def _switch(request: AuthedRequest, rule: ScreeningRule) -> HttpResponse:
    wanted = request.POST.get("status", "")
    if wanted not in (RuleStatus.ON, RuleStatus.OFF):
        messages.error(request, _("A rule is switched on or off."))
        return _page(request, rule, status=400)
    try:
        rule = screening.change_rule(request.user, rule, status=wanted)
    except DomainError as exc:
        messages.error(request, str(exc))
        return _page(request, rule, status=error_status(exc))
    if wanted == RuleStatus.ON:
        messages.success(request, _("The rule is on: a run applies what it finds."))
    else:
        messages.success(request, _("The rule is off: its candidates stay as they are."))
    return redirect("rule-detail", pk=rule.pk)


def _screen(request: AuthedRequest, rule: ScreeningRule, action: str) -> HttpResponse:
    form = ruleforms.AsOfForm(request.POST, prefix="dry" if action == "dry_run" else "run")
    if not form.is_valid():
        return _page(request, rule, {action: form}, 400)
    as_of = form.cleaned_data["as_of"]
    try:
        if action == "dry_run":
            run = screening.dry_run(request.user, rule, as_of)
        else:
            run = screening.run_rule(request.user, rule, as_of)
    except DomainError as exc:
        if exc.field and exc.field in form.fields:
            form.add_error(exc.field, str(exc))
        else:
            form.add_error(None, str(exc))
            messages.error(request, str(exc))
        return _page(request, rule, {action: form}, error_status(exc))
    if run.kind == RunKind.DRY_RUN:
        text = _("Dry run: a run would add %(added)s, drop %(dropped)s and change %(changed)s.")
    else:
        text = _("Run: %(added)s candidates added, %(dropped)s dropped, %(changed)s changed.")
    messages.success(
        request, text % {"added": run.added, "dropped": run.dropped, "changed": run.changed}
    )
    return redirect("rule-run", pk=run.pk)


# --- one run ------------------------------------------------------------------------------


@login_required
def rule_run(request: AuthedRequest, pk: int) -> HttpResponse:
    require_capability(request, Capability.IMPORT_ROSTERS)
    found = ScreeningRun.objects.select_related("rule", "created_by", "organisation")
    run = get_for_user_or_404(found, request.user, pk=pk)
    rows = list(run.summary or [])
    totals = {
        key: sum(int(r.get(key, 0)) for r in rows) for key in ("add", "drop", "change", "keep")
    }
    context = {
        "run": run,
        "rule": run.rule,
        "rows": rows,
        "totals": totals,
        "stale": run.rule_version != run.rule.version,
        "RunKind": RunKind,
        "RuleStatus": RuleStatus,
        "run_form": ruleforms.AsOfForm(prefix="run", initial={"as_of": run.as_of}),
        "is_on": run.rule.status == RuleStatus.ON,
        "today": timezone.localdate(),
    }
    return render(request, "web/rules/run.html", context)


# --- the fuzzy linkage of a list ---------------------------------------------------------


@login_required
@require_POST
def linkage_start(request: AuthedRequest, pk: int) -> HttpResponse:
    """Link the rows of a finished list that their ID number does not link, then show the
    pairs waiting for a decision."""
    require_capability(request, Capability.IMPORT_ROSTERS)
    imp = get_for_user_or_404(ListImport.objects.all(), request.user, pk=pk)
    try:
        report = linking.run_linkage(request.user, imp)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("list-import", pk=imp.pk)
    messages.success(
        request,
        _(
            "Linkage done: %(compared)s rows compared, %(links)s linked, %(reviews)s pairs "
            "to review."
        )
        % {"compared": report.compared_rows, "links": report.links, "reviews": report.reviews},
    )
    return redirect(reverse("link-review-list") + "?" + urlencode({"list": imp.pk}))
