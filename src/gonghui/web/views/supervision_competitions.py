"""Competitions in the browser: the list, defining one, the judges' page, the leaderboard
with its charts, freezing, and the exports of a frozen ranking.

A competition is reached through ``for_user`` (organised in the user's subtree) or by
being one of its judges; anyone else gets a 404. The judges' page is the only page a judge
from outside the subtree reaches. Every change is one call to
:mod:`gonghui.supervision.competition`, whose refusals are shown on the field they name.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.errors import DomainError
from gonghui.organisations.models import Organisation
from gonghui.supervision import competition as comp
from gonghui.supervision import indicators as lib
from gonghui.supervision import report
from gonghui.supervision.models import Competition, CompetitionStatus, JudgeScore
from gonghui.web.http import AuthedRequest, attach_error, error_status
from gonghui.web.supervisionforms import CompetitionForm, JudgeScoreForm, period_query
from gonghui.web.views.supervision import may_read

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def reachable(user: Any) -> QuerySet[Competition]:
    """Competitions organised in the user's subtree, and those they judge."""
    scoped = Competition.objects.for_user(user).values("pk")
    return Competition.objects.filter(Q(pk__in=scoped) | Q(judges=user)).distinct()


def competition_or_404(request: AuthedRequest, pk: int) -> Competition:
    found = reachable(request.user).select_related("organiser").filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def in_scope(user: Any, competition: Competition) -> bool:
    own = user.organisation
    return own is not None and own.contains(competition.organiser)


def is_judge(user: Any, competition: Competition) -> bool:
    return competition.judges.filter(pk=user.pk).exists()


def may_run(user: Any, competition: Competition) -> bool:
    return comp.can_run_competitions(user) and in_scope(user, competition)


def scoped_or_404(request: AuthedRequest, pk: int) -> Competition:
    """A competition organised in the user's subtree; a judge from outside gets a 404 here
    as anyone else would (they only reach the judges' page)."""
    competition = competition_or_404(request, pk)
    if not in_scope(request.user, competition):
        raise Http404
    return competition


# --- the list and defining ----------------------------------------------------------------------


@login_required
def competition_list(request: AuthedRequest) -> HttpResponse:
    found = list(reachable(request.user).select_related("organiser").order_by("-period_end", "-id"))
    judged = set(
        Competition.judges.through.objects.filter(
            user_id=request.user.pk, competition_id__in=[c.pk for c in found]
        ).values_list("competition_id", flat=True)
    )
    own = request.user.organisation
    rows = [
        {
            "competition": c,
            "judge": c.pk in judged,
            "leaderboard": own is not None and own.contains(c.organiser),
        }
        for c in found
    ]
    context = {
        "rows": rows,
        "may_define": comp.can_run_competitions(request.user),
        "CompetitionStatus": CompetitionStatus,
    }
    return render(request, "web/supervision/competitions.html", context)


def _define_page(request: AuthedRequest, form: CompetitionForm, status: int = 200) -> HttpResponse:
    return render(request, "web/supervision/define.html", {"form": form}, status=status)


@login_required
def competition_new(request: AuthedRequest) -> HttpResponse:
    if not comp.can_run_competitions(request.user) or request.user.organisation is None:
        raise PermissionDenied
    form = CompetitionForm(request.POST or None, user=request.user)
    if request.method != "POST":
        return _define_page(request, form)
    if not form.is_valid():
        return _define_page(request, form, 400)
    data = form.cleaned_data
    try:
        competition = comp.define_competition(
            request.user,
            name=data["name"],
            period=form.period(),
            tiers=form.tiers(),
            indicators=form.indicators(),
            innovation_weight=data["innovation_weight"],
            judges=data["judges"],
            previous=data["previous"],
        )
    except DomainError as exc:
        attach_error(request, form, exc)
        return _define_page(request, form, error_status(exc))
    messages.success(request, _("The competition is defined."))
    return redirect("competition-detail", pk=competition.pk)


# --- the leaderboard ----------------------------------------------------------------------------


def chart_data(result: comp.Ranking, names: dict[str, str]) -> list[dict[str, Any]]:
    """Per tier: totals by organisation (bar chart) and each union's points per part
    against the part's full points (radar). Numbers as strings: the browser only draws."""
    specs = result.inputs["indicators"]
    innovation = Decimal(result.inputs["innovation_weight"])
    axes = [{"name": names[s["code"]], "max": s["weight"]} for s in specs]
    if innovation > 0:
        axes.append({"name": _("Innovation"), "max": str(innovation)})
    tiers = []
    for tier in result.tiers:
        unions = []
        for row in tier.rows:
            points = [str(p.points) for p in row.parts]
            if innovation > 0:
                points.append(str(row.innovation_points))
            unions.append({"name": row.name, "points": points})
        tiers.append(
            {
                "name": tier.name,
                "names": [row.name for row in tier.rows],
                "totals": [str(row.total) for row in tier.rows],
                "axes": axes,
                "unions": unions,
                "label": _("Total points"),
            }
        )
    return tiers


