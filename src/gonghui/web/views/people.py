"""Households with their members, and workers: model forms, so the models' own checks speak."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people import services as people_services
from gonghui.people.idnumber import validate_id_number
from gonghui.people.models import Household, HouseholdMember, Worker
from gonghui.web import forms as web_forms
from gonghui.web.http import AuthedRequest, require_capability
from gonghui.web.people import region_choices


def _household(request: AuthedRequest, pk: int) -> Household:
    households = Household.objects.select_related("region", "organisation")
    return get_for_user_or_404(households, request.user, pk=pk)


def _render_household(
    request: AuthedRequest,
    household: Household,
    member_form: web_forms.MemberForm | None = None,
    status: int = 200,
) -> HttpResponse:
    may_edit = request.user.can(Capability.EDIT_PEOPLE)
    context = {
        "household": household,
        "members": list(household.members.select_related("worker")),
        "files": list(household.files.select_related("applicant").order_by("-applied_on")),
        "may_edit": may_edit,
        "member_form": member_form or (web_forms.MemberForm() if may_edit else None),
        "show_personal": True,
    }
    return render(request, "web/people/household.html", context, status=status)


@login_required
def household_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return _render_household(request, _household(request, pk))


@login_required
@require_POST
def member_new(request: AuthedRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    require_capability(request, Capability.EDIT_PEOPLE)
    form = web_forms.MemberForm(request.POST, instance=HouseholdMember(household=household))
    if not form.is_valid():
        return _render_household(request, household, form, status=400)
    member = people_services.save_member(request.user, form.save(commit=False))
    messages.success(request, _("%(name)s is added to the household.") % {"name": member.name})
    return redirect("household-detail", pk=household.pk)


@login_required
def member_edit(request: AuthedRequest, pk: int, member_pk: int) -> HttpResponse:
    members = HouseholdMember.objects.select_related("household__organisation", "worker")
    member = get_for_user_or_404(members, request.user, pk=member_pk, household_id=pk)
    require_capability(request, Capability.EDIT_PEOPLE)
    form = web_forms.MemberForm(request.POST or None, instance=member)
    if request.method == "POST" and form.is_valid():
        people_services.save_member(request.user, form.save(commit=False))
        messages.success(request, _("The member's details are saved."))
        return redirect("household-detail", pk=pk)
    context = {"form": form, "member": member, "household": member.household}
    status = 400 if form.is_bound else 200
    return render(request, "web/people/member_form.html", context, status=status)


def _worker_form(request: AuthedRequest, instance: Worker | None) -> web_forms.WorkerForm:
    user = request.user
    initial: dict[str, Any] = {}
    if instance is None:
        initial = {
            "organisation": user.organisation_id,
            "region": user.organisation.region_id if user.organisation else None,
            "id_number": request.GET.get("id_number", ""),
        }
    form = web_forms.WorkerForm(
        request.POST or None,
        instance=instance,
        initial=initial,
        organisations=Organisation.objects.for_user(user).order_by("path"),
    )
    region_field = form.fields["region"]
    base = web_forms.regions_for(user.organisation)
    region_field.queryset = region_choices(base, instance.region if instance else None)  # type: ignore[attr-defined]
    return form


def _after_worker_saved(request: AuthedRequest, worker: Worker) -> HttpResponse:
    if request.GET.get("next") == "apply":
        query = urlencode({"id_number": worker.id_number})
        return redirect(f"{reverse('file-new')}?{query}")
    return redirect("worker-edit", pk=worker.pk)


@login_required
def worker_new(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.EDIT_PEOPLE)
    form = _worker_form(request, None)
    if request.method == "POST" and form.is_valid():
        worker = people_services.save_worker(request.user, form.save(commit=False))
        messages.success(request, _("%(name)s is registered.") % {"name": worker.name})
        return _after_worker_saved(request, worker)
    status = 400 if form.is_bound else 200
    context = {"form": form, "worker": None, "show_personal": True}
    return render(request, "web/people/worker_form.html", context, status=status)


@login_required
def worker_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    merged = Worker.objects.for_user(request.user, merged=True).filter(merged_into__isnull=False)
    survivor = merged.filter(pk=pk).values_list("merged_into", flat=True).first()
    if survivor is not None:  # an old link to a record merged into another: the survivor
        messages.info(request, _("Worker %(pk)s was merged into this record.") % {"pk": pk})
        return redirect("worker-edit", pk=survivor)
    worker = get_for_user_or_404(Worker.objects.select_related("organisation"), request.user, pk=pk)
    require_capability(request, Capability.EDIT_PEOPLE)
    form = _worker_form(request, worker)
    if request.method == "POST" and form.is_valid():
        people_services.save_worker(request.user, form.save(commit=False))
        messages.success(request, _("The worker's details are saved."))
        return _after_worker_saved(request, worker)
    status = 400 if form.is_bound else 200
    context = {"form": form, "worker": worker, "show_personal": True}
    return render(request, "web/people/worker_form.html", context, status=status)


@login_required
def worker_id_preview(request: AuthedRequest) -> HttpResponse:
    """What an ID number says (date of birth, sex) or what is wrong with it, as it is typed."""
    raw = request.GET.get("id_number", "").strip()
    context: dict[str, Any] = {"info": None, "error": ""}
    if raw:
        try:
            context["info"] = validate_id_number(raw)
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
    return render(request, "web/people/_id_preview.html", context)
