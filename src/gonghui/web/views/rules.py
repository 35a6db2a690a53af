"""Screening-rule pages (issue 4, point 3): the rules with their version, status and last
run; one rule with its definition, its parameters (a change makes a new version), its
versions, a dry run that shows per organisation what a run would add, drop, change and
keep, the switch, the run itself and the history of runs; the definition of a new rule, of
a copy of a rule, or a new version of a rule's SQL, checked by the compiler before it is
saved (the compiled DuckDB and Spark SQL shown); the background jobs that do dry runs and
runs (progress, state, the failure's message, start again); and the start of the fuzzy
linkage of a list.

Rules are province-wide policy (:mod:`gonghui.discovery.screening`): every administrator
sees them and dry-runs them for their subtree; only the province federation changes,
switches and runs them. The pages show each user the forms they may use; the services
decide. Every change is one call to :mod:`gonghui.discovery.screening` or
:mod:`gonghui.discovery.linking`.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.discovery import jobs, linking, rules, screening
from gonghui.discovery.choices import JobStatus, RuleStatus, RunKind
from gonghui.discovery.models import (
    Candidate,
    ListImport,
    ScreeningJob,
    ScreeningRule,
    ScreeningRun,
)
from gonghui.errors import DomainError
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web import ruleforms
from gonghui.web.http import (
    AuthedRequest,
    error_status,
    paginate,
    render_page,
    require_capability,
)

ACTIONS = ("parameters", "dry_run", "switch", "run")
RECENT_JOBS = 10


def _require_viewer(request: AuthedRequest) -> None:
    if not screening.may_see_rules(request.user):
        raise PermissionDenied


def _require_definer(request: AuthedRequest) -> None:
    """The definition pages are for those the service lets define rules (403 otherwise);
    the service checks again when it saves."""
    if not screening.may_define_rules(request.user):
        raise PermissionDenied


def _runs(request: AuthedRequest) -> Any:
    return ScreeningRun.objects.for_user(request.user)


def _may(request: AuthedRequest) -> dict[str, bool]:
    return {
        "may_define": screening.may_define_rules(request.user),
        "may_run": screening.may_run_rules(request.user),
    }


# --- the list -----------------------------------------------------------------------------


@login_required
def rule_list(request: AuthedRequest) -> HttpResponse:
    _require_viewer(request)
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
    recent = (
        ScreeningJob.objects.for_user(request.user)
        .select_related("rule", "created_by")
        .order_by("-created_at", "-id")[:RECENT_JOBS]
    )
    context = {
        "rows": rows,
        "RuleStatus": RuleStatus,
        "RunKind": RunKind,
        "jobs": list(recent),
        "any_on": any(r.status == RuleStatus.ON for r in rule_rows),
        "all_form": ruleforms.AsOfForm(prefix="all"),
        **_may(request),
    }
    return render(request, "web/rules/index.html", context)


@login_required
@require_POST
def rule_all(request: AuthedRequest) -> HttpResponse:
    """A dry run or a run of every switched-on rule, as one background job."""
    _require_viewer(request)
    kind = request.POST.get("kind", "")
    form = ruleforms.AsOfForm(request.POST, prefix="all")
    if not form.is_valid() or kind not in RunKind.values:
        messages.error(request, _("Choose a day, and a dry run or a run."))
        return redirect("rule-list")
    try:
        job = screening.start_job(request.user, kind, None, form.cleaned_data["as_of"])
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("rule-list")
    return _launch(request, job)


# --- one rule -----------------------------------------------------------------------------


def _rule(request: AuthedRequest, pk: int) -> ScreeningRule:
    _require_viewer(request)
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
        "versions": _versions(request, rule),
        "sql": (rule.definition or {}).get("sql", "").strip(),
        "parameters": ruleforms.current(rule),
        "parameters_form": forms.get("parameters")
        or ruleforms.ParametersForm(rule=rule, prefix="p"),
        "dry_form": forms.get("dry_run") or ruleforms.AsOfForm(prefix="dry"),
        "run_form": forms.get("run") or ruleforms.AsOfForm(prefix="run"),
        "page": paginate(request, history, settings.GONGHUI_PAGE_SIZE),
        "RuleStatus": RuleStatus,
        "is_on": rule.status == RuleStatus.ON,
        **_may(request),
    }
    return render(request, "web/rules/detail.html", context, status=status)


def _versions(request: AuthedRequest, rule: ScreeningRule) -> list[dict[str, Any]]:
    """The rule's kept versions, newest first: what changed from the one before, and how
    many of the user's candidates (still found) that version found."""
    kept = list(rule.versions.select_related("created_by").order_by("version"))
    counted = dict(
        Candidate.objects.for_user(request.user)
        .filter(rule=rule, dropped_at__isnull=True)
        .order_by()
        .values_list("rule_version")
        .annotate(n=Count("pk"))
        .values_list("rule_version", "n")
    )
    rows, before = [], None
    for kept_version in kept:
        sql = (kept_version.definition or {}).get("sql", "")
        rows.append(
            {
                "version": kept_version,
                "sql": sql.strip(),
                "sql_changed": before is not None and sql != before.definition.get("sql", ""),
                "definition_changed": before is not None
                and kept_version.definition != before.definition,
                "parameters_changed": before is not None
                and kept_version.parameters != before.parameters,
                "values": ruleforms.values_of(kept_version.definition, kept_version.parameters),
                "candidates": counted.get(kept_version.version, 0),
            }
        )
        before = kept_version
    return rows[::-1]


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
        rule.refresh_from_db()
        return _page(request, rule, status=error_status(exc))
    if wanted == RuleStatus.ON:
        messages.success(request, _("The rule is on: a run applies what it finds."))
    else:
        messages.success(request, _("The rule is off: its candidates stay as they are."))
    return redirect("rule-detail", pk=rule.pk)


