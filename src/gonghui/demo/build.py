"""Building the demo province, step by step, inside one transaction.

One transaction for the whole build: a crash or Ctrl-C leaves no half province behind
(a half province would be taken for a loaded demo next time). Every step draws from its
own ``random.Random(f"{seed}:{step}")``, so the workers stay the same whatever ``--files``
says, and the same seed gives the same province (dates are relative to ``today``).
"""

from __future__ import annotations

import datetime
import random
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Model
from django.utils import timezone, translation
from tqdm import tqdm

from gonghui.accounts.models import User as UserModel
from gonghui.hardship import models as hardship
from gonghui.organisations.models import Organisation, ServiceCentre
from gonghui.organisations.regions import all_divisions, current_divisions, load_regions
from gonghui.people.models import Household, HouseholdMember, Membership, Worker
from gonghui.supervision.models import FollowUpPlan

from . import aid, anhui, discovery, media, orgs, plans, staff, standards, supervision
from .crews import Crew, crew_for, crews
from .files import FILE_TABLES, FileMaker
from .households import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, Family
from .ids import IdNumbers
from .names import address
from .workers import MEMBERSHIP_COLUMNS, WORKER_COLUMNS, Person, WorkerMaker, choose_heads
from .writer import Sink, Table, analyze, big_cache, first_free_pk, reset_sequences

T = TypeVar("T")
HOUSEHOLD_CHUNK = 2_000
SHOWCASE_HOUSEHOLDS = 60  # enough 瑶海 households for the showcase files of a small demo


@dataclass(frozen=True)
class Options:
    size: int = 100_000
    files: int | None = None
    seed: int = 2024
    today: datetime.date | None = None
    progress: bool = False

    @property
    def households(self) -> int:
        return self.size // 10

    @property
    def file_count(self) -> int:
        return self.size // 20 if self.files is None else self.files

    @property
    def day(self) -> datetime.date:
        return self.today or timezone.localdate()

    def rng(self, step: str) -> random.Random:
        return random.Random(f"{self.seed}:{step}")


class DemoError(ValueError):
    """Options that cannot make a demo; the command shows the message."""


def check(options: Options) -> None:
    if options.size < 1_000:
        raise DemoError("--size must be at least 1000 workers.")
    if not 0 <= options.file_count <= options.households:
        raise DemoError(
            f"--files must be between 0 and the number of households ({options.households}, "
            "a tenth of --size): a household has at most one file."
        )


def build(options: Options) -> Organisation:
    """Build the demo province; returns its provincial federation."""
    check(options)
    with transaction.atomic(), translation.override(settings.LANGUAGE_CODE), big_cache():
        media.ensure_photos()
        load_regions(anhui.PROVINCE_CODE)
        policy = standards.ensure_policy()
        standards.ensure_standards()
        province = _organisations(options)
        team = _staff(options, province)
        # One source of ID numbers for workers and household members: none is used twice.
        ids = IdNumbers(options.rng("ids"), all_divisions(anhui.PROVINCE_CODE))
        heads = _workers(options, province, ids)
        _households(options, province, team, heads, policy, ids)
        reset_sequences(MODELS)
        analyze(MODELS)
        root = Organisation.objects.get(pk=province.root.pk)
        aid.build(options.rng("aid"), root, options.day)
        analyze(aid.MODELS)
        supervision.build(options.rng("supervision"), root, options.day)
        discovery.build(options.rng("discovery"), root, options.day, options.size)
        analyze([*supervision.MODELS, *discovery.MODELS])
    return Organisation.objects.get(pk=province.root.pk)


MODELS = (
    Organisation, ServiceCentre, UserModel, Worker, Membership, Household, HouseholdMember,
    hardship.HardshipFile, hardship.IncomeLine, hardship.ExpenseLine, hardship.Investigation,
    hardship.Attachment, hardship.FileEvent, hardship.IncomeReading, hardship.PeriodicReview,
    hardship.FollowUp, FollowUpPlan,
)  # fmt: skip


def _organisations(options: Options) -> orgs.Province:
    divisions = current_divisions(anhui.PROVINCE_CODE)
    province = orgs.build_province(
        options.rng("organisations"),
        divisions,
        options.size,
        first_free_pk(Organisation),
        orgs.next_root_index(),
    )
    Table(Organisation, orgs.ORG_COLUMNS).write(orgs.org_rows(province.tree))
    _share_households(options, province.counties)
    return province


def _share_households(options: Options, counties: list[orgs.County]) -> None:
    counts = orgs.spread(options.households, [float(c.workers) for c in counties])
    for county, count in zip(counties, counts, strict=True):
        extra = (
            min(county.workers, SHOWCASE_HOUSEHOLDS) if county.code == anhui.SHOWCASE_COUNTY else 0
        )
        county.households = max(count, extra)


