"""Competitions in the browser: the list, defining one, the judges' page, the leaderboard
with its charts, freezing, and the exports of a frozen ranking.

A competition exists for a user (anything else is a 404) when it is organised in their
subtree, when they judge it, or when it is frozen and published to them. Who reads its
ranking is :func:`gonghui.supervision.competition.may_see_ranking`: a live ranking those
who run it, a frozen one also every staff user of a competing organisation or above it, and
its judges; a judge of a live competition is sent to the judges' page, where they see only
their own scores. Every change is one call to :mod:`gonghui.supervision.competition`,
whose refusals are shown on the field they name.
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


def reachable(user: Any) -> QuerySet[Competition]:
    """Competitions organised in the user's subtree, those they judge, and the frozen ones
    published to them."""
    return Competition.objects.filter(
        Q(pk__in=Competition.objects.for_user(user).values("pk"))
        | Q(pk__in=comp.judged_by(user).values("pk"))
        | Q(pk__in=comp.published_to(user).values("pk"))
    )


def competition_or_404(request: AuthedRequest, pk: int) -> Competition:
    found = reachable(request.user).select_related("organiser").filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def is_judge(user: Any, competition: Competition) -> bool:
    return competition.judges.filter(pk=user.pk).exists()


def scoped_or_404(request: AuthedRequest, pk: int) -> Competition:
    """A competition organised in the user's subtree; anyone else gets a 404 here, also
    those it is published to (they only read it)."""
    found = Competition.objects.for_user(request.user).select_related("organiser")
    competition = found.filter(pk=pk).first()
    if competition is None:
        raise Http404
    return competition


# --- the list and defining ----------------------------------------------------------------------


@login_required
def competition_list(request: AuthedRequest) -> HttpResponse:
    """The competitions whose ranking the user reads, and those they judge."""
    user = request.user
    readable = comp.rankings_for(user).values("pk")
    found = list(
        Competition.objects.filter(Q(pk__in=readable) | Q(pk__in=comp.judged_by(user).values("pk")))
        .select_related("organiser")
        .order_by("-period_end", "-id")
    )
    ids = [c.pk for c in found]
    judged = set(comp.judged_by(user).filter(pk__in=ids).values_list("pk", flat=True))
    shown = set(comp.rankings_for(user).filter(pk__in=ids).values_list("pk", flat=True))
    rows = [
        {"competition": c, "judge": c.pk in judged, "leaderboard": c.pk in shown} for c in found
    ]
    context = {
        "rows": rows,
        "may_define": comp.can_run_competitions(user),
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


def records_link(part: comp.Part, organisation_id: int, query: str) -> str:
    """The records behind a value: the numerator's, or for a median the measured records."""
    median = isinstance(lib.LIBRARY.get(part.code), lib.MedianIndicator)
    which = lib.DENOMINATOR if median else lib.NUMERATOR
    params = urlencode({"code": part.code, "org": str(organisation_id), "part": which})
    return f"{reverse('indicator-records')}?{params}&{query}"


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


def linkable(user: Any, result: comp.Ranking) -> set[int]:
    """The competitors whose values link to the records behind them: those the user may
    read indicators of (SUPERVISE, in their subtree). Others' values are shown, not linked."""
    if not may_read(user):
        return set()
    ids = [row.organisation_id for tier in result.tiers for row in tier.rows]
    return set(Organisation.objects.for_user(user).filter(pk__in=ids).values_list("pk", flat=True))


@login_required
def competition_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    competition = competition_or_404(request, pk)
    judge = is_judge(request.user, competition)
    if not comp.may_see_ranking(request.user, competition):
        if judge:  # a live competition: its judges score on their own page
            return redirect("competition-judge", pk=competition.pk)
        raise PermissionDenied
    result = comp.ranking(competition)
    links = linkable(request.user, result)
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
                link = records_link(part, row.organisation_id, query)
                shown = link if row.organisation_id in links else ""
                parts.append({"part": part, "spec": spec, "url": shown})
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
        "may_run": comp.may_run(request.user, competition),
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
        "leaderboard": comp.may_see_ranking(request.user, competition),
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
    """The frozen ranking as a download, for whoever it is published to; logged."""
    competition = competition_or_404(request, pk)
    build = report.ranking_xlsx if kind == "xlsx" else report.ranking_pdf
    try:
        document = build(request.user, competition, "web")
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": str(exc)}, status=error_status(exc))
    response = HttpResponse(document.data, content_type=document.content_type)
    response["Content-Disposition"] = document.disposition
    return response


@login_required
def competition_xlsx(request: AuthedRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "xlsx")


@login_required
def competition_pdf(request: AuthedRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "pdf")
