"""Template helpers of the assistance pages: fen shown as yuan, a cap rule in words."""

from __future__ import annotations

from typing import Any

from django import template

from gonghui.assistance.money import format_fen
from gonghui.assistance.rules import explain

register = template.Library()


@register.filter
def fen(value: int | None) -> str:
    """1234550 -> "12,345.50"; blank for no value."""
    return "" if value is None or value == "" else format_fen(int(value))


@register.filter
def cap_text(line: Any) -> str:
    """Why a line's amount is what it is: the rule that capped it, in the active language."""
    return explain(line.cap_rule, line.cap_params or {}) if line.cap_rule else ""
