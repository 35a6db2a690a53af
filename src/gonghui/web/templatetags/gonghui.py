"""Template helpers: the personal-data rule, the decision trace, money and labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.context import Context

from gonghui.hardship import rules
from gonghui.hardship.choices import Exclusion, HardshipCause
from gonghui.people import personal as personal_rule

register = template.Library()


@register.simple_tag(takes_context=True)
def personal(context: Context, value: str | None, kind: str = "id") -> str:
    """``{% personal worker.id_number "id" %}``: masked unless this page and role allow."""
    request = context.get("request")
    user = getattr(request, "user", None)
    reveal = personal_rule.may_reveal(user, bool(context.get("show_personal")))
    return personal_rule.shown(value, kind, reveal)


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
    try:
        return str(choices(value).label)
    except ValueError:
        return value


@register.filter
def can(user: Any, capability: str) -> bool:
    """``{% if request.user|can:"edit_policy" %}``: the same check the services make."""
    return bool(getattr(user, "is_authenticated", False) and user.can(capability))


@register.filter
def get_item(mapping: Mapping[str, Any], key: str) -> Any:
    return mapping.get(key)
