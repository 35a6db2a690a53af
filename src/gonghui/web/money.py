"""Reading amounts of yuan typed by people: full-width digits, thousands commas, "元"."""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MAX_AMOUNT = Decimal("999999999999.99")
FEN = Decimal("0.01")

# Whole sentences per problem, with and without the row of a table, for the translators.
MESSAGES: dict[str, tuple[Promise, Promise]] = {
    "not_number": (
        _("The amount “%(value)s” is not a number of yuan."),
        _("Row %(row)d: the amount “%(value)s” is not a number of yuan."),
    ),
    "negative": (
        _("The amount cannot be negative."),
        _("Row %(row)d: the amount cannot be negative."),
    ),
    "decimals": (
        _("The amount has more than two decimal places."),
        _("Row %(row)d: the amount has more than two decimal places."),
    ),
    "too_large": (
        _("The amount is too large."),
        _("Row %(row)d: the amount is too large."),
    ),
}


def _error(code: str, raw: str, row: int | None) -> ValidationError:
    plain, in_row = MESSAGES[code]
    template = in_row if row is not None else plain
    return ValidationError(str(template) % {"value": raw, "row": row or 0}, code=code)


def parse_yuan(raw: str, row: int | None = None) -> Decimal:
    """``"１,２００.５元"`` -> ``Decimal("1200.50")``; otherwise a ValidationError whose
    message says what is wrong (and in which row of a table, if ``row`` is given)."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    text = text.removesuffix("元").replace(",", "").replace(" ", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise _error("not_number", raw, row) from None
    if not amount.is_finite():
        raise _error("not_number", raw, row)
    if amount < 0:
        raise _error("negative", raw, row)
    if amount != amount.quantize(FEN):
        raise _error("decimals", raw, row)
    if amount > MAX_AMOUNT:
        raise _error("too_large", raw, row)
    return amount.quantize(FEN)