def _screen(request: AuthedRequest, rule: ScreeningRule, action: str) -> HttpResponse:
    """Start the dry run or run as a background job and show its progress."""
    form = ruleforms.AsOfForm(request.POST, prefix="dry" if action == "dry_run" else "run")
    if not form.is_valid():
        return _page(request, rule, {action: form}, 400)
    kind = RunKind.DRY_RUN if action == "dry_run" else RunKind.RUN
    try:
        job = screening.start_job(request.user, kind, rule, form.cleaned_data["as_of"])
    except DomainError as exc:
        if exc.field and exc.field in form.fields:
            form.add_error(exc.field, str(exc))
        else:
            form.add_error(None, str(exc))
            messages.error(request, str(exc))
        return _page(request, rule, {action: form}, error_status(exc))
    return _launch(request, job)


def _launch(request: AuthedRequest, job: ScreeningJob) -> HttpResponse:
    """Start the job's process unless one already works on it; the page comes back at once."""
    if jobs.state(job) != "running":
        jobs.start(job.pk, request.user, jobs.SCREEN)
    return redirect("rule-job", pk=job.pk)


# --- defining a rule: new, a copy, a new version of one ------------------------------------

SAVE = "save"  # the button that saves; any other submit only checks


@login_required
def rule_new(request: AuthedRequest) -> HttpResponse:
    """A new rule, blank or a copy of another (``?copy=<id>``): checked, then saved as a
    draft through :func:`screening.create_rule`."""
    _require_definer(request)
    source = _source(request)
    if request.method == "POST":
        form = ruleforms.RuleDefinitionForm(request.POST)
        formset = ruleforms.parameter_formset(request.POST)
        return _definition_post(request, form, formset, None, source)
    form = ruleforms.RuleDefinitionForm(initial=_copy_initial(source) if source else None)
    formset = ruleforms.parameter_formset(specs=ruleforms.declared(source) if source else None)
    return _definition_page(request, form, formset, None, source)


