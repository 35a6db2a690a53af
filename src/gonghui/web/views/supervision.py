"""Indicators for an organisation's subtree and a period, one level down the tree, with
their trend and the exact records behind every value; and a leader's dashboard.

The indicator page and the dashboard read stored values (:mod:`gonghui.supervision.store`:
two queries, whatever the number of organisations and the length of the trend) and say
when they were computed; values older than the maximum age are marked stale, and a reader
may have them recomputed ("recompute now", :func:`indicator_refresh`). A period with no
stored values is computed (set-based, :func:`~gonghui.supervision.indicators.compute_periods`)
and stored on its first view. The records behind a value
(:func:`~gonghui.supervision.indicators.records`) and the value above them are always live,
with a note when the stored value differs. Who may read:
holders of SUPERVISE (:func:`may_read`); each of them may also read fund figures, which
matters because the records behind fund execution are ledger entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.assistance.models import AssistanceLine, LedgerEntry
from gonghui.assistance.money import format_fen
from gonghui.discovery import outreach
from gonghui.discovery.models import Candidate
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.models import FollowUp, HardshipFile
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people.models import Membership
from gonghui.people.personal import shown
from gonghui.supervision import access, store
from gonghui.supervision import competition as comp
from gonghui.supervision import indicators as lib
from gonghui.supervision.models import Competition, Finding
from gonghui.web.http import AuthedRequest, paginate
from gonghui.web.supervisionforms import PeriodForm, period_query

TREND_YEARS = store.TREND_YEARS  # the period and the same days of the three years before
DASHBOARD_CODES = (
    "files_per_1000_members",
    "days_to_filing",
    "days_to_first_help",
    "filed_within_limit",
    "helped_within_limit",
    "fund_execution",
)


def may_read(user: Any) -> bool:
    """Indicators, the records behind them and the dashboard: the SUPERVISE capability
    (leaders, reviewers, administrators); which organisations, the user's subtree."""
    return access.may_supervise(user)


def require_reader(request: AuthedRequest) -> None:
    if not may_read(request.user):
        raise PermissionDenied


def chosen_org(request: AuthedRequest) -> Organisation:
    """``?org=`` within the user's subtree (404 outside it), or the user's own."""
    raw = request.GET.get("org") or ""
    if raw.isdigit():
        return get_for_user_or_404(Organisation, request.user, pk=int(raw))
    if request.user.organisation is None:
        raise Http404
    return request.user.organisation


def drill_path(user: Any, organisation: Organisation) -> list[Organisation]:
    """The organisations from the user's own down to ``organisation``."""
    return [o for o in organisation.ancestors() if user.organisation.contains(o)]


def records_url(code: str, organisation: Organisation, period: lib.Period, part: str) -> str:
    params: dict[str, str] = {
        "code": code,
        "org": str(organisation.pk),
        "part": part,
        **period_query(period),
    }
    return reverse("indicator-records") + "?" + urlencode(params)


@dataclass
class Cell:
    """One value on a page, with the link to the records behind it."""

    indicator: lib.Indicator
    value: lib.Value
    url: str
    numerator_url: str | None
    denominator_url: str

    @property
    def is_median(self) -> bool:
        return isinstance(self.indicator, lib.MedianIndicator)

    @property
    def parts_text(self) -> str:
        """What the value is made of: "n = 12" for a median, "3 / 4" for a ratio, amounts
        in yuan for fund execution."""
        value = self.value
        if self.is_median or value.numerator is None:
            return f"n = {value.denominator}"
        if isinstance(self.indicator, lib.FundExecution):
            return f"{format_fen(value.numerator)} / {format_fen(value.denominator)}"
        return f"{value.numerator} / {value.denominator}"


def cell(code: str, value: lib.Value, organisation: Organisation, period: lib.Period) -> Cell:
    indicator = lib.LIBRARY[code]
    median = isinstance(indicator, lib.MedianIndicator)
    return Cell(
        indicator,
        value,
        records_url(code, organisation, period, lib.DENOMINATOR if median else lib.NUMERATOR),
        None if median else records_url(code, organisation, period, lib.NUMERATOR),
        records_url(code, organisation, period, lib.DENOMINATOR),
    )


