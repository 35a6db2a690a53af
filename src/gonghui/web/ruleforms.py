"""Forms of the screening-rule pages: a rule's parameters (one field per declared
parameter, amounts in yuan at the edge), and the as-of date of a dry run or a run. They
parse input; :func:`gonghui.discovery.screening.change_rule` decides and names the field
when it refuses."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.assistance.money import format_fen, parse_yuan, to_fen
from gonghui.discovery.models import ScreeningRule
from gonghui.errors import DomainError
from gonghui.web.forms import DateInput

# Labels of the built-in rules' parameters; a custom rule's parameter shows its name.
LABELS = {
    "threshold_fen": gettext_lazy("Threshold (yuan)"),
    "min_homes": gettext_lazy("Number of homes"),
    "months": gettext_lazy("Months"),
}
INTEGER_KINDS = ("int", "months")


def declared(rule: ScreeningRule) -> dict[str, dict[str, Any]]:
    found = (rule.definition or {}).get("parameters") or {}
    return dict(found) if isinstance(found, Mapping) else {}


def shown(kind: str, value: Any) -> str:
    """A parameter's value as a person reads it (amounts in yuan)."""
    if kind == "fen" and isinstance(value, int) and not isinstance(value, bool):
        return format_fen(value)
    return "" if value is None else str(value)


def current(rule: ScreeningRule) -> list[tuple[str, str, str]]:
    """(name, label, value shown) of each declared parameter: the saved value or default."""
    return [
        (name, str(LABELS.get(name, name)), shown(spec.get("type", "int"), value))
        for name, spec in declared(rule).items()
        for value in [rule.parameters.get(name, spec.get("default"))]
    ]


class ParametersForm(forms.Form):
    """One field per parameter the rule declares, filled with its current value."""

    def __init__(self, *args: Any, rule: ScreeningRule, **kwargs: Any) -> None:
        self.rule = rule
        self.specs = declared(rule)
        kwargs["initial"] = {name: value for name, _label, value in current(rule)}
        super().__init__(*args, **kwargs)
        for name, spec in self.specs.items():
            kind = spec.get("type", "int")
            field: forms.Field
            if kind == "date":
                field = forms.DateField(widget=DateInput())
            else:
                field = forms.CharField(max_length=100)
            field.label = LABELS.get(name, name)
            if kind == "fen":
                field.help_text = _("Default: %(value)s yuan.") % {
                    "value": shown(kind, spec.get("default"))
                }
            elif spec.get("default") is not None:
                field.help_text = _("Default: %(value)s.") % {"value": spec.get("default")}
            self.fields[name] = field

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, spec in self.specs.items():
            if name not in data:
                continue
            kind, raw = spec.get("type", "int"), data[name]
            if kind == "fen":
                try:
                    data[name] = to_fen(parse_yuan(str(raw)))
                except ValueError:
                    self.add_error(name, _("Enter an amount in yuan, such as 20000.00."))
            elif kind in INTEGER_KINDS:
                text = str(raw).strip()
                # Anything else goes to the service as typed: it says what is wrong.
                data[name] = int(text) if text.isdigit() else text
            elif kind == "date" and isinstance(raw, datetime.date):
                data[name] = raw.isoformat()
        return data

    def values(self) -> dict[str, Any]:
        """The parameters to save: only those that differ from their default."""
        return {
            name: self.cleaned_data[name]
            for name, spec in self.specs.items()
            if self.cleaned_data.get(name) != spec.get("default")
        }

    def attach(self, exc: DomainError) -> None:
        """A refusal of the service on the parameter it names, else above the form."""
        if exc.field in ("parameters", "definition"):
            for name in self.specs:
                if name in str(exc):
                    self.add_error(name, str(exc))
                    return
        self.add_error(None, str(exc))


class AsOfForm(forms.Form):
    """The day a dry run or a run screens for (today by default)."""

    as_of = forms.DateField(label=gettext_lazy("As of"), widget=DateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"as_of": timezone.localdate()})
        super().__init__(*args, **kwargs)