def _staff(options: Options, province: orgs.Province) -> staff.Staff:
    rng = options.rng("staff")
    centres = staff.plan_centres(rng, province, first_free_pk(ServiceCentre))
    Table(ServiceCentre, staff.CENTRE_COLUMNS).write(staff.centre_rows(centres))
    team = staff.plan_users(rng, centres, first_free_pk(UserModel))
    _write_users(team.users)
    return team


USER_COLUMNS = (
    "id", "password", "username", "organisation_id", "service_centre_id", "role",
    "display_name", "is_staff", "is_superuser", "is_active",
)  # fmt: skip


def _write_users(users: list[staff.User]) -> None:
    """Insert the staff; a username already taken (kept by --reset because the audit trail
    names it, or made by hand) is taken over with the demo's password and post."""
    password = make_password(staff.DEMO_PASSWORD)  # one hash for all: PBKDF2 is slow
    taken = dict(
        UserModel.objects.filter(username__in=[u.username for u in users]).values_list(
            "username", "pk"
        )
    )
    rows = []
    for user in users:
        row = _user_row(user, password)
        if user.username in taken:
            user.pk = taken[user.username]
            UserModel.objects.filter(pk=user.pk).update(
                **dict(zip(USER_COLUMNS[1:], row[1:], strict=True))
            )
        else:
            rows.append(row)
    Table(UserModel, USER_COLUMNS).write(rows)


def _user_row(user: staff.User, password: str) -> tuple[Any, ...]:
    centre, admin = user.centre, user.is_admin
    return (
        user.pk, password, user.username, centre.org.pk, centre.pk, user.role,
        user.display_name, admin, admin, True,
    )  # fmt: skip


def _progress(options: Options, total: int, what: str) -> tqdm[Any]:
    return tqdm(
        total=total, desc=what, unit="", file=sys.stderr, disable=not options.progress, leave=False
    )


def _workers(options: Options, province: orgs.Province, ids: IdNumbers) -> list[Person]:
    """Write every worker and membership; return the household heads, in worker order."""
    heads = choose_heads(options.rng("heads"), province.counties)
    maker = WorkerMaker(
        options.rng("workers"), ids, province, options.day,
        first_free_pk(Worker), first_free_pk(Membership), heads, [],
    )  # fmt: skip
    workers, memberships = Table(Worker, WORKER_COLUMNS), Table(Membership, MEMBERSHIP_COLUMNS)
    with _progress(options, options.size, "workers") as bar:
        for county in province.counties:
            for chunk in _chunks(maker.rows(county), 10_000):
                workers.write(w for w, _m in chunk)
                memberships.write(m for _w, m in chunk)
                bar.update(len(chunk))
    return maker.kept


def _households(
    options: Options,
    province: orgs.Province,
    team: staff.Staff,
    heads: list[Person],
    policy: hardship.Policy,
    ids: IdNumbers,
) -> None:
    """Households with their members, and the hardship files of some of them."""
    sink = Sink(HOUSEHOLD_TABLES)
    maker = HouseholdMaker(
        rng=options.rng("households"),
        today=options.day,
        sink=sink,
        family=Family(options.rng("families"), ids, options.day),
        files=FileMaker(options.rng("files"), options.day, policy, sink),
        crews=crews(team, province.counties),
        planned=plans.assign(options.rng("plans"), heads, options.file_count),
    )
    with _progress(options, len(heads), "households") as bar:
        for index, head in enumerate(heads):
            maker.make(index, head)
            if index % HOUSEHOLD_CHUNK == HOUSEHOLD_CHUNK - 1:
                sink.flush()
                bar.update(HOUSEHOLD_CHUNK)
        sink.flush()


@dataclass(eq=False)
class HouseholdMaker:
    rng: random.Random
    today: datetime.date
    sink: Sink
    family: Family
    files: FileMaker
    crews: dict[str, Crew]
    planned: dict[int, plans.Plan]

    def make(self, index: int, head: Person) -> None:
        """One household, its members and, if planned, its file."""
        plan = self.planned.get(index)
        goal = plans.target(self.rng, plan) if plan else ""
        causes = plans.causes(self.rng, goal, head, self.today) if plan else None
        members = self.family.members(head, causes[0] if causes else None)
        place = address(self.rng, head.county.place)
        household = self.sink.add("household", head.union.pk, head.county.code, place)
        for member in members:
            member.pk = self.sink.reserve("member")
        if plan and causes:
            crew = crew_for(self.crews, head.union, head.county)
            self.files.make(household, head, members, plan, goal, causes, crew)
        for member in members:  # after the file: its lines set the members' incomes
            self.sink.put("member", member.pk, *member.row(household))


HOUSEHOLD_TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "household": (Household, HOUSEHOLD_COLUMNS),
    "member": (HouseholdMember, MEMBER_COLUMNS),
    **FILE_TABLES,
}


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
