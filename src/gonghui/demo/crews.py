"""Who handles a file: the case workers, reviewers and approvers responsible for it.

A file is opened by a case worker whose organisation contains the household's union (so
they can act on it in the real screens), reviewed by a reviewer and filed by a reviewer of
a filing level (county or above), never by whoever opened or submitted it (four eyes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gonghui.accounts.choices import Role

from . import anhui
from .orgs import County, Org, UnionType
from .staff import Staff, User


@dataclass(frozen=True)
class Crew:
    case_workers: tuple[User, ...]
    case_weights: tuple[float, ...]  # cumulative
    reviewers: tuple[User, ...]
    approvers: tuple[User, ...]

    def case_worker(self, rng: random.Random) -> User:
        return rng.choices(self.case_workers, cum_weights=self.case_weights)[0]

    def colleague(self, rng: random.Random, of: User) -> User:
        others = [u for u in self.case_workers if u is not of]
        return rng.choice(others) if others else of


def _crew(case_workers: list[User], reviewers: list[User], approvers: list[User]) -> Crew:
    weights = tuple(float(i + 1) for i in range(len(case_workers)))
    return Crew(tuple(case_workers), weights, tuple(reviewers), tuple(approvers))


def crews(staff: Staff, counties: list[County]) -> dict[str, Crew]:
    """A crew per county code, one for the courier industry ("kd") and the showcase's."""
    found = {
        county.code: _crew(
            staff.of(county.code, Role.CASE_WORKER),
            staff.of(county.code, Role.REVIEWER),
            staff.of(county.code[:4] + "00", Role.REVIEWER),
        )
        for county in counties
    }
    found["kd"] = _crew(
        staff.of("kd", Role.CASE_WORKER),
        staff.of("kd", Role.REVIEWER),
        staff.of(anhui.PROVINCE_REGION, Role.REVIEWER),
    )
    found[anhui.SHOWCASE_COUNTY] = showcase_crew(staff)
    return found


def showcase_crew(staff: Staff) -> Crew:
    """瑶海区: yaohai_caseworker opens most files, yaohai_caseworker2 many others. The other
    瑶海 reviewer does the reviews, so yaohai_reviewer can approve what waits for approval."""
    first, second, third = staff.of(anhui.SHOWCASE_COUNTY, Role.CASE_WORKER)
    reviewer, other = staff.of(anhui.SHOWCASE_COUNTY, Role.REVIEWER)
    city_reviewer = staff.login("hefei_reviewer")
    return Crew((first, second, third), (5.0, 8.0, 9.0), (other,), (reviewer, city_reviewer))


def crew_for(crews_by_key: dict[str, Crew], union: Org, county: County) -> Crew:
    if union.union_type == UnionType.COURIER:
        return crews_by_key["kd"]
    return crews_by_key[county.code]
