"""Finding the policy and the living standard in force for a region on a day.

Both are looked up from the most specific region to the least (county, city, province),
so a county may override its city's numbers and otherwise inherits them.
"""

from __future__ import annotations

import datetime
from typing import TypeVar

from django.db.models import Q
from django.utils.translation import gettext as _

from gonghui.errors import DomainError
from gonghui.organisations.models import Region

from .models import LivingStandard, Policy


def _in_force(day: datetime.date) -> Q:
    return Q(valid_from__lte=day) & (Q(valid_to__isnull=True) | Q(valid_to__gte=day))


T = TypeVar("T", Policy, LivingStandard)


def _most_specific(rows: list[T], codes: list[str]) -> T | None:
    """Rows come oldest first, so the dict keeps each region's latest one."""
    by_region = {row.region_id: row for row in rows}
    return next((by_region[code] for code in codes if code in by_region), None)


def living_standard_for(region: Region, day: datetime.date) -> LivingStandard:
    codes = region.lineage_codes()
    rows = list(
        LivingStandard.objects.filter(_in_force(day), region_id__in=codes).order_by("valid_from")
    )
    found = _most_specific(rows, codes)
    if found is None:
        raise DomainError(
            _("No minimum living standard is set for %(region)s on %(day)s.")
            % {"region": region.name, "day": day.isoformat()},
            field="region",
        )
    return found


def policy_for(region: Region, day: datetime.date) -> Policy:
    codes = region.lineage_codes()
    rows = list(Policy.objects.filter(_in_force(day), region_id__in=codes).order_by("valid_from"))
    found = _most_specific(rows, codes)
    if found is None:
        raise DomainError(
            _("No assistance policy is in force for %(region)s on %(day)s.")
            % {"region": region.name, "day": day.isoformat()},
            field="region",
        )
    return found
