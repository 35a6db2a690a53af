"""Finding the policy and the living standard in force for a region on a day.

Both are looked up from the most specific region to the least (county, city, province),
so a county may override its city's numbers and otherwise inherits them.
"""

from __future__ import annotations

import datetime
from typing import Any, TypeVar

from django.db.models import Model, Q
from django.utils.translation import gettext as _

from gonghui.errors import DomainError
from gonghui.organisations.models import Region

from .models import LivingStandard, Policy


def _in_force(day: datetime.date) -> Q:
    return Q(valid_from__lte=day) & (Q(valid_to__isnull=True) | Q(valid_to__gte=day))


T = TypeVar("T", bound=Model)


def in_force_for(model: type[T], region: Region, day: datetime.date) -> T | None:
    """The row of a region-keyed policy model in force on ``day`` for the most specific of
    the region's lineage (county, city, province)."""
    codes = region.lineage_codes()
    manager: Any = model._default_manager
    rows = list(manager.filter(_in_force(day), region_id__in=codes).order_by("valid_from"))
    # Rows come oldest first, so the dict keeps each region's latest one.
    by_region = {row.region_id: row for row in rows}
    return next((by_region[code] for code in codes if code in by_region), None)


def living_standard_for(region: Region, day: datetime.date) -> LivingStandard:
    found = in_force_for(LivingStandard, region, day)
    if found is None:
        raise DomainError(
            _("No minimum living standard is set for %(region)s on %(day)s.")
            % {"region": region.name, "day": day.isoformat()},
            field="region",
        )
    return found


def policy_for(region: Region, day: datetime.date) -> Policy:
    found = in_force_for(Policy, region, day)
    if found is None:
        raise DomainError(
            _("No assistance policy is in force for %(region)s on %(day)s.")
            % {"region": region.name, "day": day.isoformat()},
            field="region",
        )
    return found
