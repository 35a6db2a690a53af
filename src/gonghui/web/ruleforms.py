"""Forms of the screening-rule pages: a rule's parameters (one field per declared
parameter, amounts in yuan at the edge), the as-of date of a dry run or a run, and a rule's
definition (code, name, description, SQL and the table of declared parameters) with the
list of what a rule may read, generated from the compiler's own tables. They parse input;
:mod:`gonghui.discovery.screening` (``check_rule``, ``create_rule``, ``change_rule``)
decides and names the field when it refuses."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.assistance.money import format_fen, parse_yuan, to_fen
from gonghui.discovery import lists, rules
from gonghui.discovery.choices import SourceKind
from gonghui.discovery.models import ScreeningRule
from gonghui.errors import DomainError
from gonghui.hardship.choices import FileStatus
from gonghui.people.choices import Relation, Schooling
from gonghui.web.forms import DateInput

# Labels of the built-in rules' parameters; a custom rule's parameter shows its own label
# (the definition's "label") or its name.
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


def label_of(name: str, spec: Mapping[str, Any]) -> str:
    """A custom rule's own label, a built-in parameter's translated one, or the name."""
    return str(spec.get("label") or LABELS.get(name, name))


def current(rule: ScreeningRule) -> list[tuple[str, str, str]]:
    """(name, label, value shown) of each declared parameter: the saved value or default."""
    return values_of(rule.definition, rule.parameters)


def values_of(
    definition: Mapping[str, Any], parameters: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """The same for a definition and its values (a rule, or one of its kept versions)."""
    specs = (definition or {}).get("parameters") or {}
    return [
        (name, label_of(name, spec), shown(spec.get("type", "int"), value))
        for name, spec in (specs if isinstance(specs, Mapping) else {}).items()
        for value in [(parameters or {}).get(name, spec.get("default"))]
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
            field.label = label_of(name, spec)
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


# --- defining a rule ------------------------------------------------------------------------

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
CJK = re.compile(r"[\u3400-\u9fff]")
TYPE_LABELS = {
    "int": gettext_lazy("whole number"),
    "fen": gettext_lazy("amount (yuan)"),
    "months": gettext_lazy("number of months"),
    "date": gettext_lazy("date (YYYY-MM-DD)"),
    "text": gettext_lazy("text"),
}
MAX_PARAMETERS = 12


class ParameterSpecForm(forms.Form):
    """One declared parameter: written ``:name`` in the SQL. A row left blank is ignored;
    the default is typed as people write it (amounts in yuan), the compiler checks it."""

    name = forms.CharField(label=gettext_lazy("Parameter name"), max_length=40, required=False)
    type = forms.ChoiceField(
        label=gettext_lazy("Type"),
        choices=[(kind, TYPE_LABELS[kind]) for kind in rules.PARAMETER_TYPES],
        initial="int",
    )
    default = forms.CharField(label=gettext_lazy("Default"), max_length=100, required=False)
    label = forms.CharField(label=gettext_lazy("Label"), max_length=100, required=False)

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any((data.get(key) or "").strip() for key in ("name", "default", "label"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.is_blank:
            return data
        name = (data.get("name") or "").strip()
        if not IDENTIFIER.fullmatch(name):
            self.add_error(
                "name",
                _("A parameter's name is lower-case letters, digits and _, such as threshold_fen."),
            )
        data["name"] = name
        raw = (data.get("default") or "").strip()
        kind = data.get("type", "int")
        if not raw:
            self.add_error("default", _("Give the parameter a default value."))
        elif kind == "fen":
            try:
                data["default"] = to_fen(parse_yuan(raw))
            except ValueError:
                self.add_error("default", _("Enter an amount in yuan, such as 20000.00."))
        elif kind in INTEGER_KINDS:
            # Anything else goes to the compiler as typed: it says what is wrong.
            data["default"] = int(raw) if raw.isdigit() else raw
        else:
            data["default"] = raw
        return data

    def spec(self) -> dict[str, Any]:
        data = self.cleaned_data
        found = {"type": data["type"], "default": data["default"]}
        if (data.get("label") or "").strip():
            found["label"] = data["label"].strip()
        return found


class BaseParameterFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        super().clean()
        names = [
            f.cleaned_data.get("name")
            for f in self.forms
            if hasattr(f, "cleaned_data") and not f.is_blank
        ]
        twice = sorted({n for n in names if n and names.count(n) > 1})
        if twice:
            raise forms.ValidationError(
                _("Each parameter is declared once: %(names)s.") % {"names": ", ".join(twice)}
            )


def parameter_formset(
    data: Mapping[str, Any] | None = None, specs: Mapping[str, Mapping[str, Any]] | None = None
) -> forms.BaseFormSet:
    """The parameter table: the declared parameters, then two blank rows."""
    initial = [
        {
            "name": name,
            "type": spec.get("type", "int"),
            "default": shown(spec.get("type", "int"), spec.get("default")),
            "label": spec.get("label", ""),
        }
        for name, spec in (specs or {}).items()
    ]
    formset_class = forms.formset_factory(
        ParameterSpecForm,
        formset=BaseParameterFormSet,
        extra=2,
        max_num=MAX_PARAMETERS,
        absolute_max=MAX_PARAMETERS,
    )
    return formset_class(data, initial=initial, prefix="param")


class RuleDefinitionForm(forms.Form):
    """A rule's code, name, description (in Chinese: the grassroots unions read it with
    each candidate) and SQL. The SQL is checked by the compiler, not here."""

    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=50,
        help_text=gettext_lazy(
            "Lower-case letters, digits and hyphens, such as medical-out-of-pocket-6m. It "
            "names the rule for good."
        ),
    )
    name = forms.CharField(label=gettext_lazy("Rule name"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description (in Chinese)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Whom the rule flags and why, in Chinese: the grassroots unions read it with "
            "each candidate."
        ),
    )
    sql = forms.CharField(
        label=gettext_lazy("SQL"),
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 18, "class": "mono", "spellcheck": "false", "autocapitalize": "off"}
        ),
        help_text=gettext_lazy(
            "One SELECT in DuckDB's SQL over the tables listed beside the form; parameters "
            "are written :name."
        ),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, rule: ScreeningRule | None = None, **kwargs: Any) -> None:
        """``rule``: the rule being changed (its code stays; a built-in rule's name and
        description are translated texts, so they stay too)."""
        super().__init__(*args, **kwargs)
        self.rule = rule
        fixed = ("code", "name", "description") if rule and rule.builtin else ("code",)
        for name in fixed if rule else ():
            self.fields[name].disabled = True
            self.fields[name].required = False

    def clean_description(self) -> str:
        text = (self.cleaned_data.get("description") or "").strip()
        if self.fields["description"].disabled:
            return text
        if not CJK.search(text):
            raise forms.ValidationError(
                _("Write the description in Chinese: the grassroots unions read it.")
            )
        return text

    def clean_sql(self) -> str:
        return (self.cleaned_data.get("sql") or "").strip()


def definition_of(form: RuleDefinitionForm, formset: forms.BaseFormSet) -> dict[str, Any]:
    """The definition the two valid forms describe, as the compiler reads it."""
    return {
        "sql": form.cleaned_data["sql"],
        "parameters": {
            row.cleaned_data["name"]: row.spec() for row in formset.forms if not row.is_blank
        },
    }


def attach_definition_error(
    exc: DomainError, form: RuleDefinitionForm, formset: forms.BaseFormSet
) -> None:
    """A refusal of the compiler or the service where the person looks for it: the SQL
    field for the SQL, the row of the parameter it names, the code or the name."""
    message = str(exc)
    if exc.field == "definition":
        form.add_error("sql", message)
        return
    if exc.field == "parameters":
        for row in formset.forms:
            name = getattr(row, "cleaned_data", {}).get("name")
            if name and re.search(rf"(?<![\w:]){re.escape(name)}(?!\w)", message):
                row.add_error(None, message)
                return
        form.add_error("sql", message)
        return
    if exc.field in ("code", "name", "description") and not form.fields[exc.field].disabled:
        form.add_error(exc.field, message)
        return
    form.add_error(None, message)


# --- what a rule may read (generated from the compiler's own tables) ----------------------

TABLE_NOTES = {
    "members": gettext_lazy(
        "Every worker of the registry, with their union and household (a worker registered "
        "twice appears under the record that stays)."
    ),
    "household_members": gettext_lazy(
        "The people of each registered household, with the worker's record where they are one."
    ),
    "files": gettext_lazy("Hardship files: applicant, household, union and status."),
    "income_readings": gettext_lazy(
        "A file's monthly per-capita income and the minimum-living standard of that month (fen)."
    ),
    "open_file_members": gettext_lazy(
        "Every worker of a household with an open or filed file, and every applicant (a view)."
    ),
}
COLUMN_NOTES = {
    "worker_id": gettext_lazy("the worker's record"),
    "id_number": gettext_lazy(
        "ID number; in a list, also the number of the worker a row was linked to"
    ),
    "organisation_id": gettext_lazy("the union"),
    "household_id": gettext_lazy("the household"),
    "applicant_id": gettext_lazy("the applicant's worker record"),
    "file_id": gettext_lazy("the hardship file"),
    "reading_id": gettext_lazy("the reading (evidence: import_id 0, row_no the reading)"),
    "import_id": gettext_lazy("the list import (evidence)"),
    "row_no": gettext_lazy("the row in the list import (evidence)"),
    "id_given": gettext_lazy("the ID number as written, when it is not valid"),
    "id_problem": gettext_lazy("what is wrong with the ID number as written"),
    "region_id": gettext_lazy("region code"),
}
# Columns whose values are codes of the registry: the codes a rule compares with.
CODES: dict[tuple[str, str], Any] = {
    ("household_members", "relation"): Relation.values,
    ("household_members", "schooling"): Schooling.values,
    ("files", "status"): FileStatus.values,
    ("open_file_members", "status"): list(rules.OPEN_FILE),
}
OUTPUT_NOTES = {
    "worker_id": gettext_lazy("the worker flagged"),
    "source": gettext_lazy("what the evidence is, a word such as 'medical'"),
    "import_id": gettext_lazy("the list import of the row that says why"),
    "row_no": gettext_lazy("that row's number"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    note: str
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]


def _note(table: str, column: str) -> str:
    kind = rules.LIST_TABLES.get(table)
    if kind is not None and column not in COLUMN_NOTES:
        found = lists.label(kind, column)
        return "" if found == column else found
    return str(COLUMN_NOTES.get(column, ""))


def _title(table: str) -> str:
    kind = rules.LIST_TABLES.get(table)
    if kind is not None:
        return str(SourceKind(kind).label)
    return str(TABLE_NOTES.get(table, ""))


def catalogue() -> list[Table]:
    """The tables and columns a rule may read, as the compiler knows them
    (:data:`rules.READABLE`), with a word on each and the codes a column holds."""
    return [
        Table(
            name=table,
            title=_title(table),
            columns=tuple(
                Column(name, sql_type, _note(table, name), tuple(CODES.get((table, name), ())))
                for name, sql_type in columns
            ),
        )
        for table, columns in rules.READABLE.items()
    ]


def outputs() -> list[tuple[str, str]]:
    return [(name, str(OUTPUT_NOTES.get(name, ""))) for name in rules.OUTPUT]
