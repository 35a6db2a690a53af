"""Template helpers: the personal-data rule, the decision trace, money and labels."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.context import Context
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gonghui import choicelabels
from gonghui.hardship import rules
from gonghui.hardship.choices import Exclusion, FileStatus, HardshipCategory, HardshipCause
from gonghui.hardship.queue import QueueKind
from gonghui.people import personal as personal_rule
from gonghui.web import nav

register = template.Library()


@register.simple_tag(takes_context=True)
def personal(context: Context, value: str | None, kind: str = "id") -> str:
    """``{% personal worker.id_number "id" %}``: masked unless this page and role allow."""
    return personal_rule.shown(value, kind, _reveal(context))


@register.filter
def trace_text(line: Mapping[str, Any]) -> str:
    """One stored line of a decision trace as a sentence in the active language."""
    try:
        return rules.TraceLine(**line).text()
    except (KeyError, TypeError, ValueError):
        return str(line.get("code", ""))


@register.filter
def cause_label(code: int | str) -> str:
    try:
        return str(HardshipCause(int(code)).label)
    except (TypeError, ValueError):
        return str(code)


@register.filter
def cause_labels(codes: Iterable[int | str]) -> list[str]:
    return [cause_label(code) for code in codes or ()]


def list_separator() -> str:
    """Chinese lists items with the enumeration comma 、, English with ", "."""
    language = get_language() or ""
    return "、" if language.startswith("zh") else ", "


@register.filter
def join_labels(items: Iterable[Any]) -> str:
    """``{{ labels|join_labels }}``: the items as one list in the active language."""
    return list_separator().join(str(item) for item in items or ())


@register.filter
def exclusion_label(code: str) -> str:
    try:
        return str(Exclusion(code).label)
    except ValueError:
        return code


@register.filter
def yuan(value: Decimal | str | None) -> str:
    """1234.5 -> "1,234.50"; blank for no value."""
    if value is None or value == "":
        return ""
    return intcomma(f"{Decimal(value):.2f}", use_l10n=False)


@register.filter
def choice_label(value: str, choices: Any) -> str:
    """The label of ``value`` in a TextChoices class passed from the view."""
    return _label(choices, value)


@register.filter
def can(user: Any, capability: str) -> bool:
    """``{% if request.user|can:"edit_policy" %}``: the same check the services make."""
    return bool(getattr(user, "is_authenticated", False) and user.can(capability))


@register.filter
def get_item(mapping: Mapping[str, Any], key: str) -> Any:
    return mapping.get(key)


def _label(choices: Any, value: str) -> str:
    return choicelabels.choice_label(choices, value)  # type: ignore[no-any-return]


def _html(value: Any) -> str:
    """``conditional_escape(value)``, the same text, without the lazy-string check Django
    wraps it in: the lists escape some 800 values a page, and the check was half the cost."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


@register.filter
def status_badge(file: Any) -> SafeString:
    """The file's status as a badge: one function call per row of a 50-row list."""
    status = file.status
    return SafeString(
        f'<span class="badge status-{_html(status)}">{_html(_label(FileStatus, status))}</span>'
    )


@register.filter
def category_badge(file: Any) -> SafeString | str:
    """The decided category, or the proposed one marked as not yet decided."""
    if file.category:
        code = _html(file.category)
        return SafeString(
            f'<span class="cat cat-{code}">{_html(_label(HardshipCategory, file.category))}</span>'
        )
    if file.proposed_category:
        code = _html(file.proposed_category)
        title = _html(_("Proposed category, not yet decided"))
        label = _html(_label(HardshipCategory, file.proposed_category))
        return SafeString(f'<span class="cat cat-{code} proposed" title="{title}">{label}</span>')
    return ""


@register.simple_tag
def url_prefix(name: str) -> str:
    """``{% url_prefix "file-detail" as to_file %}`` then ``{{ to_file }}{{ file.pk }}/``:
    one reverse() per page instead of one per row, for URLs of the form <prefix><pk>/."""
    prefix = reverse(name, args=[1]).removesuffix("1/")
    if reverse(name, args=[2]) != f"{prefix}2/":
        raise ValueError(f"{name} is not of the form <prefix><pk>/")
    return prefix


# --- Rows of the 50-row lists ----------------------------------------------------------
# The work queue and the file search list 50 files a page. Through the template engine
# each row cost about 0.3 ms (twenty variable lookups, a tag and four filters, every
# number localised), 15 ms of a 20 ms page; built here, a row is one format_html call.

