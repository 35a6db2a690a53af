"""Households: the worker who heads it, a spouse, children and parents.

A household that will have a hardship file is made to fit its primary cause (a member with
a serious illness for cause 6, a disabled member for cause 1, a child in senior school or
university for cause 9 ...), so that the file's lines and the family page tell one story.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from gonghui.hardship.choices import HardshipCause as Cause
from gonghui.people.choices import Disability, Employment, Health, Relation, Schooling
from gonghui.people.choices import EmploymentForm as Form

from . import names
from .ids import IdNumbers
from .workers import Person

ZERO = Decimal("0")


@dataclass(slots=True)
class Member:
    pk: int  # given when the row is queued for writing
    name: str
    id_number: str
    relation: str
    birth: datetime.date
    male: bool
    worker: int | None = None
    health: str = Health.HEALTHY
    disability: str = Disability.NONE
    schooling: str = Schooling.NONE
    employment: str = Employment.EMPLOYED
    monthly_income: Decimal = ZERO

    def age(self, day: datetime.date) -> int:
        years = day.year - self.birth.year
        return years - ((day.month, day.day) < (self.birth.month, self.birth.day))

    def row(self, household: int) -> tuple[object, ...]:
        return (
            household, self.worker, self.name, self.id_number, self.relation,
            self.birth, self.health, self.disability, self.schooling, self.employment,
            self.monthly_income,
        )  # fmt: skip


MEMBER_COLUMNS = (
    "household_id", "worker_id", "name", "id_number", "relation", "birth_date", "health",
    "disability", "schooling", "employment", "monthly_income",
)  # fmt: skip
HOUSEHOLD_COLUMNS = ("organisation_id", "region_id", "address")

# How a worker's form of employment shows on the family page.
HEAD_EMPLOYMENT: dict[str, str] = {
    Form.UNEMPLOYED: Employment.UNEMPLOYED,
    Form.FLEXIBLE: Employment.FLEXIBLE,
    Form.RIDE_HAILING: Employment.FLEXIBLE,
    Form.FOOD_DELIVERY: Employment.FLEXIBLE,
    Form.HOME_SERVICE: Employment.FLEXIBLE,
}


@dataclass(eq=False)
class Family:
    """Makes the members of one household after another."""

    rng: random.Random
    ids: IdNumbers
    today: datetime.date

    def members(self, head: Person, cause: int | None) -> list[Member]:
        people = [self._head(head)]
        if head.birth.year <= self.today.year - 23 and self.rng.random() < 0.8:
            people.append(self._spouse(head))
        # Children take the father's surname.
        surname = people[-1].name[0] if not head.male else head.name[0]
        people += self._children(head, surname, cause == Cause.CHILDREN_IN_SCHOOL)
        if self.rng.random() < 0.25:
            people += self._parents(head)
        for member in people:
            self._settle(member)
        if cause is not None:
            fit_cause(self.rng, people, cause, self.today)
        return people

    def _person(
        self, head: Person, relation: str, birth: datetime.date, male: bool, surname: str = ""
    ) -> Member:
        number = self.ids.make(head.county.code, birth, male)
        name = names.person_name(self.rng, male)
        if surname:
            name = surname + name[1:]
        return Member(0, name, number, relation, birth, male)

    def _head(self, head: Person) -> Member:
        employment = HEAD_EMPLOYMENT.get(head.form, Employment.EMPLOYED)
        return Member(
            0, head.name, head.id_number, Relation.SELF, head.birth, head.male,
            worker=head.pk, employment=employment,
        )  # fmt: skip

    def _born(self, year: int) -> datetime.date:
        day = datetime.date(year, 1, 1) + datetime.timedelta(days=self.rng.randrange(365))
        return min(day, self.today - datetime.timedelta(days=30))

    def _spouse(self, head: Person) -> Member:
        year = head.birth.year + self.rng.randint(-4, 5)
        year = min(year, self.today.year - 20)
        return self._person(head, Relation.SPOUSE, self._born(year), not head.male)

    def _children(self, head: Person, surname: str, need_student: bool) -> list[Member]:
        oldest = head.birth.year + 22
        if oldest > self.today.year:
            return []
        count = self.rng.choice((0, 1, 1, 1, 2, 2, 3))
        if need_student:
            count = max(count, 1)
        years = sorted(self.rng.randint(oldest, oldest + 14) for _ in range(count))
        if need_student:
            years[0] = max(oldest, self.today.year - self.rng.randint(16, 20))
        born = [self._born(min(y, self.today.year)) for y in years]
        return [
            self._person(head, Relation.CHILD, b, self.rng.random() < 0.52, surname) for b in born
        ]

    def _parents(self, head: Person) -> list[Member]:
        year = head.birth.year - self.rng.randint(22, 32)
        if self.today.year - year > 88:
            return []
        father = self._person(head, Relation.PARENT, self._born(year - 2), True, head.name[0])
        mother = self._person(head, Relation.PARENT, self._born(year), False)
        return [mother] if self.rng.random() < 0.3 else [father, mother]

    def _settle(self, member: Member) -> None:
        """Schooling, work and a current income that fit the member's age."""
        age = member.age(self.today)
        if member.relation == Relation.CHILD and age < 22:
            member.schooling, member.employment = school_for(self.rng, age)
        elif age >= 60 and member.relation != Relation.SELF:
            member.employment = Employment.RETIRED
            if self.rng.random() < 0.4:
                member.health = Health.CHRONIC
        elif member.relation == Relation.SPOUSE:
            member.employment = self.rng.choices(
                (Employment.EMPLOYED, Employment.FLEXIBLE, Employment.UNEMPLOYED),
                cum_weights=(70, 88, 100),
            )[0]
        member.monthly_income = normal_income(self.rng, member.employment)


