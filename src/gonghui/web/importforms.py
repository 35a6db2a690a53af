"""Forms of the import pages: the upload of a roster or an external list, and the column
mapping of a source. They parse input; the services in :mod:`gonghui.discovery` decide and
name the field when they refuse.

Before an upload becomes an import its first line is read here (``file_headers``): a file
that is empty, an old .xls, UTF-16 or neither UTF-8 nor GBK is refused on the field at once,
and a file whose headers lack a required column goes to the column mapping first.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.discovery import engine, lists
from gonghui.discovery.choices import RosterField, SourceKind
from gonghui.discovery.columns import ALIASES, REQUIRED, header_key, missing_message
from gonghui.discovery.models import RosterSource
from gonghui.errors import DomainError
from gonghui.web.forms import DateInput

SUFFIXES = (".csv", ".txt", ".xlsx")


# --- what a file's columns may hold -----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The fields a source's columns map to: a roster's, or those of a list kind."""

    choices: list[tuple[str, str]]
    aliases: Mapping[str, Sequence[str]]
    required: Sequence[str]

    def label(self, name: str) -> str:
        return dict(self.choices).get(name, name)

    def recognise(self, headers: Sequence[str], saved: Mapping[str, str]) -> dict[str, str]:
        """header → field, for the headers the built-in names or the saved mapping know."""
        table = {header_key(a): field for field, names in self.aliases.items() for a in names}
        table.update({header_key(header): field for header, field in saved.items()})
        return {h: table[header_key(h)] for h in headers if header_key(h) in table}

    def missing(self, headers: Sequence[str], saved: Mapping[str, str]) -> str:
        """The message for the required fields no header holds ("" when none is missing)."""
        found = set(self.recognise(headers, saved).values())
        absent = [f for f in self.required if f not in found]
        if not absent:
            return ""
        return missing_message(absent, headers, self.aliases, self.label)


def roster_target() -> Target:
    return Target(
        choices=[(f.value, str(f.label)) for f in RosterField],
        aliases=ALIASES,
        required=REQUIRED,
    )


def list_target(kind: str) -> Target:
    items = lists.fields(kind)
    return Target(
        choices=[(f.name, str(f.label)) for f in items],
        aliases={f.name: f.aliases for f in items},
        required=[f.name for f in items if f.required],
    )


def file_headers(path: Path) -> list[str]:
    """The headers of a CSV (UTF-8 or GBK) or XLSX file, read from its first line only; a
    file that cannot be an import is a :class:`DomainError` on ``file``."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(engine.SAMPLE_BYTES)
    if size == 0 or head.startswith(b"\xd0\xcf\x11\xe0"):
        engine.prepare(path, path.parent)  # raises the engine's message for these
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_headers(path)
    encoding = engine.detect_encoding(head, complete=size <= engine.SAMPLE_BYTES)
    first = head.split(b"\n", 1)[0]
    line = codecs.decode(first, encoding, errors="replace").lstrip("\ufeff").rstrip("\r")
    if not line.strip():
        raise DomainError(_("The file is empty: its first line holds no headers."), field="file")
    delimiter = max(",\t;|", key=line.count)
    return [h.strip() for h in next(csv.reader([line], delimiter=delimiter))]


def _xlsx_headers(path: Path) -> list[str]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise DomainError(
            _("The file could not be read as an XLSX workbook (%(error)s).") % {"error": exc},
            field="file",
        ) from None
    try:
        first = next(book.worksheets[0].iter_rows(values_only=True, max_row=1), ())
    finally:
        book.close()
    headers = ["" if value is None else str(value).strip() for value in first]
    if not any(headers):
        raise DomainError(_("The file is empty: its first line holds no headers."), field="file")
    return headers


# --- uploads ----------------------------------------------------------------------------


class UploadForm(forms.Form):
    """A file from a source: one of the sources the user may use, or a new one."""

    source = forms.ModelChoiceField(
        label=gettext_lazy("Source"), queryset=RosterSource.objects.none(), required=False
    )
    new_source = forms.CharField(
        label=gettext_lazy("or a new source named"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("e.g. the agency or office that sends the file"),
    )
    file = forms.FileField(
        label=gettext_lazy("File (CSV or XLSX, UTF-8 or GBK)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )

    def __init__(self, *args: Any, sources: QuerySet[RosterSource], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["source"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = sources

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(SUFFIXES):
            raise forms.ValidationError(
                _("Upload a CSV or XLSX file (an old .xls file: save it as .xlsx first)."),
                code="suffix",
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["new_source"] = (data.get("new_source") or "").strip()
        if not data.get("source") and not data["new_source"] and "source" not in self.errors:
            self.add_error("source", _("Choose a source or give the name of a new one."))
        return data


class ListUploadForm(UploadForm):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind of list"),
        choices=[("", "—")] + [(k, SourceKind(k).label) for k in lists.LIST_KINDS],
        required=False,
        help_text=gettext_lazy("for a new source; an existing source keeps its kind"),
    )
    agency = forms.CharField(
        label=gettext_lazy("Agency"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("who sent the list, e.g. 合肥市民政局 (the source name if empty)"),
    )
    period_from = forms.DateField(label=gettext_lazy("Period from"), widget=DateInput())
    period_to = forms.DateField(label=gettext_lazy("Period to"), widget=DateInput())

    field_order = ["source", "new_source", "kind", "agency", "period_from", "period_to", "file"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source = data.get("source")
        if source is None and data.get("new_source") and not data.get("kind"):
            self.add_error("kind", _("Choose what the new source delivers."))
        if source is not None:
            data["kind"] = source.kind
        start: datetime.date | None = data.get("period_from")
        end: datetime.date | None = data.get("period_to")
        if start and end and start > end:
            self.add_error("period_to", _("The period must end on or after its first day."))
        return data


# --- column mapping ---------------------------------------------------------------------


class MappingForm(forms.Form):
    """One choice per header that no built-in name or saved mapping recognises; a field is
    named after the column's position in the file (``col0``, ``col3`` …), so its name
    stays the same while other columns get mapped."""

    def __init__(
        self, *args: Any, columns: Sequence[tuple[int, str]], target: Target, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.columns = list(columns)
        choices = [("", _("— not used —")), *target.choices]
        for index, header in self.columns:
            self.fields[f"col{index}"] = forms.ChoiceField(
                label=header or _("(column %(n)d without a header)") % {"n": index + 1},
                choices=choices,
                required=False,
            )

    @property
    def headers(self) -> list[str]:
        return [header for _index, header in self.columns]

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data[f"col{index}"]
            for index, header in self.columns
            if header and self.cleaned_data.get(f"col{index}")
        }
