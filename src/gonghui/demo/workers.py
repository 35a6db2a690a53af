"""Workers and their memberships, generated county by county and streamed to the database.

Workers are numbered county by county (County.first_worker), so which of them head a
household can be decided before any is generated; only those heads are kept in memory
for the household step, the rest are written and forgotten.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from gonghui.people.choices import EmploymentForm as Form
from gonghui.people.choices import MembershipStatus, Sex

from . import names
from .ids import IdNumbers
from .orgs import County, Org, Province, UnionType

# Forms of employment in the roster: mostly standard, about one in ten in the new forms
# (DESIGN §3), a few flexible, migrant and unemployed members.
_FORMS = (
    (Form.STANDARD, 840), (Form.FLEXIBLE, 30), (Form.MIGRANT, 30), (Form.UNEMPLOYED, 10),
    (Form.COURIER, 25), (Form.FOOD_DELIVERY, 25), (Form.RIDE_HAILING, 15),
    (Form.TRUCK_DRIVER, 15), (Form.HOME_SERVICE, 10),
)  # fmt: skip
FORMS = tuple(form for form, _w in _FORMS)
FORM_WEIGHTS = tuple(accumulate(w for _f, w in _FORMS))
COMMUNITY_FORMS = frozenset({Form.FLEXIBLE, Form.UNEMPLOYED, Form.RIDE_HAILING, Form.HOME_SERVICE})
DELIVERY_FORMS = frozenset({Form.COURIER, Form.FOOD_DELIVERY})
FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1962, 2004


@dataclass(slots=True)
class Person:
    """What the household step needs to know of a worker who heads a household."""

    pk: int
    name: str
    id_number: str
    male: bool
    birth: datetime.date
    county: County
    union: Org
    form: str


@dataclass(eq=False)
class WorkerMaker:
    """Makes one worker (and membership row) at a time; keeps the household heads."""

    rng: random.Random
    ids: IdNumbers
    province: Province
    today: datetime.date
    first_pk: int
    first_membership_pk: int
    heads: set[int]
    kept: list[Person]

    def rows(self, county: County) -> Iterator[tuple[tuple[object, ...], tuple[object, ...]]]:
        for index in range(county.first_worker, county.first_worker + county.workers):
            yield self._one(county, index)

    def _one(self, county: County, index: int) -> tuple[tuple[object, ...], tuple[object, ...]]:
        rng, pk = self.rng, self.first_pk + index
        male = rng.random() < 0.54
        birth = birth_date(rng)
        form = rng.choices(FORMS, cum_weights=FORM_WEIGHTS)[0]
        union = self._union(county, form)
        name = names.person_name(rng, male)
        number = self.ids.make(county.code, birth, male)
        worker = (
            pk, number, name, Sex.MALE if male else Sex.FEMALE, birth, names.mobile(rng),
            county.code, union.pk, self._employer(county, union, form),
        )  # fmt: skip
        head = index in self.heads
        if head:
            self.kept.append(Person(pk, name, number, male, birth, county, union, form))
        membership = (
            self.first_membership_pk + index,
            pk,
            union.pk,
            self._since(birth),
            _status(rng, head),
            form,
        )
        return worker, membership

    def _union(self, county: County, form: str) -> Org:
        rng = self.rng
        if form in DELIVERY_FORMS and rng.random() < 0.7:
            couriers = self.province.couriers[county.division.parent_code or ""]
            return couriers[rng.randrange(len(couriers))]
        if form in COMMUNITY_FORMS or form in DELIVERY_FORMS:
            return county.pick_union(rng, UnionType.COMMUNITY)
        if form == Form.STANDARD and rng.random() < 0.2:
            return county.pick_union(rng, UnionType.OFFICE)
        return county.pick_union(rng, UnionType.ENTERPRISE)

    def _employer(self, county: County, union: Org, form: str) -> str:
        if union.union_type != UnionType.COMMUNITY:
            return union.employer
        if form == Form.UNEMPLOYED:
            return ""
        if form == Form.RIDE_HAILING:
            return names.pick(self.rng, names.RIDE_COMPANIES)
        return names.small_employer(self.rng, union.street)

    def _since(self, birth: datetime.date) -> datetime.date:
        """Joined between turning 18 (or 2000, when the roster starts) and today."""
        start = max(birth.replace(year=birth.year + 18, day=min(birth.day, 28)), _ROSTER_START)
        days = (self.today - start).days
        return start + datetime.timedelta(days=self.rng.randrange(max(days, 1)))


_ROSTER_START = datetime.date(2000, 1, 1)


def birth_date(rng: random.Random) -> datetime.date:
    """Working age: born 1962-2004, most in the 1980s and 1990s."""
    year = int(rng.triangular(FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR + 1, 1986))
    return datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randrange(365))


def _status(rng: random.Random, head: bool) -> str:
    # Household heads may apply for help, so they must be active members.
    draw = 1.0 if head else rng.random()
    if draw < 0.02:
        return MembershipStatus.SUSPENDED
    return MembershipStatus.ENDED if draw < 0.05 else MembershipStatus.ACTIVE


WORKER_COLUMNS = (
    "id", "id_number", "name", "sex", "birth_date", "phone", "region_id", "organisation_id",
    "employer",
)  # fmt: skip
MEMBERSHIP_COLUMNS = ("id", "worker_id", "organisation_id", "since", "status", "employment_form")


def choose_heads(rng: random.Random, counties: list[County]) -> set[int]:
    """The workers (by index) who head a household, county by county."""
    heads: set[int] = set()
    for county in counties:
        block = range(county.first_worker, county.first_worker + county.workers)
        heads.update(rng.sample(block, min(county.households, county.workers)))
    return heads
