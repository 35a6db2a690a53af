"""The one rule for showing personal data (PIPL, DESIGN §5).

ID numbers and phones are masked everywhere, except on a page about one household (the
case page, the household page, the worker form) shown to a role that may see them. Views
mark such pages with ``show_personal=True`` in the context; templates call the
``{% personal %}`` tag, which calls :func:`shown`, so no template decides on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gonghui.accounts.choices import Capability
from gonghui.people.idnumber import mask_id_number, mask_phone

MASKS: dict[str, Callable[[str], str]] = {"id": mask_id_number, "phone": mask_phone}

# Field names in audit records that hold personal data, and the mask for each.
PERSONAL_FIELDS = {"id_number": "id", "phone": "phone"}


def may_reveal(user: Any, single_household_page: bool) -> bool:
    return bool(single_household_page and user is not None and user.can(Capability.SEE_PERSONAL))


def shown(value: str | None, kind: str, reveal: bool) -> str:
    """The value itself if ``reveal``, otherwise its masked form ("" stays "")."""
    if not value:
        return ""
    return value if reveal else MASKS[kind](value)