@login_required
def competition_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    competition = competition_or_404(request, pk)
    judge = is_judge(request.user, competition)
    if not in_scope(request.user, competition):
        if judge:
            return redirect("competition-judge", pk=competition.pk)
        raise Http404
    if not (may_read(request.user) or judge):
        raise PermissionDenied
    result = comp.ranking(competition)
    names = report.indicator_names(result)
    period = lib.Period(competition.period_start, competition.period_end)
    query = urlencode(period_query(period))
    specs = result.inputs["indicators"]
    charts = chart_data(result, names)
    tiers = []
    for index, tier in enumerate(result.tiers):
        rows = []
        for row in tier.rows:
            parts = []
            for spec, part in zip(specs, row.parts, strict=True):
                median = isinstance(lib.LIBRARY.get(part.code), lib.MedianIndicator)
                which = lib.DENOMINATOR if median else lib.NUMERATOR
                link = (
                    reverse("indicator-records")
                    + "?"
                    + urlencode({"code": part.code, "org": str(row.organisation_id), "part": which})
                    + "&"
                    + query
                )
                parts.append({"part": part, "spec": spec, "url": link})
            rows.append(
                {"row": row, "parts": parts, "movement": report.movement_text(row.movement)}
            )
        tiers.append(
            {
                "name": tier.name,
                "rows": rows,
                "chart": charts[index],
                "chart_id": f"ranking-chart-{index}",
            }
        )
    snapshot = getattr(competition, "snapshot", None) if result.frozen else None
    context = {
        "competition": competition,
        "result": result,
        "tiers": tiers,
        "specs": [{**s, "label": names[s["code"]]} for s in specs],
        "snapshot": snapshot,
        "judge": judge and competition.status == CompetitionStatus.OPEN,
        "may_run": may_run(request.user, competition),
        "may_read": may_read(request.user),
        "frozen": competition.status == CompetitionStatus.FROZEN,
        "judge_count": len({s["judge"] for s in result.inputs["judge_scores"]}),
    }
    return render(request, "web/supervision/leaderboard.html", context)


# --- judges -------------------------------------------------------------------------------------


def _competitors(competition: Competition) -> list[Organisation]:
    found = Organisation.objects.filter(pk__in=competition.tiers.values("organisations")).order_by(
        "path"
    )
    return list(found)


def _judge_page(
    request: AuthedRequest,
    competition: Competition,
    bound: JudgeScoreForm | None = None,
    status: int = 200,
) -> HttpResponse:
    own = {
        s.organisation_id: s
        for s in JudgeScore.objects.filter(competition=competition, judge=request.user)
    }
    rows = []
    for organisation in _competitors(competition):
        mine = own.get(organisation.pk)
        if bound is not None and bound.data.get("organisation") == str(organisation.pk):
            form = bound
        else:
            initial: dict[str, Any] = {"organisation": organisation.pk}
            if mine is not None:
                initial |= {"score": mine.score, "comment": mine.comment}
            form = JudgeScoreForm(initial=initial, auto_id=f"id_{organisation.pk}_%s")
        rows.append({"organisation": organisation, "mine": mine, "form": form})
    context = {
        "competition": competition,
        "rows": rows,
        "frozen": competition.status == CompetitionStatus.FROZEN,
        "leaderboard": in_scope(request.user, competition),
    }
    return render(request, "web/supervision/judge.html", context, status=status)


@login_required
def competition_judge(request: AuthedRequest, pk: int) -> HttpResponse:
    """A judge enters or changes their own innovation scores (only theirs, before the
    freeze); nobody else has this page."""
    competition = competition_or_404(request, pk)
    if not is_judge(request.user, competition):
        raise PermissionDenied
    if request.method != "POST":
        return _judge_page(request, competition)
    raw = request.POST.get("organisation", "")
    form = JudgeScoreForm(request.POST, auto_id=f"id_{raw}_%s" if raw.isdigit() else "id_%s")
    if not form.is_valid():
        return _judge_page(request, competition, form, 400)
    organisation = Organisation.objects.filter(
        pk=form.cleaned_data["organisation"], pk__in=competition.tiers.values("organisations")
    ).first()
    if organisation is None:
        form.add_error(None, _("This union does not compete here."))
        return _judge_page(request, competition, form, 400)
    try:
        comp.score_innovation(
            request.user,
            competition,
            organisation,
            form.cleaned_data["score"],
            form.cleaned_data["comment"],
        )
    except DomainError as exc:
        attach_error(request, form, exc)
        return _judge_page(request, competition, form, error_status(exc))
    messages.success(request, _("Your score for %(org)s is saved.") % {"org": organisation.name})
    return redirect("competition-judge", pk=competition.pk)


# --- freezing and publishing --------------------------------------------------------------------


@login_required
@require_POST
def competition_freeze(request: AuthedRequest, pk: int) -> HttpResponse:
    competition = scoped_or_404(request, pk)
    try:
        comp.freeze(request.user, competition)
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": str(exc)}, status=error_status(exc))
    messages.success(request, _("The ranking is frozen and published."))
    return redirect("competition-detail", pk=competition.pk)


def _export(request: AuthedRequest, pk: int, kind: str) -> HttpResponse:
    competition = scoped_or_404(request, pk)
    if not may_read(request.user):
        raise PermissionDenied
    build = report.ranking_xlsx if kind == "xlsx" else report.ranking_pdf
    try:
        name, data = build(request.user, competition, "web")
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": str(exc)}, status=error_status(exc))
    response = HttpResponse(data, content_type=XLSX if kind == "xlsx" else "application/pdf")
    disposition = "attachment" if kind == "xlsx" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response


@login_required
def competition_xlsx(request: AuthedRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "xlsx")


@login_required
def competition_pdf(request: AuthedRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "pdf")
