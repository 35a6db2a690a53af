"""Forms of the supervision pages: the period of an indicator view, a competition's
definition (tiers, indicators with weights and normalisation, judges) and a judge's score.

The forms only parse; the rules live in :mod:`gonghui.supervision.competition`, whose
refusals the views show on the field they name."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.models import User
from gonghui.errors import DomainError
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.models import Organisation
from gonghui.supervision import competition as comp
from gonghui.supervision import indicators as lib
from gonghui.supervision.models import Competition, Normalisation

TIERS = 3
# Whole kinds that can compete as a tier (all city federations, all county ones...).
TIER_KINDS = (
    OrganisationKind.CITY,
    OrganisationKind.COUNTY,
    OrganisationKind.STREET,
    OrganisationKind.INDUSTRY,
)
DATE = forms.DateInput(attrs={"type": "date"})


class PeriodForm(forms.Form):
    """A year, or a range of days (both ends given)."""

    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    start = forms.DateField(label=_("From"), required=False, widget=DATE)
    end = forms.DateField(label=_("Until"), required=False, widget=DATE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if bool(start) != bool(end):
            raise forms.ValidationError(_("Give both ends of the range, or a year."))
        if start and end and end < start:
            self.add_error("end", _("The period ends before it starts."))
        return data

    def period(self) -> lib.Period:
        """The chosen period; this year when nothing (valid) is chosen."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("start") and data.get("end"):
            return lib.Period(data["start"], data["end"])
        return lib.Period.year(data.get("year") or timezone.localdate().year)


def period_query(period: lib.Period) -> dict[str, str]:
    """The query parameters that choose ``period`` again."""
    whole_year = period.start == datetime.date(
        period.start.year, 1, 1
    ) and period.end == datetime.date(period.start.year, 12, 31)
    if whole_year:
        return {"year": str(period.start.year)}
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


# --- defining a competition ------------------------------------------------------------------


class CompetitionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=128)
    start = forms.DateField(label=_("Period from"), widget=DATE)
    end = forms.DateField(label=_("Period until"), widget=DATE)
    previous = forms.ModelChoiceField(
        label=_("Previous period's competition (for the movement)"),
        queryset=Competition.objects.none(),
        required=False,
    )
    innovation_weight = forms.DecimalField(
        label=_("Innovation (工作思路创新): points"),
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=2,
        initial=Decimal(0),
    )
    judges = forms.ModelMultipleChoiceField(
        label=_("Judges of the innovation part"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        own = user.organisation
        assert own is not None
        year = timezone.localdate().year
        self.fields["start"].initial = datetime.date(year, 1, 1)
        self.fields["end"].initial = datetime.date(year, 12, 31)
        self.fields["previous"].queryset = Competition.objects.for_user(user)  # type: ignore[attr-defined]
        self.fields["judges"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(own.subtree_q("organisation__"), is_active=True)
            .exclude(role="worker")
            .select_related("organisation")
            .order_by("organisation__path", "username")
        )
        competitors = (
            Organisation.objects.for_user(user)
            .filter(kind__in=TIER_KINDS)
            .exclude(pk=own.pk)
            .order_by("path")
        )
        kinds = [("", _("(choose organisations below)"))] + [
            (kind.value, kind.label) for kind in TIER_KINDS
        ]
        for index in range(1, TIERS + 1):
            self.fields[f"tier{index}_name"] = forms.CharField(
                label=_("Tier %(n)s: name") % {"n": index}, max_length=64, required=False
            )
            self.fields[f"tier{index}_kind"] = forms.ChoiceField(
                label=_("all organisations of the kind"), choices=kinds, required=False
            )
            self.fields[f"tier{index}_orgs"] = forms.ModelMultipleChoiceField(
                label=_("or these organisations"),
                queryset=competitors,
                required=False,
                widget=forms.SelectMultiple(attrs={"size": 6}),
            )
        for code in lib.LIBRARY:
            self.fields[f"w_{code}"] = forms.DecimalField(
                label=_("points"),
                min_value=Decimal(0),
                max_digits=8,
                decimal_places=2,
                required=False,
            )
            self.fields[f"n_{code}"] = forms.ChoiceField(
                label=_("normalisation"),
                choices=Normalisation.choices,
                initial=Normalisation.MIN_MAX,
                required=False,
            )
            self.fields[f"lo_{code}"] = forms.DecimalField(
                label=_("values below count as"), max_digits=14, decimal_places=4, required=False
            )
            self.fields[f"hi_{code}"] = forms.DecimalField(
                label=_("values above count as"), max_digits=14, decimal_places=4, required=False
            )
        if not self.is_bound:
            self.fields["tier1_name"].initial = OrganisationKind.CITY.label
            self.fields["tier1_kind"].initial = OrganisationKind.CITY

    def tier_fields(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (self[f"tier{i}_name"], self[f"tier{i}_kind"], self[f"tier{i}_orgs"])
            for i in range(1, TIERS + 1)
        ]

    def indicator_fields(self) -> list[dict[str, Any]]:
        return [
            {
                "indicator": indicator,
                "weight": self[f"w_{code}"],
                "normalisation": self[f"n_{code}"],
                "cap_low": self[f"lo_{code}"],
                "cap_high": self[f"hi_{code}"],
            }
            for code, indicator in lib.LIBRARY.items()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The period ends before it starts."))
        return data

    def period(self) -> lib.Period:
        return lib.Period(self.cleaned_data["start"], self.cleaned_data["end"])

    def tiers(self) -> list[comp.TierSpec]:
        found = []
        for index in range(1, TIERS + 1):
            name = (self.cleaned_data.get(f"tier{index}_name") or "").strip()
            kind = self.cleaned_data.get(f"tier{index}_kind") or ""
            chosen = list(self.cleaned_data.get(f"tier{index}_orgs") or [])
            if not name:
                if kind or chosen:
                    raise DomainError(_("Give the tier a name."), field=f"tier{index}_name")
                continue
            if kind:
                chosen += comp.organisations_of_kind(self.user, kind)
            unique = {o.pk: o for o in chosen}
            found.append(comp.TierSpec(name, sorted(unique.values(), key=lambda o: o.path)))
        return found

    def indicators(self) -> list[comp.IndicatorSpec]:
        found = []
        for code in lib.LIBRARY:
            weight = self.cleaned_data.get(f"w_{code}")
            if weight is None:
                continue
            found.append(
                comp.IndicatorSpec(
                    code,
                    weight,
                    self.cleaned_data.get(f"n_{code}") or Normalisation.MIN_MAX,
                    self.cleaned_data.get(f"lo_{code}"),
                    self.cleaned_data.get(f"hi_{code}"),
                )
            )
        return found


class JudgeScoreForm(forms.Form):
    """One judge's innovation score for one competitor."""

    organisation = forms.IntegerField(widget=forms.HiddenInput)
    score = forms.DecimalField(
        label=_("Score (0–100)"),
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