def children_of(organisation: Organisation) -> list[Organisation]:
    """The organisations one level down, each knowing whether it has children of its own."""
    return list(
        Organisation.objects.filter(parent=organisation)
        .annotate(below=Count("children"))
        .order_by("path")
    )


# --- the indicator page ---------------------------------------------------------------------


def shown_codes(
    computed: list[dict[str, dict[int, lib.Value]]], organisation: Organisation
) -> list[str]:
    """Every indicator, except the execution rates of fund sources that have no money in
    the subtree in any period shown (seven empty rows would say nothing)."""

    def has_money(code: str) -> bool:
        return any(
            values[code][organisation.pk].denominator or values[code][organisation.pk].numerator
            for values in computed
        )

    return [
        code
        for code, indicator in lib.LIBRARY.items()
        if not isinstance(indicator, lib.FundExecutionBySource) or has_money(code)
    ]


@login_required
def indicator_page(request: AuthedRequest) -> HttpResponse:
    require_reader(request)
    organisation = chosen_org(request)
    form = PeriodForm(request.GET or None)
    period = form.period()
    periods = store.trend_periods(period, TREND_YEARS)
    children = children_of(organisation)
    # Every period of the trend as stored, for the page's organisation and the one level
    # down only: the same two queries for any number of organisations and periods.
    stored = store.values_periods(periods, [organisation, *children])
    computed = stored.values
    now = computed[-1]
    codes = shown_codes(computed, organisation)
    rows = [
        {
            "cell": cell(code, now[code][organisation.pk], organisation, period),
            "trend": [
                (p, cell(code, values[code][organisation.pk], organisation, p))
                for p, values in zip(periods, computed, strict=True)
            ],
        }
        for code in codes
    ]
    child_rows = [
        {"organisation": child, "cells": [cell(c, now[c][child.pk], child, period) for c in codes]}
        for child in children
    ]
    context = {
        "form": form,
        "organisation": organisation,
        "period": period,
        "period_query": urlencode(period_query(period)),
        "path": drill_path(request.user, organisation),
        "rows": rows,
        "indicators": [lib.LIBRARY[c] for c in codes],
        "child_rows": child_rows,
        "trend_periods": periods,
        **as_of_context(request, organisation, period, stored, "indicators"),
    }
    return render(request, "web/supervision/indicators.html", context)


def as_of_context(
    request: AuthedRequest,
    organisation: Organisation,
    period: lib.Period,
    stored: store.Stored,
    page: str,
) -> dict[str, Any]:
    """What the page says about its values' age, and the "recompute now" button."""
    return {
        "stored": stored,
        "may_refresh": access.may_supervise(request.user, organisation),
        "refresh_page": page,
        "refresh_params": sorted(period_query(period).items()),
        "max_age_hours": round(store.max_age().total_seconds() / 3600, 1),
    }


REFRESH_PAGES = {"indicators": "indicators", "dashboard": "dashboard"}


@login_required
@require_POST
def indicator_refresh(request: AuthedRequest) -> HttpResponse:
    """ "Recompute now": the stored values of the page's period and trend are computed again
    in the background; the page then shows "being recomputed" until they are in."""
    require_reader(request)
    raw = request.POST.get("org") or ""
    if not raw.isdigit():
        raise Http404
    organisation = get_for_user_or_404(Organisation, request.user, pk=int(raw))
    form = PeriodForm(request.POST)
    period = form.period()
    page = REFRESH_PAGES.get(request.POST.get("page") or "", "indicators")
    periods = store.trend_periods(period, TREND_YEARS) if page == "indicators" else [period]
    try:
        store.start_refresh(request.user, organisation, periods)
    except NotAllowed:
        raise PermissionDenied from None
    except Conflict as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(
            request,
            _("The indicators are being recomputed; the page shows the new values when done."),
        )
    params = urlencode({"org": str(organisation.pk), **period_query(period)})
    return redirect(reverse(page) + "?" + params)


# --- the records behind a value -------------------------------------------------------------


@dataclass
class Columns:
    """How a list of one kind of record is shown: headers, and cells per record (masked)."""

    headers: list[str]
    related: tuple[str, ...]


def _file_cells(f: HardshipFile) -> tuple[str, list[str]]:
    return reverse("file-detail", args=[f.pk]), [
        f.number,
        f.applicant.name,
        shown(f.applicant.id_number, "id", False),
        f.organisation.name,
        str(f.get_status_display()),
        str(f.get_category_display()) if f.category else "",
        f.applied_on.isoformat() if f.applied_on else "",
        f.filed_on.isoformat() if f.filed_on else "",
        f.exit_on.isoformat() if f.exit_on else "",
    ]


