"""Forms of the web pages. They only parse and check input; the services decide."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gonghui.audit.models import AuditEntry
from gonghui.hardship.choices import (
    MAX_SECONDARY_CAUSES,
    Exclusion,
    ExitKind,
    ExpenseKind,
    FileStatus,
    HardshipCategory,
    HardshipCause,
    IncomeKind,
)
from gonghui.hardship.models import LivingStandard, Policy
from gonghui.organisations.models import Organisation, Region
from gonghui.organisations.scoping import region_prefix
from gonghui.people.idnumber import IdInfo, normalise, upgrade_15, validate_id_number
from gonghui.people.models import HouseholdMember, Worker

from .money import parse_yuan

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".pdf"})


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


def not_in_future(day: datetime.date) -> None:
    if day > timezone.localdate():
        raise ValidationError(_("This date is in the future."), code="future")


class AmountField(forms.CharField):
    """A yuan amount typed as text and read by :func:`parse_yuan`, so that a mistake gets a
    sentence that names it rather than "Enter a number"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().clean(value)
        return parse_yuan(text) if text else None


# --- looking up and creating people -----------------------------------------------------


def widen_id_number(form: forms.BaseForm) -> None:
    """The model keeps 18 characters; people may type spaces or an old 15-digit number,
    which :func:`normalised_id_number` tidies first, so the input must accept more."""
    field = form.fields["id_number"]
    assert isinstance(field, forms.CharField)
    field.max_length = 32
    field.validators = [v for v in field.validators if not hasattr(v, "limit_value")]
    field.widget.attrs["maxlength"] = "32"


def normalised_id_number(raw: str) -> str:
    """Spaces out, full-width to half-width, 15 digits to 18; the model's clean() then
    validates. A number still too long gets the same message the model would give."""
    number = normalise(raw)
    if len(number) == 15 and number.isdigit():
        number = upgrade_15(number)
    if len(number) > 18:
        validate_id_number(number)  # raises the "has N characters" message
    return number


