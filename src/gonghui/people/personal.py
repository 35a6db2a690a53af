"""The one rule for showing personal data (PIPL, DESIGN §5).

ID numbers and phones are masked everywhere, except in a page or response about one
household (a case page, a household, a worker) shown to a role with ``SEE_PERSONAL``.
Lists and exports are always masked for everyone else. The web pages, the API and the
exports all ask :func:`may_reveal` and render with :func:`shown`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gonghui.accounts.choices import Capability

from .idnumber import mask_id_number, mask_phone

MASKS: dict[str, Callable[[str], str]] = {"id": mask_id_number, "phone": mask_phone}

# Field names in records (e.g. audit before/after values) that hold personal data.
PERSONAL_FIELDS = {"id_number": "id", "phone": "phone"}


def may_reveal(user: Any, single_household: bool) -> bool:
    return bool(
        single_household
        and getattr(user, "is_authenticated", False)
        and user.can(Capability.SEE_PERSONAL)
    )


def shown(value: str | None, kind: str, reveal: bool) -> str:
    """The value itself if ``reveal``, otherwise its masked form ("" stays "")."""
    if not value:
        return ""
    return value if reveal else MASKS[kind](value)


# --- bank cards -------------------------------------------------------------------------
# Cards follow their own rule: only a role with ``SEE_BANK`` (the fund officer, who sends
# the bank file) sees a whole card number, on any page; everyone else sees the first and
# last four digits, enough to tell two cards apart on the phone with the worker.


def mask_card(number: str) -> str:
    """6222021234567890128 -> "6222 **** **** 0128" (the length is hidden as well)."""
    digits = "".join(number.split())
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:4]} **** **** {digits[-4:]}"


def may_see_card(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.can(Capability.SEE_BANK))


def shown_card(number: str | None, user: Any) -> str:
    """The card number as ``user`` may see it ("" stays "")."""
    if not number:
        return ""
    return number if may_see_card(user) else mask_card(number)
