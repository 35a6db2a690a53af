"""The province's assistance policy and each city's living standard for 2024-2026."""

from __future__ import annotations

import datetime

from gonghui.hardship.models import LivingStandard, Policy

from . import anhui


def ensure_policy() -> Policy:
    """The demo policy, created once: files point to it, so it is never replaced."""
    found = Policy.objects.filter(region_id=anhui.PROVINCE_REGION, name=anhui.POLICY_NAME)
    policy = found.order_by("valid_from").first()
    if policy is None:
        policy = Policy(
            name=anhui.POLICY_NAME,
            region_id=anhui.PROVINCE_REGION,
            valid_from=anhui.POLICY_FROM,
            minimum_wage=anhui.MINIMUM_WAGE,
        )
        # bulk_create, like every demo row: no audit entry for generated data.
        Policy.objects.bulk_create([policy])
    return policy


def standard_rows() -> list[LivingStandard]:
    """A standard per city and year, each ending on 31 December except the latest."""
    last = anhui.STANDARD_YEARS[-1]
    return [
        LivingStandard(
            region_id=city.code,
            valid_from=datetime.date(year, 1, 1),
            valid_to=None if year == last else datetime.date(year, 12, 31),
            monthly_amount=city.standard(year),
        )
        for city in anhui.CITIES
        for year in anhui.STANDARD_YEARS
    ]


def ensure_standards() -> int:
    rows = standard_rows()
    LivingStandard.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["region", "valid_from"],
        update_fields=["valid_to", "monthly_amount"],
    )
    return len(rows)
