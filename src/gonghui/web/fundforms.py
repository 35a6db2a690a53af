"""Forms of the fund pages: funds, budgets, payment batches. They parse input; the services
in :mod:`gonghui.assistance` decide and name the field when they refuse."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from gonghui.assistance.choices import AidKind, FundSource
from gonghui.assistance.models import Budget, Fund
from gonghui.assistance.money import to_fen
from gonghui.organisations.models import Organisation
from gonghui.web.forms import AmountField

# How far below a budget's organisation the allocation form offers organisations: the
# grassroots unions of a province number in the thousands, and money goes down one or two
# levels at a time.
ALLOCATE_LEVELS = 2


class FundForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=128)
    source = forms.ChoiceField(label=_("Source"), choices=FundSource.choices)
    purposes = forms.MultipleChoiceField(
        label=_("Allowed purposes"),
        choices=AidKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,  # the service says "Choose at least one purpose." on the field
    )
    requires_file = forms.BooleanField(
        label=_("Pays only households with an active hardship file"), required=False
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, fund: Fund | None = None, **kwargs: Any) -> None:
        if fund is not None:
            kwargs.setdefault(
                "initial",
                {
                    "code": fund.code,
                    "name": fund.name,
                    "source": fund.source,
                    "purposes": fund.purposes,
                    "requires_file": fund.requires_file,
                    "active": fund.active,
                },
            )
        super().__init__(*args, **kwargs)
        if fund is None:
            del self.fields["active"]
            self.fields["requires_file"].initial = True
        else:
            # A fund's code and source are what it is; only the rest may change.
            for name in ("code", "source"):
                self.fields[name].disabled = True


class AmountForm(forms.Form):
    """Receive money, or return what is unspent."""

    amount = AmountField(label=_("Amount (yuan)"))
    memo = forms.CharField(label=_("Memo"), max_length=255, required=False)

    @property
    def amount_fen(self) -> int:
        return to_fen(self.cleaned_data["amount"])


class OrganisationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Organisation) -> str:  # type: ignore[override]
        indent = "\u3000" * max(obj.depth - getattr(self, "top_depth", 0) - 1, 0)
        return f"{indent}{obj.name}"


class AllocateForm(AmountForm):
    organisation = OrganisationChoice(label=_("To organisation"), queryset=Organisation.objects)

    field_order = ["organisation", "amount", "memo"]

    def __init__(self, *args: Any, budget: Budget, below: QuerySet[Organisation], **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        assert isinstance(field, OrganisationChoice)
        top = budget.organisation
        field.queryset = (
            below.filter(top.subtree_q(), depth__lte=top.depth + ALLOCATE_LEVELS)
            .exclude(pk=top.pk)
            .order_by("path")
        )
        field.top_depth = top.depth  # type: ignore[attr-defined]


class OpenBudgetForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)


class BatchForm(forms.Form):
    fund = forms.ModelChoiceField(label=_("Fund"), queryset=Fund.objects.none())

    def __init__(self, *args: Any, funds: QuerySet[Fund], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["fund"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = funds.filter(active=True).order_by("code")


class ResultFileForm(forms.Form):
    result = forms.FileField(
        label=_("Bank result file (CSV or XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )


class BankCardForm(forms.Form):
    bank_name = forms.CharField(label=_("Bank"), max_length=64)
    account_number = forms.CharField(label=_("Card number"), max_length=32)
    holder_name = forms.CharField(label=_("Account holder"), max_length=64)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255)