def _membership_cells(m: Membership) -> tuple[str, list[str]]:
    return "", [
        m.worker.name,
        shown(m.worker.id_number, "id", False),
        m.organisation.name,
        m.since.isoformat(),
        str(m.get_status_display()),
    ]


def _line_cells(line: AssistanceLine) -> tuple[str, list[str]]:
    url = reverse("file-detail", args=[line.file_id]) if line.file_id else ""
    return url, [
        line.worker.name,
        shown(line.worker.id_number, "id", False),
        line.organisation.name,
        str(line.year),
        str(line.get_kind_display()),
        format_fen(line.amount_fen),
        str(line.get_status_display()),
        line.paid_on.isoformat() if line.paid_on else "",
    ]


def _entry_cells(e: LedgerEntry) -> tuple[str, list[str]]:
    return "", [
        e.at.date().isoformat(),
        e.budget.organisation.name,
        f"{e.budget.fund.code} {e.budget.year}",
        str(e.get_kind_display()),
        format_fen(e.amount_fen),
        e.memo,
    ]


def _follow_up_cells(u: FollowUp) -> tuple[str, list[str]]:
    return reverse("file-detail", args=[u.file_id]), [
        u.file.number,
        u.file.applicant.name,
        u.file.organisation.name,
        u.due_on.isoformat(),
        u.done_on.isoformat() if u.done_on else "",
        str(u.get_status_display()),
        str(u.owner) if u.owner_id else "",
    ]


def _candidate_cells(c: Candidate, linked: bool) -> tuple[str, list[str]]:
    url = reverse("outreach-candidate", args=[c.pk]) if linked else ""
    return url, [
        c.worker.name,
        shown(c.worker.id_number, "id", False),
        c.organisation.name,
        c.rule.label,
        str(c.get_status_display()),
        timezone.localdate(c.created_at).isoformat(),
        timezone.localdate(c.dropped_at).isoformat() if c.dropped_at else "",
    ]


def _finding_cells(f: Finding) -> tuple[str, list[str]]:
    return reverse("task-detail", args=[f.task_id]), [
        f.task.title,
        str(f.task.get_kind_display()),
        f.task.organisation.name,
        f.file.number if f.file is not None else "",
        f.description,
        f.rectify_by.isoformat() if f.rectify_by else "",
        f.rectified_on.isoformat() if f.rectified_on else "",
    ]


def record_columns(model: type[Model], user: Any = None) -> tuple[list[str], tuple[str, ...], Any]:
    """Headers, the relations to load with the page, and the row builder of a model."""
    if model is HardshipFile:
        headers = [
            _("File number"), _("Applicant"), _("ID number"), _("Union"), _("Status"),
            _("Category"), _("Applied on"), _("Filed on"), _("Exit on"),
        ]  # fmt: skip
        return headers, ("applicant", "organisation"), _file_cells
    if model is Membership:
        headers = [_("Member"), _("ID number"), _("Union"), _("Member since"), _("Status")]
        return headers, ("worker", "organisation"), _membership_cells
    if model is AssistanceLine:
        headers = [
            _("Recipient"), _("ID number"), _("Union"), _("Year"), _("Aid"), _("Amount"),
            _("Status"), _("Paid on"),
        ]  # fmt: skip
        return headers, ("worker", "organisation"), _line_cells
    if model is LedgerEntry:
        headers = [_("When"), _("Organisation"), _("Budget"), _("Kind"), _("Amount"), _("Memo")]
        return headers, ("budget__organisation", "budget__fund"), _entry_cells
    if model is FollowUp:
        headers = [
            _("File number"), _("Applicant"), _("Union"), _("Due on"), _("Done on"),
            _("Status"), _("Owner"),
        ]  # fmt: skip
        return headers, ("file__applicant", "file__organisation", "owner"), _follow_up_cells
    if model is Candidate:
        headers = [
            _("Worker"), _("ID number"), _("Union"), _("Rule"), _("Status"), _("Flagged on"),
            _("No longer found on"),
        ]  # fmt: skip
        # The candidate's page is the outreach queue's: link it for those who work it.
        linked = outreach.may_work(user)
        return (
            headers,
            ("worker", "organisation", "rule"),
            lambda c: _candidate_cells(c, linked),
        )
    if model is Finding:
        headers = [
            _("Task"), _("Kind"), _("Assigned to"), _("File number"), _("Finding"),
            _("Rectify by"), _("Rectified on"),
        ]  # fmt: skip
        return headers, ("task__organisation", "file"), _finding_cells
    raise DomainError(_("These records cannot be listed."), field="code")