@login_required
def rule_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """A rule's SQL and declared parameters changed: a new version
    (:func:`screening.change_rule`), the old one kept."""
    _require_definer(request)
    rule = get_object_or_404(ScreeningRule, pk=pk)
    if request.method == "POST":
        form = ruleforms.RuleDefinitionForm(request.POST, rule=rule, initial=_initial(rule))
        formset = ruleforms.parameter_formset(request.POST)
        return _definition_post(request, form, formset, rule, None)
    form = ruleforms.RuleDefinitionForm(rule=rule, initial=_initial(rule))
    formset = ruleforms.parameter_formset(specs=ruleforms.declared(rule))
    return _definition_page(request, form, formset, rule, None)


def _source(request: AuthedRequest) -> ScreeningRule | None:
    pk = request.GET.get("copy", "")
    if not pk:
        return None
    if not pk.isdigit():
        raise Http404
    return get_object_or_404(ScreeningRule, pk=int(pk))


def _initial(rule: ScreeningRule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name": rule.label,
        "description": rule.text,
        "sql": (rule.definition or {}).get("sql", "").strip(),
        "version": rule.version,
    }


def _copy_initial(source: ScreeningRule) -> dict[str, Any]:
    """The copied rule's text in the reader's language (a built-in rule's is translated),
    and a free code beside its own."""
    taken = set(
        ScreeningRule.objects.filter(code__startswith=source.code).values_list("code", flat=True)
    )
    number = 2
    while f"{source.code}-{number}" in taken:
        number += 1
    return {
        **_initial(source),
        "code": f"{source.code}-{number}",
        "name": _("%(name)s (copy)") % {"name": source.label},
        "version": None,
    }


def _definition_post(
    request: AuthedRequest,
    form: ruleforms.RuleDefinitionForm,
    formset: Any,
    rule: ScreeningRule | None,
    source: ScreeningRule | None,
) -> HttpResponse:
    """Check (the button) or save (which checks too); a refusal lands on its field."""
    if not (form.is_valid() and formset.is_valid()):
        return _definition_page(request, form, formset, rule, source, status=400)
    definition = ruleforms.definition_of(form, formset)
    try:
        if request.POST.get("do") != SAVE:
            values = screening.kept_parameters(rule, definition) if rule else {}
            compiled = screening.check_rule(definition, values)
            return _definition_page(request, form, formset, rule, source, compiled=compiled)
        saved = _save(request, form, definition, rule)
    except DomainError as exc:
        ruleforms.attach_definition_error(exc, form, formset)
        return _definition_page(request, form, formset, rule, source, status=error_status(exc))
    return redirect("rule-detail", pk=saved.pk)


def _save(
    request: AuthedRequest,
    form: ruleforms.RuleDefinitionForm,
    definition: dict[str, Any],
    rule: ScreeningRule | None,
) -> ScreeningRule:
    data = form.cleaned_data
    if rule is None:
        made = screening.create_rule(
            request.user, data["code"], data["name"], definition, description=data["description"]
        )
        messages.success(
            request,
            _("The rule is saved as a draft, version 1. Try it with a dry run, then switch it on."),
        )
        return made
    before = (rule.version, rule.name, rule.description)
    if _unchanged(definition, rule.definition):
        definition = rule.definition  # the stored SQL's own blank lines are no new version
    rule = screening.change_rule(
        request.user,
        rule,
        definition=definition,
        name=data.get("name"),
        description=data.get("description"),
        expected_version=data.get("version"),
    )
    if rule.version != before[0]:
        messages.success(
            request,
            _(
                "The rule is now version %(version)s; version %(old)s is kept for the "
                "candidates it found. Try the new version with a dry run."
            )
            % {"version": rule.version, "old": before[0]},
        )
    elif (rule.name, rule.description) != before[1:]:
        messages.success(request, _("The name and description are saved."))
    else:
        messages.info(request, _("Nothing changed."))
    return rule


def _unchanged(edited: dict[str, Any], stored: dict[str, Any]) -> bool:
    """The same SQL (the form strips the blank lines around it) and parameters."""
    return edited["sql"] == (stored.get("sql") or "").strip() and edited["parameters"] == (
        stored.get("parameters") or {}
    )


