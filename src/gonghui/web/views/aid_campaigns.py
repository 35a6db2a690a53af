"""Holiday-visit campaigns (送温暖): the list, opening one, progress per organisation,
the targets and recording a visit, on a phone as well as at a desk."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.assistance import campaigns
from gonghui.assistance.choices import AidKind, CampaignStatus, TargetKind
from gonghui.assistance.funds import usable_funds
from gonghui.assistance.models import Campaign, CampaignTarget
from gonghui.assistance.money import to_yuan
from gonghui.errors import DomainError
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web import aidforms
from gonghui.web.http import (
    AuthedRequest,
    attach_error,
    error_status,
    paginate,
    require_capability,
)

ECHARTS = "vendor/echarts.min.js"


def visible_campaign(request: AuthedRequest, pk: int) -> Campaign:
    """A campaign of the user's subtree or above it, or a 404."""
    found = campaigns.visible_campaigns(request.user).select_related("fund", "organisation")
    try:
        return found.get(pk=pk)
    except Campaign.DoesNotExist:
        raise Http404 from None


@login_required
def campaign_list(request: AuthedRequest) -> HttpResponse:
    rows = (
        campaigns.visible_campaigns(request.user)
        .select_related("fund", "organisation")
        .order_by("-starts_on", "-id")
    )
    context = {
        "page": paginate(request, rows, settings.GONGHUI_PAGE_SIZE),
        "may_open": request.user.can(Capability.RUN_CAMPAIGNS),
    }
    return render(request, "web/aid/campaigns/list.html", context)


@login_required
def campaign_new(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.RUN_CAMPAIGNS)
    funds = aidforms.funds_for_kind(usable_funds(request.user), AidKind.HOLIDAY_VISIT)
    today = campaigns.today()
    form = aidforms.CampaignForm(request.POST or None, funds=funds, initial={"year": today.year})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            organisation = request.user.organisation
            assert organisation is not None
            try:
                campaign = campaigns.open_campaign(
                    request.user,
                    name=data["name"],
                    organisation=organisation,
                    fund=data["fund"],
                    year=data["year"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    standards=form.standards(),
                    kinds=data["kinds"],
                )
            except DomainError as exc:
                attach_error(request, form, exc)
                status = error_status(exc)
            else:
                messages.success(request, _("The campaign is open and its list is built."))
                return redirect("campaign-detail", pk=campaign.pk)
    return render(request, "web/aid/campaigns/new.html", {"form": form}, status=status)


def chart_data(rows: list[campaigns.ProgressRow]) -> dict[str, Any]:
    """What the progress chart draws; the table carries the same figures."""
    named = [row for row in rows if row.organisation is not None]
    return {
        "names": [row.organisation.name for row in named if row.organisation],
        "targets": [row.targets for row in named],
        "visited": [row.visited for row in named],
        "labels": {"targets": _("Targets"), "visited": _("Visited")},
    }


@login_required
def campaign_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    campaign = visible_campaign(request, pk)
    try:
        rows = campaigns.progress(request.user, campaign)
    except DomainError:
        raise Http404 from None
    standards = [
        (TargetKind(kind).label, s.get("amount", ""), s.get("goods", ""))
        for kind, s in campaign.standards.items()
        if kind in TargetKind.values
    ]
    context = {
        "campaign": campaign,
        "rows": rows[:-1],
        "total": rows[-1],
        "standards": standards,
        "chart": chart_data(rows),
        "echarts": finders.find(ECHARTS) is not None,
        "echarts_path": ECHARTS,
        "may_close": request.user.can(Capability.RUN_CAMPAIGNS)
        and campaign.status == CampaignStatus.OPEN
        and request.user.organisation is not None
        and request.user.organisation.contains(campaign.organisation),
    }
    return render(request, "web/aid/campaigns/detail.html", context)


@login_required
def campaign_targets(request: AuthedRequest, pk: int) -> HttpResponse:
    campaign = visible_campaign(request, pk)
    scoped = CampaignTarget.objects.for_user(request.user).filter(campaign=campaign)
    organisations = Organisation.objects.filter(
        pk__in=scoped.values("organisation_id").distinct()
    ).order_by("path")
    form = aidforms.TargetFilterForm(request.GET, organisations=list(organisations))
    data = form.cleaned_data if form.is_valid() else {}
    targets = scoped.select_related("worker", "organisation", "visit").order_by(
        "organisation__path", "id"
    )
    if data.get("organisation"):
        chosen = Organisation.objects.get(pk=data["organisation"])
        targets = targets.filter(chosen.subtree_q("organisation__"))
    if data.get("visited") == "yes":
        targets = targets.filter(visit__isnull=False)
    elif data.get("visited") == "no":
        targets = targets.filter(visit__isnull=True)
    context = {
        "campaign": campaign,
        "form": form,
        "page": paginate(request, targets, settings.GONGHUI_PAGE_SIZE),
        "may_visit": request.user.can(Capability.PLAN_AID),
    }
    return render(request, "web/aid/campaigns/targets.html", context)


@login_required
def target_visit(request: AuthedRequest, pk: int) -> HttpResponse:
    targets = CampaignTarget.objects.select_related(
        "campaign__fund", "worker", "organisation", "visit"
    )
    target = get_for_user_or_404(targets, request.user, pk=pk)
    require_capability(request, Capability.PLAN_AID)
    form = aidforms.VisitForm(
        request.POST or None,
        request.FILES or None,
        initial={
            "cash": to_yuan(target.amount_fen) if target.amount_fen else None,
            "goods": target.goods,
        },
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaigns.record_visit(
                    request.user,
                    target,
                    visited_on=data["visited_on"],
                    visitors=data["visitors"],
                    cash_fen=data["cash"] or 0,
                    goods=data["goods"],
                    photo=data["photo"],
                )
            except DomainError as exc:
                attach_error(request, form, exc)
                status = error_status(exc)
            else:
                messages.success(request, _("The visit is recorded."))
                url = reverse("campaign-targets", args=[target.campaign_id]) + "?visited=no"
                return redirect(url)
    context = {"target": target, "campaign": target.campaign, "form": form}
    return render(request, "web/aid/campaigns/visit.html", context, status=status)


@login_required
@require_POST
def campaign_close(request: AuthedRequest, pk: int) -> HttpResponse:
    campaign = visible_campaign(request, pk)
    try:
        campaigns.close_campaign(request.user, campaign)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The campaign is closed: no more visits are recorded."))
    return redirect("campaign-detail", pk=campaign.pk)