def school_for(rng: random.Random, age: int) -> tuple[str, str]:
    """(schooling, employment) of a child of ``age``."""
    if age < 3:
        return Schooling.NONE, Employment.CHILD
    for limit, school in (
        (6, Schooling.PRESCHOOL),
        (12, Schooling.PRIMARY),
        (15, Schooling.JUNIOR),
    ):
        if age < limit:
            return school, Employment.STUDENT
    if age < 18:
        return (
            Schooling.VOCATIONAL if rng.random() < 0.3 else Schooling.SENIOR
        ), Employment.STUDENT
    if rng.random() < 0.55:
        return Schooling.UNIVERSITY, Employment.STUDENT
    return Schooling.NONE, Employment.EMPLOYED


def normal_income(rng: random.Random, employment: str) -> Decimal:
    """A monthly income for a household not in hardship, in whole yuan."""
    ranges: dict[str, tuple[int, int]] = {
        Employment.EMPLOYED: (3200, 9500),
        Employment.FLEXIBLE: (2200, 6500),
        Employment.RETIRED: (1800, 4200),
    }
    low, high = ranges.get(employment, (0, 0))
    return Decimal(rng.randint(low, high)) if high else ZERO


def fit_cause(rng: random.Random, members: list[Member], cause: int, today: datetime.date) -> None:
    """Make the household show its cause of hardship on the family page."""
    adults = [m for m in members if m.age(today) >= 18 and m.schooling == Schooling.NONE]
    if cause == Cause.MAJOR_ILLNESS:
        _fall_ill(rng.choice(members))
    elif cause == Cause.UNABLE_TO_WORK:
        disabled = rng.choice(adults)
        disabled.health, disabled.employment = Health.DISABLED, Employment.UNABLE
        disabled.disability = rng.choice(
            (Disability.GRADE_1, Disability.GRADE_2, Disability.GRADE_3)
        )
    elif cause == Cause.NOT_EMPLOYED:
        idle = next((m for m in adults if m.relation == Relation.SPOUSE), members[0])
        idle.employment = Employment.UNEMPLOYED
    elif cause == Cause.LAID_OFF:
        members[0].employment = Employment.UNEMPLOYED
    elif cause == Cause.CHILDREN_IN_SCHOOL:
        _send_to_school(members, today)
    for member in members:
        if member.employment in (Employment.UNEMPLOYED, Employment.UNABLE):
            member.monthly_income = ZERO


def _fall_ill(member: Member) -> None:
    member.health = Health.SERIOUS
    if member.employment in (Employment.EMPLOYED, Employment.FLEXIBLE):
        member.employment = Employment.UNABLE


def _send_to_school(members: list[Member], today: datetime.date) -> None:
    """The eldest child of 15 to 21 studies beyond compulsory education."""
    for child in members:
        age = child.age(today)
        if child.relation == Relation.CHILD and 15 <= age <= 21:
            child.schooling = Schooling.SENIOR if age < 18 else Schooling.UNIVERSITY
            child.employment = Employment.STUDENT
            return


def can_have_student(head: Person, today: datetime.date) -> bool:
    """Old enough to have a child of 16 or more (see Family._children)."""
    return head.birth.year <= today.year - 38
