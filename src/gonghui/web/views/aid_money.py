"""The case page's money section: every yuan a household had this year, by fund and kind,
against the yearly caps, with the flags (double dipping, no active file, above the caps).

The figures are :func:`gonghui.assistance.summary.household_money`'s: a fixed number of
queries whatever the household had (two, when the page passes its file and members)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gonghui.accounts.models import User
from gonghui.assistance import summary
from gonghui.errors import NotAllowed
from gonghui.hardship.models import HardshipFile
from gonghui.people.models import Household, HouseholdMember


def household_money_context(
    user: User,
    household: Household,
    year: int,
    *,
    file: HardshipFile | None = None,
    members: Iterable[HouseholdMember] | None = None,
) -> dict[str, Any]:
    """The context of ``web/aid/_household_money.html`` (``money`` None: not shown).

    ``file``: the household's file as the page loaded it; its organisation serves as the
    household's when they are the same union (no query for it). ``members``: the
    household's members, when the page has them.
    """
    if (
        file is not None
        and household.organisation_id == file.organisation_id
        and not Household.organisation.is_cached(household)  # type: ignore[attr-defined]
    ):
        household.organisation = file.organisation
    try:
        money = summary.household_money(
            user, household, year, members=members, files=[file] if file is not None else []
        )
    except NotAllowed:
        return {"money": None}
    flagged = money.flagged_line_ids
    return {"money": money, "money_flagged": flagged}
