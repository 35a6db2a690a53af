"""Money in the assistance ledger is integer fen; people read and type yuan.

Conversions happen only at the edges (forms, files, policy caps) and only through these
functions, so no float ever touches an amount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
CENT = Decimal("0.01")


def to_fen(yuan: Decimal | int | str) -> int:
    """Yuan (a Decimal, an int or a string such as "1,234.50") to fen, rounded half up."""
    if isinstance(yuan, float):  # pragma: no cover - guarded by the no-float test
        raise TypeError("money is never a float")
    if isinstance(yuan, str):
        yuan = parse_yuan(yuan)
    return int((Decimal(yuan) * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(CENT)


def parse_yuan(text: str) -> Decimal:
    """An amount as banks and people write it: thousands separators, a currency sign,
    full-width digits and a trailing 元 are accepted. Raises ValueError otherwise."""
    cleaned = text.strip().translate(_FULL_WIDTH)
    for noise in (",", "，", "¥", "￥", "元", "RMB", " "):
        cleaned = cleaned.replace(noise, "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite() or value != value.quantize(CENT):
        raise ValueError(text)
    return value


_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－", "0123456789.-")


def format_fen(fen: int) -> str:
    """1234550 -> "12,345.50" (yuan with thousands separators)."""
    return f"{to_yuan(fen):,.2f}"
