"""Template helpers of the fund pages: fen shown as yuan, rates, bank cards."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.template.context import Context

from gonghui.assistance.money import format_fen
from gonghui.people.personal import shown_card

register = template.Library()


@register.filter
def fen(value: int | None) -> str:
    """1234550 -> "12,345.50"; blank for no value."""
    return "" if value is None or value == "" else format_fen(int(value))


@register.filter
def rate(value: Decimal | None) -> str:
    """An execution rate in percent, or a dash where there is no budget to divide by."""
    return "–" if value is None else f"{value}%"


@register.simple_tag(takes_context=True)
def card(context: Context, number: str | None) -> str:
    """``{% card payment.account_number %}``: whole only for a role that may see cards."""
    request = context.get("request")
    return shown_card(number, getattr(request, "user", None))


@register.filter
def sign_label(sign: int) -> str:
    return {1: "+", -1: "−"}.get(sign, "")


@register.filter
def at(sequence: Any, index: int) -> Any:
    return sequence[index]