def _pretty(sql: str, dialect: str) -> str:
    """The compiled SQL laid out on lines (the same tree, printed again by SQLGlot)."""
    try:
        return sqlglot.transpile(sql, read=dialect, write=dialect, pretty=True)[0]
    except sqlglot.errors.SqlglotError:
        return sql


def _definition_page(
    request: AuthedRequest,
    form: ruleforms.RuleDefinitionForm,
    formset: Any,
    rule: ScreeningRule | None,
    source: ScreeningRule | None,
    *,
    compiled: Any = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "formset": formset,
        "rule": rule,
        "source": source,
        "compiled": compiled,
        "duckdb_sql": _pretty(compiled.duckdb, "duckdb") if compiled else "",
        "spark_sql": _pretty(compiled.spark, "spark") if compiled else "",
        # The values set on the rule's page (those left at their default follow the table).
        "values": [v for v in ruleforms.current(rule) if v[0] in rule.parameters] if rule else [],
        "tables": ruleforms.catalogue(),
        "outputs": ruleforms.outputs(),
        "builtins": rules.BUILTIN_PARAMETERS,
        "types": [(kind, ruleforms.TYPE_LABELS[kind]) for kind in rules.PARAMETER_TYPES],
    }
    return render(request, "web/rules/definition.html", context, status=status)


# --- one job ------------------------------------------------------------------------------


def _job(request: AuthedRequest, pk: int) -> ScreeningJob:
    _require_viewer(request)
    found = ScreeningJob.objects.select_related("rule", "created_by", "organisation")
    return get_for_user_or_404(found, request.user, pk=pk)


@login_required
def rule_job(request: AuthedRequest, pk: int) -> HttpResponse:
    """The job's state and progress (htmx asks again every second while it runs), then
    what each rule's run found, per union."""
    job = _job(request, pk)
    state = jobs.state(job)
    runs = screening.job_runs(job)
    single = runs[0] if job.rule_id and len(runs) == 1 else None
    rows = list(single.summary or []) if single else []
    context = {
        "job": job,
        "state": state,
        "polling": state == "running",
        "may_resume": job.status == JobStatus.FAILED or state == "stopped",
        "runs": runs,
        "single": single,
        "rows": rows,
        "totals": _totals(rows),
        "step": _step_label(job.step),
        "command": " ".join(jobs.command(job.pk, request.user.get_username(), jobs.SCREEN)[1:]),
        "JobStatus": JobStatus,
        "RunKind": RunKind,
    }
    return render_page(request, "web/rules/job.html", "web/rules/_job.html", context)


def _step_label(step: str) -> str:
    if step == screening.SNAPSHOT_STEP:
        return _("Taking the snapshot")
    return step


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(int(r.get(key, 0)) for r in rows) for key in ("add", "drop", "change", "keep")}


@login_required
@require_POST
def rule_job_resume(request: AuthedRequest, pk: int) -> HttpResponse:
    """Start a failed or stopped job again: it reads the snapshot it began with and skips
    the rules it already did, so it ends as it would have."""
    job = _job(request, pk)
    if job.status == JobStatus.DONE or jobs.state(job) == "running":
        messages.error(request, _("This job is running or done; there is nothing to start."))
    else:
        jobs.start(job.pk, request.user, jobs.SCREEN)
        messages.success(request, _("The job goes on from where it stopped."))
    return redirect("rule-job", pk=job.pk)


# --- one run ------------------------------------------------------------------------------


@login_required
def rule_run(request: AuthedRequest, pk: int) -> HttpResponse:
    _require_viewer(request)
    found = ScreeningRun.objects.select_related("rule", "created_by", "organisation")
    run = get_for_user_or_404(found, request.user, pk=pk)
    rows = list(run.summary or [])
    context = {
        "run": run,
        "rule": run.rule,
        "rows": rows,
        "totals": _totals(rows),
        "stale": run.rule_version != run.rule.version,
        "RunKind": RunKind,
        "RuleStatus": RuleStatus,
        "run_form": ruleforms.AsOfForm(prefix="run", initial={"as_of": run.as_of}),
        "is_on": run.rule.status == RuleStatus.ON,
        "today": timezone.localdate(),
        **_may(request),
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
