"""The assistance policy (caps and approval levels of DESIGN §4.3) as editable policy data,
next to the hardship policies and living standards; every change is audited."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.accounts.choices import Capability
from gonghui.assistance.models import AidPolicy
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people.choices import Schooling
from gonghui.web.forms import DateInput, RegionScopedForm
from gonghui.web.http import AuthedRequest, require_capability
from gonghui.web.views.policies import _edit


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def _pairs(text: str) -> list[tuple[str, str]]:
    """Lines of "key = amount" (or "key: amount"), blank lines ignored."""
    pairs = []
    for raw in text.replace("：", ":").replace("=", ":").splitlines():
        if raw.strip():
            key, _sep, value = raw.partition(":")
            pairs.append((key.strip(), value.strip()))
    return pairs


class AidPolicyForm(RegionScopedForm):
    education_text = forms.CharField(
        label=gettext_lazy("Education aid by school level (yuan)"),
        help_text=gettext_lazy("One line per level, e.g. university = 5000."),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    levels_text = forms.CharField(
        label=gettext_lazy("Amounts that need a higher level to approve"),
        help_text=gettext_lazy("One line per threshold in yuan, e.g. 20000 = province."),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )

    class Meta:
        model = AidPolicy
        fields = [
            "name",
            "region",
            "valid_from",
            "valid_to",
            "deep_living_months",
            "relative_living_months",
            "relative_one_kind",
            "living_per_person",
            "medical_ratio",
            "medical_cap",
            "major_illness_cap",
            "accident_ratio",
            "accident_cap",
            "person_year_cap",
            "household_year_cap",
        ]
        widgets = {"valid_from": DateInput(), "valid_to": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            policy = self.instance
            education = policy.education_amounts if policy.pk else AidPolicy().education_amounts
            levels = policy.approval_levels if policy.pk else AidPolicy().approval_levels
            self.initial["education_text"] = "\n".join(f"{k} = {v}" for k, v in education.items())
            self.initial["levels_text"] = "\n".join(f"{a} = {lvl}" for a, lvl in levels)

    def clean_education_text(self) -> dict[str, str]:
        found = {}
        for key, value in _pairs(self.cleaned_data.get("education_text") or ""):
            amount = _amount(value)
            if key not in Schooling.values or amount is None:
                raise ValidationError(
                    _("Write a school level (%(levels)s) and an amount on each line.")
                    % {"levels": ", ".join(Schooling.values)}
                )
            found[key] = str(amount)
        return found

    def clean_levels_text(self) -> list[list[str]]:
        found = []
        for value, level in _pairs(self.cleaned_data.get("levels_text") or ""):
            amount = _amount(value)
            if amount is None or level not in OrganisationKind.values:
                raise ValidationError(
                    _("Write an amount and a level (%(levels)s) on each line.")
                    % {"levels": ", ".join(OrganisationKind.values)}
                )
            found.append([str(amount), level])
        return sorted(found, key=lambda pair: Decimal(pair[0]))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("The end is before the start."))
        for name in ("medical_ratio", "accident_ratio"):
            ratio = data.get(name)
            if ratio is not None and not Decimal("0") <= ratio <= Decimal("1"):
                self.add_error(name, _("A share is between 0 and 1."))
        return data

    def save(self, commit: bool = True) -> AidPolicy:
        policy: AidPolicy = super().save(commit=False)
        policy.education_amounts = self.cleaned_data["education_text"]
        policy.approval_levels = self.cleaned_data["levels_text"]
        if commit:
            policy.save()
        return policy


@login_required
def aid_policy_new(request: AuthedRequest) -> HttpResponse:
    return _edit(request, AidPolicyForm, None, _("New assistance caps"))


@login_required
def aid_policy_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    require_capability(request, Capability.EDIT_POLICY)
    policy = get_for_user_or_404(AidPolicy.objects.select_related("region"), request.user, pk=pk)
    return _edit(request, AidPolicyForm, policy, _("Edit assistance caps"))