@login_required
def indicator_records(request: AuthedRequest) -> HttpResponse:
    """The records that make up one value: the numerator's or the denominator's, in the
    organisation's subtree, paged, personal data masked."""
    require_reader(request)
    organisation = chosen_org(request)
    form = PeriodForm(request.GET)
    period = form.period()
    code = request.GET.get("code") or ""
    part = request.GET.get("part") or lib.DENOMINATOR
    try:
        found: QuerySet[Any] = lib.records(code, organisation, period, part, request.user)
        headers, related, build = record_columns(found.model, request.user)
    except NotAllowed:
        raise Http404 from None
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": str(exc)}, status=400)
    indicator = lib.LIBRARY[code]
    # Live, as the records below: the pages' value may be older (note below).
    value = lib.compute(period, [code], root=organisation)[code][organisation.pk]
    kept = store.stored_value(code, period, organisation)
    page = paginate(
        request, found.select_related(*related).order_by("pk"), settings.GONGHUI_PAGE_SIZE
    )
    rows = []
    for record in page.object_list:
        url, cells = build(record)
        rows.append((url, list(zip(headers, cells, strict=True))))
    measured = None
    if isinstance(indicator, lib.FundExecution):
        measured = found.aggregate(total=indicator.measure(part))["total"] or 0
    context = {
        "indicator": indicator,
        "organisation": organisation,
        "period": period,
        "part": part,
        "part_text": indicator.numerator_text
        if part == lib.NUMERATOR
        else indicator.denominator_text,
        "value": value,
        # The stored value the page showed, when the records have changed since it.
        "stored_value": kept[0] if kept is not None and kept[0] != value else None,
        "stored_as_of": kept[1].started_at if kept is not None else None,
        "measured": None if measured is None else format_fen(measured),
        "headers": headers,
        "rows": rows,
        "page": page,
        "back": reverse("indicators")
        + "?"
        + urlencode({"org": str(organisation.pk), **period_query(period)}),
        "other": records_url(
            code,
            organisation,
            period,
            lib.DENOMINATOR if part == lib.NUMERATOR else lib.NUMERATOR,
        )
        if not isinstance(indicator, lib.MedianIndicator)
        else None,
    }
    return render(request, "web/supervision/records.html", context)


# --- the dashboard ----------------------------------------------------------------------------


def latest_competition(user: Any) -> Competition | None:
    """The latest competition whose ranking the user reads (frozen ones first: the
    published ranking is the one to show; "frozen" sorts before "open")."""
    found = comp.rankings_for(user).select_related("organiser")
    return found.order_by("status", "-period_end", "-id").first()


@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    """A leader's home page: coverage, timeliness, fund execution for their subtree and one
    level down, and the latest ranking. A case worker's home stays the work queue."""
    if not may_read(request.user):
        return redirect("queue")
    organisation = chosen_org(request)
    form = PeriodForm(request.GET or None)
    period = form.period()
    codes = list(DASHBOARD_CODES)
    children = children_of(organisation)
    stored = store.values(period, [organisation, *children], codes)
    values = stored.now
    competition = latest_competition(request.user)
    ranking = comp.ranking(competition) if competition is not None else None
    context = {
        "form": form,
        "organisation": organisation,
        "period": period,
        "period_query": urlencode(period_query(period)),
        "path": drill_path(request.user, organisation),
        "figures": [cell(c, values[c][organisation.pk], organisation, period) for c in codes],
        "indicators": [lib.LIBRARY[c] for c in codes],
        "child_rows": [
            {
                "organisation": child,
                "cells": [cell(c, values[c][child.pk], child, period) for c in codes],
            }
            for child in children
        ],
        "competition": competition,
        "ranking": ranking,
        **as_of_context(request, organisation, period, stored, "dashboard"),
    }
    return render(request, "web/supervision/dashboard.html", context)