FILE_CELLS = (
    '<td data-label="{l_number}" class="key"><a href="{url}">{number}</a></td>'
    '<td data-label="{l_applicant}" class="name"><a href="{url}">{name}</a></td>'
    '<td data-label="{l_id}" class="mono">{id_number}</td>'
)
QUEUE_ROW = (
    "<tr>" + FILE_CELLS + '<td data-label="{l_union}">{union}</td>'
    '<td data-label="{l_status}">{status}</td>'
    '<td data-label="{l_category}">{category}</td>'
    '<td data-label="{l_reason}"><span class="reason reason-{reason}">{reason_label}</span></td>'
    '<td data-label="{l_due}" class="date{late}">{due}</td></tr>'
)
RESULT_ROW = (
    "<tr>" + FILE_CELLS + '<td data-label="{l_phone}" class="mono">{phone}</td>'
    '<td data-label="{l_union}">{union}</td>'
    '<td data-label="{l_status}">{status}</td>'
    '<td data-label="{l_category}">{category}</td>'
    '<td data-label="{l_applied}" class="date">{applied}</td></tr>'
)


def _row_labels() -> dict[str, str]:
    return {
        "l_number": _("File number"),
        "l_applicant": _("Applicant"),
        "l_id": _("ID number"),
        "l_phone": _("Phone"),
        "l_union": _("Union"),
        "l_status": _("Status"),
        "l_category": _("Category"),
        "l_reason": _("Reason"),
        "l_due": _("Due"),
        "l_applied": _("Applied on"),
    }


def _day(value: Any) -> str:
    return value.isoformat() if value else ""


def _file_cells(file: Any, to_file: str, reveal: bool) -> dict[str, Any]:
    applicant = file.applicant
    return {
        "url": f"{to_file}{file.pk}/",
        "number": file.number,
        "name": applicant.name,
        "id_number": personal_rule.shown(applicant.id_number, "id", reveal),
        "union": file.organisation.name,
        "status": status_badge(file),
        "category": category_badge(file),
    }


def _reveal(context: Context) -> bool:
    user = getattr(context.get("request"), "user", None)
    return personal_rule.may_reveal(user, bool(context.get("show_personal")))


def _rows(
    context: Context, files: Iterable[Any], row: str, more: Callable[[Any], dict[str, Any]]
) -> str:
    reveal = _reveal(context)
    to_file = url_prefix("file-detail")
    template = _with_labels(row)
    return mark_safe(  # every value is escaped in _cells_html
        "".join(
            template.format_map(_cells_html({**_file_cells(file, to_file, reveal), **more(file)}))
            for file in files
        )
    )


class _LeaveOut(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _with_labels(row: str) -> str:
    """The row with its column labels filled in, escaped, once a page: translating and
    escaping ten labels for each of 50 rows was a third of the work queue's rows."""
    labels = {
        name: _html(text).replace("{", "{{").replace("}", "}}")
        for name, text in _row_labels().items()
    }
    return row.format_map(_LeaveOut(labels))


def _cells_html(cells: dict[str, Any]) -> dict[str, str]:
    """Each cell's value escaped, as format_html escapes it (a badge is already HTML)."""
    return {name: _html(value) for name, value in cells.items()}


@register.simple_tag(takes_context=True)
def queue_rows(context: Context, files: Iterable[Any]) -> str:
    """``{% queue_rows page.object_list %}``: the rows of the work queue."""

    def more(file: Any) -> dict[str, Any]:
        reason = file.queue_reason or ""
        return {
            "reason": reason,
            "reason_label": _label(QueueKind, reason),
            "late": " late" if reason == QueueKind.OVERDUE else "",
            "due": _day(file.queue_due),
        }

    return _rows(context, files, QUEUE_ROW, more)


@register.simple_tag(takes_context=True)
def result_rows(context: Context, files: Iterable[Any]) -> str:
    """``{% result_rows page.object_list %}``: the rows of a file search."""
    reveal = _reveal(context)

    def more(file: Any) -> dict[str, Any]:
        phone = personal_rule.shown(file.applicant.phone, "phone", reveal)
        return {"phone": phone, "applied": _day(file.applied_on)}

    return _rows(context, files, RESULT_ROW, more)


@register.simple_tag(takes_context=True)
def main_nav(context: Context) -> SafeString:
    """``{% main_nav %}``: the grouped navigation for the logged-in user (web/nav.py)."""
    request = context["request"]
    return nav.main_nav(request.user, request.path)