class IdNumberForm(forms.Form):
    id_number = forms.CharField(
        label=_("ID number of the applicant"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )

    def clean_id_number(self) -> str:
        info: IdInfo = validate_id_number(self.cleaned_data["id_number"])
        return info.number


def regions_for(organisation: Organisation | None) -> QuerySet[Region]:
    """Regions a user picks from: those under their organisation's region."""
    regions = Region.objects.all()
    code = organisation.region_id if organisation else None
    if code:
        stem = code.rstrip("0")
        stem = stem + "0" * (len(stem) % 2)  # keep whole two-digit levels
        regions = regions.filter(code__startswith=stem)
    return regions.order_by("code")


class ApplicationForm(forms.Form):
    """A new application; ``region`` and ``address`` only when a household must be created."""

    region = forms.ModelChoiceField(label=_("Region of the household"), queryset=Region.objects)
    address = forms.CharField(label=_("Address"), max_length=255)
    primary_cause = forms.TypedChoiceField(
        label=_("Primary cause"),
        coerce=int,
        choices=[("", "—"), *HardshipCause.choices],
    )
    secondary_causes = forms.TypedMultipleChoiceField(
        label=_("Secondary causes (at most three)"),
        coerce=int,
        choices=HardshipCause.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    exclusions_found = forms.MultipleChoiceField(
        label=_("Exclusions found"),
        choices=Exclusion.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    applied_on = forms.DateField(
        label=_("Applied on"), widget=DateInput(), validators=[not_in_future]
    )
    idle_able_members = forms.IntegerField(
        label=_("Able members of working age without a job"), min_value=0, max_value=20, initial=0
    )
    income_pledge = forms.BooleanField(
        label=_("The applicant signed the income pledge."), required=False
    )
    finance_check_authorised = forms.BooleanField(
        label=_("The applicant authorised the check of the family's finances."), required=False
    )

    def __init__(
        self, *args: Any, needs_household: bool, organisation: Organisation | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if needs_household:
            region_field = self.fields["region"]
            assert isinstance(region_field, forms.ModelChoiceField)
            region_field.queryset = regions_for(organisation)
        else:
            del self.fields["region"], self.fields["address"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        secondary = data.get("secondary_causes") or []
        if len(secondary) > MAX_SECONDARY_CAUSES:
            self.add_error("secondary_causes", _("Choose at most three secondary causes."))
        elif data.get("primary_cause") in secondary:
            self.add_error(
                "secondary_causes", _("A secondary cause cannot repeat the primary cause.")
            )
        return data


class WorkerForm(forms.ModelForm):
    """Create or edit a worker; ``Worker.clean`` validates the ID number and phone."""

    class Meta:
        model = Worker
        fields = ["id_number", "name", "phone", "region", "organisation", "employer"]
        widgets = {
            "id_number": forms.TextInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
        }

    def __init__(self, *args: Any, organisations: QuerySet[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widen_id_number(self)
        org_field = self.fields["organisation"]
        region_field = self.fields["region"]
        assert isinstance(org_field, forms.ModelChoiceField)
        assert isinstance(region_field, forms.ModelChoiceField)
        org_field.queryset = organisations
        region_field.required = True

    def clean_id_number(self) -> str:
        try:
            return normalised_id_number(self.cleaned_data.get("id_number", ""))
        except ValidationError:
            # Let Worker.clean() report it, once, from the number as typed.
            self.instance.id_number = normalise(self.cleaned_data.get("id_number", ""))
            raise

    def full_clean(self) -> None:
        super().full_clean()
        # The form and Worker.clean() may word the same problem identically.
        for name, errors in list(self.errors.items()):
            unique = [str(e) for e in dict.fromkeys(errors)]
            if len(unique) != len(errors):
                self.errors[name] = self.error_class(unique)


class MemberForm(forms.ModelForm):
    """A household member; ``HouseholdMember.clean`` validates the ID number."""

    monthly_income = AmountField(label=_("Monthly income (yuan)"), required=False)

    class Meta:
        model = HouseholdMember
        fields = [
            "name",
            "id_number",
            "relation",
            "birth_date",
            "health",
            "disability",
            "schooling",
            "employment",
            "monthly_income",
        ]
        widgets = {"birth_date": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widen_id_number(self)
        self.fields["birth_date"].help_text = _("Taken from the ID number when there is one.")

    def clean_id_number(self) -> str:
        return normalised_id_number(self.cleaned_data.get("id_number", ""))

    def clean_monthly_income(self) -> Decimal:
        return self.cleaned_data.get("monthly_income") or Decimal("0")


class HouseholdForm(forms.Form):
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects)
    address = forms.CharField(label=_("Address"), max_length=255, required=False)


# --- finances -------------------------------------------------------------------------------


class LineForm(forms.Form):
    """One row of the income or expense table. A row left entirely blank is ignored."""

    kind = forms.ChoiceField(label=_("Kind"), required=False)
    amount = forms.CharField(
        label=_("Amount over 12 months (yuan)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    member = forms.TypedChoiceField(label=_("Member"), coerce=int, required=False, empty_value=None)
    note = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(
        self,
        *args: Any,
        kinds: Sequence[tuple[str, str]],
        members: Sequence[tuple[int, str]],
        row: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.row = row
        kind_field = self.fields["kind"]
        member_field = self.fields["member"]
        assert isinstance(kind_field, forms.ChoiceField)
        assert isinstance(member_field, forms.ChoiceField)
        kind_field.choices = [("", "—"), *kinds]
        member_field.choices = [("", _("Whole household")), *members]

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not data.get("kind") and not (data.get("amount") or "").strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.is_blank:
            return data
        if not data.get("kind"):
            self.add_error("kind", _("Row %(row)d: choose the kind.") % {"row": self.row})
        raw = (data.get("amount") or "").strip()
        if not raw:
            self.add_error("amount", _("Row %(row)d: enter the amount.") % {"row": self.row})
        else:
            try:
                data["amount"] = parse_yuan(raw, row=self.row)
            except ValidationError as exc:
                self.add_error("amount", exc)
        return data


class BaseLineFormSet(forms.BaseFormSet):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = super().get_form_kwargs(index)
        kwargs["row"] = (index or 0) + 1
        return kwargs


MAX_LINES = 60


def line_formset(extra: int) -> type[forms.BaseFormSet]:
    """A formset class with ``extra`` blank rows under the existing lines."""
    return forms.formset_factory(
        LineForm, formset=BaseLineFormSet, extra=extra, max_num=MAX_LINES, absolute_max=MAX_LINES
    )


INCOME_KINDS = IncomeKind.choices
EXPENSE_KINDS = ExpenseKind.choices


# --- actions on a file --------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class UploadsField(forms.FileField):
    """Several photos or documents in one input; each is checked for type and size."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else [data] if data else []
        cleaned = [super(UploadsField, self).clean(item, initial) for item in items]
        for upload in cleaned:
            if Path(upload.name or "").suffix.lower() not in UPLOAD_SUFFIXES:
                raise ValidationError(
                    _("“%(name)s” is not a photo or a PDF.") % {"name": upload.name}
                )
            if (upload.size or 0) > MAX_UPLOAD_BYTES:
                raise ValidationError(_("“%(name)s” is larger than 5 MB.") % {"name": upload.name})
        return cleaned


class InvestigationForm(forms.Form):
    visited_on = forms.DateField(label=_("Visit date"), widget=DateInput())
    findings = forms.CharField(
        label=_("Findings"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    co_investigators = forms.CharField(label=_("Visited with"), max_length=128, required=False)
    household_confirmed = forms.BooleanField(
        label=_("Household members and income confirmed on site."), required=False, initial=True
    )
    photos = UploadsField(label=_("Photos and documents"), required=False)
    caption = forms.CharField(label=_("Caption for the photos"), max_length=128, required=False)


class SubmitForm(forms.Form):
    """Submitting for public notice takes no input; errors still need a form to sit on."""


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class IncomeReadingForm(forms.Form):
    month = forms.DateField(
        label=_("Month"),
        input_formats=["%Y-%m", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )
    per_capita = AmountField(label=_("Per-capita income that month (yuan)"))


class ExitForm(forms.Form):
    exit_kind = forms.ChoiceField(label=_("How the household leaves"), choices=ExitKind.choices)
    exit_on = forms.DateField(label=_("Exit date"), widget=DateInput())
    exit_reason = forms.CharField(
        label=_("Evidence and notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


# --- lists ------------------------------------------------------------------------------------


class FileFilterForm(forms.Form):
    q = forms.CharField(label=_("Name, ID number, phone or file number"), required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All statuses")), *FileStatus.choices], required=False
    )
    category = forms.ChoiceField(
        label=_("Category"),
        choices=[("", _("All categories")), *HardshipCategory.choices],
        required=False,
    )


class AuditFilterForm(forms.Form):
    model = forms.ChoiceField(label=_("Record type"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def __init__(self, *args: Any, models: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field = self.fields["model"]
        assert isinstance(model_field, forms.ChoiceField)
        model_field.choices = [("", _("All record types")), *models]

    def filter(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("model"):
            entries = entries.filter(model=data["model"])
        if data.get("date_from"):
            entries = entries.filter(at__date__gte=data["date_from"])
        if data.get("date_to"):
            entries = entries.filter(at__date__lte=data["date_to"])
        return entries


# --- policies ------------------------------------------------------------------------------


class RegionScopedForm(forms.ModelForm):
    """A policy or standard may only be set for a region under the user's own region."""

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organisation = getattr(user, "organisation", None)
        region = getattr(organisation, "region", None)
        regions = Region.objects.none()
        if region is not None:
            regions = Region.objects.filter(code__startswith=region_prefix(region))
        self.fields["region"].queryset = regions  # type: ignore[attr-defined]


class PolicyForm(RegionScopedForm):
    exclusions = forms.MultipleChoiceField(
        label=_("Exclusions in force"),
        choices=Exclusion.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    follow_up_months = forms.CharField(
        label=_("Follow-ups after exit (months)"),
        help_text=_("Months after the exit, separated by commas, e.g. 3, 6, 12."),
        required=False,
    )

    class Meta:
        model = Policy
        fields = [
            "name",
            "region",
            "valid_from",
            "valid_to",
            "relative_multiplier",
            "accident_multiplier",
            "accident_cost_ratio",
            "minimum_wage",
            "count_union_aid",
            "count_holiday_gifts",
            "count_basic_pension",
            "exclusions",
            "review_interval_months",
            "notice_working_days",
            "investigation_days",
            "exit_months",
            "follow_up_months",
            "filing_limit_days",
            "help_limit_days",
        ]
        widgets = {"valid_from": DateInput(), "valid_to": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            months = self.instance.follow_up_months or []
            self.initial["follow_up_months"] = ", ".join(str(m) for m in months)

    def clean_follow_up_months(self) -> list[int]:
        text = self.cleaned_data.get("follow_up_months") or ""
        parts = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
        if not all(p.isdigit() and 0 < int(p) <= 120 for p in parts):
            raise ValidationError(_("Write whole months between 1 and 120, separated by commas."))
        return sorted({int(p) for p in parts})


class LivingStandardForm(RegionScopedForm):
    monthly_amount = AmountField(label=_("Standard (yuan per person per month)"))

    class Meta:
        model = LivingStandard
        fields = ["region", "valid_from", "valid_to", "monthly_amount"]
        widgets = {"valid_from": DateInput(), "valid_to": DateInput()}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("The end is before the start."))
        return data
