"""Forms of the assistance pages (plans, approvals, holiday visits). They parse yuan into
fen and pick funds from a list the view loaded once; the services decide the rest."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gonghui.assistance.campaigns import RULE_KINDS
from gonghui.assistance.choices import AidKind, TargetKind
from gonghui.assistance.models import Fund
from gonghui.assistance.money import to_fen
from gonghui.people.models import HouseholdMember

from .forms import AmountField, DateInput, UploadsField, not_in_future


class FundField(forms.TypedChoiceField):
    """A fund chosen from a list already loaded: no query per form on a page of many lines."""

    def __init__(self, funds: Sequence[Fund], **kwargs: Any) -> None:
        self.funds = {fund.pk: fund for fund in funds}
        choices = [("", "—")] + [(fund.pk, f"{fund.code} {fund.name}") for fund in funds]
        super().__init__(choices=choices, coerce=int, empty_value=None, **kwargs)

    def clean(self, value: Any) -> Fund | None:
        pk = super().clean(value)
        return self.funds[pk] if pk is not None else None


def funds_for_kind(funds: Iterable[Fund], kind: str) -> list[Fund]:
    return [fund for fund in funds if fund.allows(kind)]


class FenField(AmountField):
    """An amount of yuan as typed, cleaned to integer fen."""

    def clean(self, value: Any) -> int | None:  # type: ignore[override]
        yuan = super().clean(value)
        return to_fen(yuan) if yuan is not None else None


class ProposeForm(forms.Form):
    """Proposing a plan takes no input; errors still need a form to sit on."""


class LineEditForm(forms.Form):
    amount = FenField(label=_("Amount (yuan)"))
    fund = FundField((), label=_("Fund"), required=False)
    description = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(self, *args: Any, funds: Sequence[Fund] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fund"] = FundField(funds, label=_("Fund"), required=False)


class LineAddForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of help"), choices=AidKind.choices)
    cash = forms.BooleanField(label=_("Cash (paid to the bank card)"), required=False, initial=True)
    member = forms.TypedChoiceField(
        label=_("For member"), coerce=int, empty_value=None, required=False
    )
    amount = FenField(label=_("Amount (yuan)"), required=False)
    fund = FundField((), label=_("Fund"), required=False)
    description = forms.CharField(
        label=_("Description"),
        max_length=255,
        required=False,
        help_text=_("For non-cash help, say what is given or arranged."),
    )

    def __init__(
        self,
        *args: Any,
        funds: Sequence[Fund] = (),
        members: Sequence[HouseholdMember] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fund"] = FundField(funds, label=_("Fund"), required=False)
        member = self.fields["member"]
        assert isinstance(member, forms.TypedChoiceField)
        member.choices = [("", _("The whole household"))] + [(m.pk, m.name) for m in members]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("cash") and not data.get("amount"):
            self.add_error("amount", _("Give the amount of cash help."))
        if not data.get("cash") and not (data.get("description") or "").strip():
            self.add_error("description", _("Say what non-cash help is given."))
        return data


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)


class ApproveForm(forms.Form):
    """Approving one line takes no input; errors still need a form to sit on."""


class ApproveSelectedForm(forms.Form):
    lines = forms.TypedMultipleChoiceField(coerce=int, required=False)
    everything = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id may be posted: the service approves only what the user may approve.
        lines = self.fields["lines"]
        assert isinstance(lines, forms.TypedMultipleChoiceField)
        lines.valid_value = lambda value: str(value).isdigit()  # type: ignore[method-assign]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("lines") and not data.get("everything"):
            raise ValidationError(_("Choose the lines to approve."), code="none")
        return data


# --- holiday-visit campaigns ------------------------------------------------------------


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=128)
    fund = FundField((), label=_("Fund"))
    year = forms.IntegerField(label=_("Budget year"), min_value=2000, max_value=2100)
    starts_on = forms.DateField(label=_("From"), widget=DateInput())
    ends_on = forms.DateField(label=_("Until"), widget=DateInput())
    kinds = forms.MultipleChoiceField(
        label=_("Build the list from"),
        choices=[(kind, TargetKind(kind).label) for kind in RULE_KINDS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=list(RULE_KINDS),
    )

    def __init__(self, *args: Any, funds: Sequence[Fund] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fund"] = FundField(funds, label=_("Fund"))
        # One amount and one description of goods per kind of target.
        for kind, label in TargetKind.choices:
            self.fields[f"amount_{kind}"] = FenField(
                label=_("%(kind)s: standard amount (yuan)") % {"kind": label}, required=False
            )
            self.fields[f"goods_{kind}"] = forms.CharField(
                label=_("%(kind)s: standard goods") % {"kind": label},
                max_length=128,
                required=False,
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("starts_on"), data.get("ends_on")
        if start and end and end < start:
            self.add_error("ends_on", _("The campaign ends before it starts."))
        return data

    def standards(self) -> dict[str, tuple[int, str]]:
        """Per target kind, the standard (fen, goods), for the kinds given either."""
        found = {}
        for kind in TargetKind.values:
            amount = self.cleaned_data.get(f"amount_{kind}") or 0
            goods = (self.cleaned_data.get(f"goods_{kind}") or "").strip()
            if amount or goods:
                found[kind] = (amount, goods)
        return found


class TargetFilterForm(forms.Form):
    organisation = forms.TypedChoiceField(
        label=_("Union"), coerce=int, empty_value=None, required=False
    )
    visited = forms.ChoiceField(
        label=_("Visited"),
        required=False,
        choices=[("", _("All")), ("no", _("Not yet")), ("yes", _("Visited"))],
    )

    def __init__(self, *args: Any, organisations: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("All"))] + [(o.pk, o.name) for o in organisations]


class VisitForm(forms.Form):
    visited_on = forms.DateField(
        label=_("Visit date"), widget=DateInput(), validators=[not_in_future]
    )
    visitors = forms.CharField(label=_("Visited by"), max_length=255)
    cash = FenField(label=_("Cash given (yuan)"), required=False)
    goods = forms.CharField(label=_("Goods given"), max_length=255, required=False)
    photo = UploadsField(label=_("Photo"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A phone opens its camera for the photo.
        self.fields["photo"].widget.attrs.update({"accept": "image/*", "capture": "environment"})

    def clean_photo(self) -> Any:
        photos = self.cleaned_data.get("photo") or []
        if len(photos) > 1:
            raise ValidationError(_("One photo per visit."), code="many")
        return photos[0] if photos else None
