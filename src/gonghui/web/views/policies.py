"""Policies and living standards, for administrators; every change is audited by the model
mixin and shown as the record's history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.assistance.models import AidPolicy
from gonghui.audit.models import AuditEntry
from gonghui.hardship.models import LivingStandard, Policy
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web import forms as web_forms
from gonghui.web.http import AuthedRequest, require_capability
from gonghui.web.timeline import describe

HISTORY_LIMIT = 200


def _history(instance: Model | None) -> list:
    if instance is None or instance.pk is None:
        return []
    entries = AuditEntry.objects.filter(
        model=instance._meta.label_lower, object_id=str(instance.pk)
    ).select_related("actor")[:HISTORY_LIMIT]
    return describe(list(entries))


@login_required
def policy_list(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.EDIT_POLICY)
    context = {
        "policies": Policy.objects.for_user(request.user)
        .select_related("region")
        .order_by("region_id", "-valid_from"),
        "aid_policies": AidPolicy.objects.for_user(request.user)
        .select_related("region")
        .order_by("region_id", "-valid_from"),
        "standards": LivingStandard.objects.for_user(request.user)
        .select_related("region")
        .order_by("region_id", "-valid_from"),
    }
    return render(request, "web/admin/policies.html", context)


def _edit(
    request: AuthedRequest,
    form_class: type[web_forms.RegionScopedForm],
    instance: Model | None,
    title: str,
) -> HttpResponse:
    require_capability(request, Capability.EDIT_POLICY)
    form = form_class(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("The changes are saved and recorded in the history."))
        return redirect("policy-list")
    context = {"form": form, "title": title, "object": instance, "history": _history(instance)}
    status = 400 if form.is_bound else 200
    return render(request, "web/admin/policy_form.html", context, status=status)


@login_required
def policy_new(request: AuthedRequest) -> HttpResponse:
    return _edit(request, web_forms.PolicyForm, None, _("New policy"))


@login_required
def policy_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    require_capability(request, Capability.EDIT_POLICY)
    policy = get_for_user_or_404(Policy.objects.select_related("region"), request.user, pk=pk)
    return _edit(request, web_forms.PolicyForm, policy, _("Edit policy"))


@login_required
def standard_new(request: AuthedRequest) -> HttpResponse:
    return _edit(request, web_forms.LivingStandardForm, None, _("New minimum living standard"))


@login_required
def standard_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    require_capability(request, Capability.EDIT_POLICY)
    standard = get_for_user_or_404(
        LivingStandard.objects.select_related("region"), request.user, pk=pk
    )
    return _edit(request, web_forms.LivingStandardForm, standard, _("Edit minimum living standard"))
