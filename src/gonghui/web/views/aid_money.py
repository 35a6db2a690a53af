"""The case page's money section: every yuan a household had this year, by fund and kind,
against the yearly caps, with the flags (double dipping, no active file, above the caps).

The figures are :func:`gonghui.assistance.summary.household_money`'s: a fixed number of
queries whatever the household had."""

from __future__ import annotations

from typing import Any

from gonghui.accounts.models import User
from gonghui.assistance import summary
from gonghui.errors import NotAllowed
from gonghui.people.models import Household


def household_money_context(user: User, household: Household, year: int) -> dict[str, Any]:
    """The context of ``web/aid/_household_money.html`` (``money`` None: not shown)."""
    try:
        money = summary.household_money(user, household, year)
    except NotAllowed:
        return {"money": None}
    flagged = money.flagged_line_ids
    return {"money": money, "money_flagged": flagged}
