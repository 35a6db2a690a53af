"""Other agencies' lists for the demo province: who is on each, and the rows as the agency
would export them (a CSV with Chinese headers), ready for the real list import.

Each list mixes three kinds of people, in numbers scaled to the demo:

* members of households with a hardship file, where their situation puts them on the list
  (a deep-hardship household on the 低保 list, a sick member on the medical list, a laid-off
  applicant on the unemployment list …): these make the cross-check rate, and, for a
  household whose file was opened after the screening day, the discovery that found it;
* union members without a file who should be found (on the 低保 list, with heavy medical
  costs) and others who should not (a car, one home, light medical costs);
* residents who are not union members at all, most of any real list.

As in real exports a few rows lack the ID number or carry a mistyped one (the check digit
fails), with the name, birth date and phone still there for the linkage; every row keeps
the truth (which worker it is) for the demo's linkage step.
"""

from __future__ import annotations

import csv
import datetime
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import Max, Min
from django.utils import timezone

from gonghui.discovery import lists
from gonghui.discovery.choices import SourceKind
from gonghui.hardship.choices import FileStatus, HardshipCategory
from gonghui.hardship.choices import HardshipCause as Cause
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.choices import RegionLevel
from gonghui.organisations.models import Organisation
from gonghui.organisations.regions import all_divisions, current_divisions
from gonghui.people.choices import Disability, Health, Relation
from gonghui.people.models import HouseholdMember, Worker

from . import anhui, names
from .ids import IdNumbers

Kind = SourceKind
DAY = datetime.timedelta(days=1)
# Rows whose ID number is missing, or mistyped so that its check digit fails.
NO_ID, MISTYPED = 0.025, 0.012
# Of the households whose file was opened after the screening day, those that were on an
# agency's list before it (and so found by the screening); the others came by themselves.
DISCOVERED = 0.45
CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class Person:
    id_number: str
    name: str
    birth: datetime.date
    region: str
    phone: str = ""
    worker: int | None = None  # the registry worker, when the person is one


@dataclass(slots=True)
class Member:
    person: Person
    relation: str
    health: str
    disability: str


@dataclass(slots=True)
class Household:
    """A household with a file (not rejected): what puts its members on lists. A household
    whose file was opened after the screening day is on a list only if the list found it."""

    file: int
    status: str
    category: str
    cause: int
    created: datetime.date  # the day the file was opened (local time)
    filed: datetime.date | None
    exit_on: datetime.date | None
    region: str
    members: list[Member] = field(default_factory=list)

    @property
    def applicant(self) -> Member:
        return next((m for m in self.members if m.relation == Relation.SELF), self.members[0])

    def listed(self, rng: random.Random, days: Days) -> bool:
        """On the lists exported before the screening day: always for a household with a
        file then; for one that applied since, only if it was found that way."""
        if self.created <= days.screening:
            return True
        return rng.random() < DISCOVERED

    def spouse_or_applicant(self, rng: random.Random) -> Member:
        spouse = [m for m in self.members if m.relation == Relation.SPOUSE]
        return spouse[0] if spouse and rng.random() < 0.25 else self.applicant


@dataclass
class Row:
    """One row of a list: field → value as written, and the truth behind it."""

    values: dict[str, str]
    person: Person
    # "" (as is), "no_id" (no ID number), "mistyped" (check digit fails), "grey" (no ID
    # number and written so that the linkage is unsure: linkrows.blur)
    noise: str = ""


@dataclass
class Days:
    """The days the lists speak of: the screening day and the import day."""

    today: datetime.date
    screening: datetime.date
    imported: datetime.date

    @property
    def year_start(self) -> datetime.date:
        return datetime.date(self.today.year, 1, 1)


# --- the people -------------------------------------------------------------------------------


@dataclass
class People:
    """Who can be on a list: households with files, union members without a file, and
    residents outside the union."""

    households: list[Household]
    rng: random.Random
    outsiders: Callable[[int], list[Person]]
    busy: set[int]  # applicants: workers of a household with a file
    low: int = 0
    high: int = -1

    @classmethod
    def load(cls, rng: random.Random, root: Organisation, today: datetime.date) -> People:
        households = _households(root)
        busy = set(
            HardshipFile.objects.filter(root.subtree_q("organisation__")).values_list(
                "applicant_id", flat=True
            )
        )
        span = Worker.objects.filter(root.subtree_q("organisation__")).aggregate(
            low=Min("pk"), high=Max("pk")
        )
        maker = Outsiders(random.Random(rng.getrandbits(64)), today)
        return cls(households, rng, maker.make, busy, span["low"] or 0, span["high"] or -1)

    def free_workers(self, count: int) -> list[Person]:
        """``count`` union members whose household has no file (drawn from the demo's
        gap-free worker numbers), in a random order."""
        if self.high < self.low:
            return []
        wanted: list[int] = []
        seen: set[int] = set()
        attempts = 0
        while len(wanted) < count and attempts < count * 20:
            attempts += 1
            pk = self.rng.randint(self.low, self.high)
            if pk not in seen and pk not in self.busy:
                seen.add(pk)
                wanted.append(pk)
        found: dict[int, Person] = {}
        for start in range(0, len(wanted), CHUNK):
            rows = Worker.objects.filter(pk__in=wanted[start : start + CHUNK], merged_into=None)
            for pk, number, name, birth, phone, region in rows.values_list(
                "pk", "id_number", "name", "birth_date", "phone", "region_id"
            ):
                found[pk] = Person(number, name, birth, region or "", phone or "", pk)
        self.busy.update(found)  # a worker is on a list for one reason
        return [found[pk] for pk in wanted if pk in found]


def _households(root: Organisation) -> list[Household]:
    files = (
        HardshipFile.objects.filter(root.subtree_q("organisation__"))
        .exclude(status=FileStatus.REJECTED)
        .order_by("household_id", "pk")
        .values_list(
            "pk", "status", "proposed_category", "category", "primary_cause", "household_id",
            "created_at", "filed_on", "exit_on", "household__region_id",
        )
    )  # fmt: skip
    by_household: dict[int, Household] = {}
    for pk, status, proposed, category, cause, household, created, filed, exit_on, region in files:
        by_household[household] = Household(
            pk, status, category or proposed, cause, timezone.localtime(created).date(), filed,
            exit_on, region,
        )  # fmt: skip
    members = _members(root)
    for household, worker, number, name, birth, relation, health, disability, phone in members:
        found = by_household.get(household)
        if found is None or not number:
            continue
        person = Person(number, name, birth, found.region, phone or "", worker)
        found.members.append(Member(person, relation, health, disability))
    return [h for h in by_household.values() if h.members]


def _members(root: Organisation) -> Iterable[tuple[Any, ...]]:
    """Every household member of the province, household by household (one scan)."""
    return (
        HouseholdMember.objects.filter(root.subtree_q("household__organisation__"))
        .order_by("household_id", "pk")
        .values_list(
            "household_id", "worker_id", "id_number", "name", "birth_date", "relation",
            "health", "disability", "worker__phone",
        )
        .iterator(chunk_size=20_000)
    )  # fmt: skip


class Outsiders:
    """Residents of the province who are not union members: invented, with valid ID
    numbers of their own."""

    def __init__(self, rng: random.Random, today: datetime.date) -> None:
        self.rng = rng
        self.today = today
        self.ids = IdNumbers(rng, all_divisions(anhui.PROVINCE_CODE))
        self.counties = [
            d.code
            for d in current_divisions(anhui.PROVINCE_CODE)
            if d.level == RegionLevel.COUNTY and not d.code.endswith("01")
        ]

    def make(self, count: int) -> list[Person]:
        rng, found = self.rng, []
        for _ in range(count):
            male = rng.random() < 0.5
            birth = datetime.date(rng.randint(1945, 2004), 1, 1) + rng.randrange(365) * DAY
            county = self.counties[rng.randrange(len(self.counties))]
            number = self.ids.make(county, birth, male)
            found.append(
                Person(number, names.person_name(rng, male), birth, county, names.mobile(rng))
            )
        return found


# --- what each list says about a person ------------------------------------------------------


def scaled(size: int, per_million: int, least: int = 2) -> int:
    return max(least, round(size * per_million / 1_000_000))


def _day(rng: random.Random, low: datetime.date, high: datetime.date) -> datetime.date:
    return low + rng.randint(0, max((high - low).days, 0)) * DAY


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class ListMaker:
    """Builds the rows of one list."""

    kind: str
    rng: random.Random
    days: Days
    rows: list[Row] = field(default_factory=list)

    def add(self, person: Person, **values: str) -> None:
        common = {
            "id_number": person.id_number,
            "name": person.name,
            "birth_date": person.birth.isoformat(),
            "phone": person.phone,
            "region": person.region,
        }
        self.rows.append(Row({**common, **values}, person))

    def shuffled(self) -> list[Row]:
        self.rng.shuffle(self.rows)
        return self.rows


# Households with a file on the 低保 list, by category: most deep-hardship ones, a few others.
ON_MINIMUM_LIVING: dict[str, float] = {HardshipCategory.DEEP: 0.8, HardshipCategory.RELATIVE: 0.1}


def minimum_living(rng: random.Random, people: People, days: Days, size: int) -> list[Row]:
    """低保 recipients: most deep-hardship households, a few relative ones, members without
    a file (whom the screening should find), some whose allowance ended, and residents."""
    made = ListMaker(Kind.MINIMUM_LIVING, rng, days)
    s, start = days.screening, days.year_start

    def allowance(person: Person, household: int, persons: int, since: datetime.date,
                  until: datetime.date | None = None) -> None:  # fmt: skip
        amount = rng.randint(300, 900) * 100 * max(persons, 1)
        made.add(
            person, household_ref=f"MZ{person.region}{household:07d}", amount_fen=_yuan(amount),
            start_on=since.isoformat(), end_on=until.isoformat() if until else "",
            household_size=str(persons),
        )  # fmt: skip

    for h in people.households:
        share = ON_MINIMUM_LIVING.get(h.category, 0.0)
        if h.status == FileStatus.CLOSED:
            if h.category == HardshipCategory.DEEP and rng.random() < 0.4 and h.exit_on:
                ended = h.exit_on + rng.randint(-20, 40) * DAY
                since = (h.filed or h.exit_on) - rng.randint(30, 300) * DAY
                allowance(h.applicant.person, h.file, len(h.members), since, min(ended, s - DAY))
            continue
        if rng.random() < share and h.listed(rng, days):
            since = min(h.created, s) - rng.randint(20, 500) * DAY
            allowance(h.spouse_or_applicant(rng).person, h.file, len(h.members), since)
    for number, person in enumerate(people.free_workers(scaled(size, 4_000)), start=1):
        since = s - rng.randint(20, 700) * DAY
        until = None if rng.random() < 0.9 else s - rng.randint(1, 60) * DAY
        allowance(person, 9_000_000 + number, rng.randint(1, 4), since, until)
    for number, person in enumerate(people.outsiders(scaled(size, 12_000)), start=1):
        since = min(s, start) - rng.randint(0, 900) * DAY
        allowance(person, 8_000_000 + number, rng.randint(1, 5), since)
    return made.shuffled()


HOSPITALS = (
    "安徽医科大学第一附属医院", "中国科学技术大学附属第一医院", "安徽省儿童医院",
    "芜湖市第一人民医院", "蚌埠医学院第一附属医院", "安庆市立医院", "阜阳市人民医院",
    "六安市人民医院", "宿州市立医院", "黄山市人民医院",
)  # fmt: skip
DIAGNOSES = (
    "恶性肿瘤", "尿毒症（血液透析）", "急性心肌梗死", "脑梗死", "白血病", "重症肺炎",
    "股骨颈骨折", "慢性肾衰竭", "糖尿病并发症", "肝硬化",
)  # fmt: skip


def medical(rng: random.Random, people: People, days: Days, size: int) -> list[Row]:
    """Large medical expenses settled in the 12 months before the screening day: sick
    members of filed households, members without a file above the threshold (20,000 yuan
    out of pocket) and below it, and residents."""
    made = ListMaker(Kind.MEDICAL, rng, days)
    s = days.screening

    def bills(person: Person, total_fen: int) -> None:
        count = rng.randint(1, 3)
        for index in range(count):
            part = total_fen // count + (total_fen % count if index == 0 else 0)
            made.add(
                person, out_of_pocket_fen=_yuan(part),
                total_fen=_yuan(part * rng.randint(20, 45) // 10),
                paid_on=(s - rng.randint(1, 350) * DAY).strftime("%Y/%m/%d"),
                diagnosis=rng.choice(DIAGNOSES), hospital=rng.choice(HOSPITALS),
            )  # fmt: skip

    for h in people.households:
        if h.status == FileStatus.CLOSED or h.cause not in (Cause.MAJOR_ILLNESS, Cause.ACCIDENT):
            continue
        if rng.random() < 0.5 and h.listed(rng, days):
            sick = [m for m in h.members if m.health == Health.SERIOUS] or [h.applicant]
            bills(sick[0].person, rng.randint(2_500_000, 9_000_000))
    heavy = scaled(size, 1_500)  # above the threshold: candidates
    for index, person in enumerate(people.free_workers(heavy + scaled(size, 4_000))):
        if index < heavy:
            bills(person, rng.randint(2_200_000, 8_000_000))
        else:
            bills(person, rng.randint(300_000, 1_500_000))
    for person in people.outsiders(scaled(size, 8_000)):
        bills(person, rng.randint(300_000, 6_000_000))
    return made.shuffled()


def unemployment(rng: random.Random, people: People, days: Days, size: int) -> list[Row]:
    """Registered unemployed: laid-off applicants and idle spouses of filed households,
    members without a file, and residents; some registrations ended before the screening."""
    made = ListMaker(Kind.UNEMPLOYMENT, rng, days)
    s = days.screening

    def registered(person: Person) -> None:
        since = s - rng.randint(10, 600) * DAY
        ended = "" if rng.random() < 0.85 else (since + rng.randint(1, 9) * DAY).isoformat()
        made.add(person, registered_on=since.isoformat(), ended_on=ended)

    for h in people.households:
        if h.status == FileStatus.CLOSED or rng.random() >= 0.7 or not h.listed(rng, days):
            continue
        if h.cause == Cause.LAID_OFF:
            registered(h.applicant.person)
        elif h.cause == Cause.NOT_EMPLOYED:
            registered(h.spouse_or_applicant(rng).person)
    for person in people.free_workers(scaled(size, 3_000)):
        registered(person)
    for person in people.outsiders(scaled(size, 6_000)):
        registered(person)
    return made.shuffled()


DISABILITY_KINDS = ("肢体残疾", "视力残疾", "听力残疾", "言语残疾", "智力残疾", "精神残疾")
GRADES: dict[str, str] = {
    Disability.GRADE_1: "一级", Disability.GRADE_2: "二级", Disability.GRADE_3: "三级",
    Disability.GRADE_4: "四级",
}  # fmt: skip


def disability(rng: random.Random, people: People, days: Days, size: int) -> list[Row]:
    """The disability registry: disabled members of filed households, and residents."""
    made = ListMaker(Kind.DISABILITY, rng, days)

    def certified(person: Person, grade: str) -> None:
        made.add(
            person, disability_kind=rng.choice(DISABILITY_KINDS), disability_grade=grade,
            certificate=f"{person.id_number}{rng.randint(1, 7)}{rng.randint(1, 4)}",
        )  # fmt: skip

    for h in people.households:
        for m in h.members:
            if m.disability != Disability.NONE and rng.random() < 0.85:
                certified(m.person, GRADES.get(m.disability, "四级"))
    for person in people.free_workers(scaled(size, 1_000)):
        certified(person, rng.choice(("三级", "四级")))
    for person in people.outsiders(scaled(size, 6_000)):
        certified(person, rng.choice(tuple(GRADES.values())))
    return made.shuffled()


DISASTERS = ("洪涝灾害", "台风", "冰雹", "低温雨雪冰冻", "地质灾害", "火灾")


def disaster(rng: random.Random, people: People, days: Days, size: int) -> list[Row]:
    """Disaster victims of the year: filed households hit by a disaster, and residents."""
    made = ListMaker(Kind.DISASTER, rng, days)
    start, s = days.year_start, days.screening

    def struck(person: Person) -> None:
        made.add(
            person, event=rng.choice(DISASTERS), event_on=_day(rng, start, s).isoformat(),
            loss_fen=_yuan(rng.randint(500_000, 8_000_000)),
        )  # fmt: skip

    for h in people.households:
        if h.cause == Cause.DISASTER and h.status != FileStatus.CLOSED and rng.random() < 0.8:
            struck(h.applicant.person)
    for person in people.free_workers(scaled(size, 500)):
        struck(person)
    for person in people.outsiders(scaled(size, 2_000)):
        struck(person)
    return made.shuffled()


PLATE_LETTERS = "ABCDEFGHJKLMNPRS"
VEHICLE_TYPES = ("小型普通客车", "小型轿车", "小型越野客车", "轻型普通货车")


def vehicle(rng: random.Random, people: People, days: Days, size: int) -> list[Row]:
    """Vehicle registrations: a car in a few filed households (a wrong file?), a disability
    aid in some households with a disabled member, cars of members, and residents."""
    made = ListMaker(Kind.VEHICLE, rng, days)

    def car(person: Person, aid: bool = False) -> None:
        plate = f"皖{rng.choice(PLATE_LETTERS)}{rng.randrange(100_000):05d}"
        made.add(
            person, plate=plate, vehicle_type="残疾人专用车" if aid else rng.choice(VEHICLE_TYPES),
            disability_aid="是" if aid else "否",
            registered_on=(days.screening - rng.randint(30, 3_000) * DAY).isoformat(),
        )  # fmt: skip

    for h in people.households:
        if h.status == FileStatus.CLOSED:
            continue
        disabled = any(m.disability != Disability.NONE for m in h.members)
        if disabled and rng.random() < 0.1:
            car(h.applicant.person, aid=True)
        elif rng.random() < 0.02:
            car(h.spouse_or_applicant(rng).person)
    for person in people.free_workers(scaled(size, 10_000)):
        car(person)
    for person in people.outsiders(scaled(size, 10_000)):
        car(person)
    return made.shuffled()


def property_(rng: random.Random, people: People, days: Days, size: int) -> list[Row]:
    """Property registrations: one home for many, two for a few filed households (a wrong
    file?) and for some members, and residents."""
    made = ListMaker(Kind.PROPERTY, rng, days)

    def homes(person: Person, count: int) -> None:
        for _ in range(count):
            made.add(
                person, address=names.address(rng, ""),
                area=f"{rng.randint(38, 140)}.{rng.randint(0, 99):02d}",
                registered_on=(days.screening - rng.randint(100, 6_000) * DAY).isoformat(),
            )  # fmt: skip

    for h in people.households:
        if h.status == FileStatus.CLOSED:
            continue
        draw = rng.random()
        if draw < 0.008:
            homes(h.applicant.person, 2)
        elif draw < 0.12:
            homes(h.applicant.person, 1)
    for person in people.free_workers(scaled(size, 6_000)):
        homes(person, 1 if rng.random() < 0.85 else 2)
    for person in people.outsiders(scaled(size, 6_000)):
        homes(person, 1)
    return made.shuffled()


Maker = Callable[[random.Random, People, Days, int], list[Row]]


@dataclass(frozen=True)
class Agency:
    """A typed source: its list's maker, name, agency, headers and period."""

    kind: str
    source: str
    agency: str
    file_name: str
    make: Maker
    columns: tuple[str, ...]  # the common fields the agency's file has
    encoding: str = "utf-8"

    def period(self, days: Days) -> tuple[datetime.date, datetime.date]:
        if self.kind == Kind.MEDICAL:
            return days.screening - 365 * DAY, days.screening
        return days.year_start, max(days.imported - DAY, days.year_start)


COMMON = ("name", "id_number", "region")
AGENCIES = (
    Agency(Kind.MINIMUM_LIVING, "安徽省民政厅低保对象名单", "安徽省民政厅",
           "{year}年城乡低保对象名单.csv", minimum_living,
           (*COMMON, "birth_date", "phone", "household_ref"), "gb18030"),
    Agency(Kind.MEDICAL, "安徽省医疗保障局大额医疗费用名单", "安徽省医疗保障局",
           "{year}年大额医疗费用个人负担明细.csv", medical, (*COMMON, "phone")),
    Agency(Kind.UNEMPLOYMENT, "安徽省人社厅失业登记名单", "安徽省人力资源和社会保障厅",
           "{year}年失业登记人员名单.csv", unemployment, (*COMMON, "birth_date", "phone")),
    Agency(Kind.DISABILITY, "安徽省残联残疾人名册", "安徽省残疾人联合会",
           "{year}年持证残疾人名册.csv", disability, (*COMMON, "birth_date")),
    Agency(Kind.DISASTER, "安徽省应急管理厅受灾群众名单", "安徽省应急管理厅",
           "{year}年受灾群众名单.csv", disaster, (*COMMON, "phone")),
    Agency(Kind.VEHICLE, "安徽省公安厅机动车登记信息", "安徽省公安厅交通管理局",
           "{year}年机动车登记信息.csv", vehicle, COMMON),
    Agency(Kind.PROPERTY, "安徽省自然资源厅不动产登记信息", "安徽省自然资源厅",
           "{year}年不动产登记信息.csv", property_, COMMON),
)  # fmt: skip

HEADERS = {
    "name": "姓名", "id_number": "身份证号", "birth_date": "出生日期", "phone": "联系电话",
    "region": "行政区划代码", "household_ref": "户号",
    "amount_fen": "保障金额", "start_on": "保障起始日期", "end_on": "保障终止日期",
    "household_size": "保障人数", "out_of_pocket_fen": "个人自付", "total_fen": "总费用",
    "paid_on": "结算日期", "diagnosis": "诊断", "hospital": "医院",
    "registered_on": "登记日期", "ended_on": "注销日期", "disability_kind": "残疾类别",
    "disability_grade": "残疾等级", "certificate": "残疾证号", "event": "灾害类型",
    "event_on": "受灾日期", "loss_fen": "损失金额", "plate": "号牌号码",
    "vehicle_type": "车辆类型", "disability_aid": "残疾人专用车", "address": "房屋坐落",
    "area": "建筑面积",
}  # fmt: skip
# The unemployment list calls its registration date 失业登记日期.
KIND_HEADERS: dict[tuple[str, str], str] = {(Kind.UNEMPLOYMENT, "registered_on"): "失业登记日期"}


# --- noise and the file --------------------------------------------------------------------------


def add_noise(rng: random.Random, rows: Sequence[Row], agency: Agency) -> None:
    """A few rows without an ID number or with a mistyped one; residents' phones are
    often missing."""
    for row in rows:
        draw = rng.random()
        if draw < NO_ID:
            row.values["id_number"], row.noise = "", "no_id"
        elif draw < NO_ID + MISTYPED:
            row.values["id_number"], row.noise = mistype(rng, row.person.id_number), "mistyped"
        if "phone" in agency.columns and row.person.worker is None and rng.random() < 0.5:
            row.values["phone"] = ""


def mistype(rng: random.Random, number: str) -> str:
    """One digit of the birth date or sequence changed: the check digit no longer fits."""
    position = rng.choice((12, 13, 14, 15))
    digit = str((int(number[position]) + rng.randint(1, 9)) % 10)
    return number[:position] + digit + number[position + 1 :]


def name_typo(rng: random.Random, name: str) -> str:
    """The last character of the given name written as another one."""
    pool = names.MALE_CHARS + names.FEMALE_CHARS
    last = name[-1]
    return name[:-1] + next(c for c in (rng.choice(pool) for _ in range(20)) if c != last)


def birth_typo(birth: datetime.date) -> str:
    """The day off by one in its last digit (20 → 21, 29 → 28): one digit differs."""
    day = birth.day + (1 if birth.day % 10 != 9 and birth.day < 28 else -1)
    return birth.replace(day=day).isoformat()


def write_csv(rows: Sequence[Row], agency: Agency, target: Path) -> Path:
    """The agency's export: its common columns, then the fields of its kind, Chinese
    headers, in the agency's encoding."""
    fields_ = [*agency.columns, *(f.name for f in lists.KIND_FIELDS[agency.kind])]
    headers = [KIND_HEADERS.get((agency.kind, f), HEADERS[f]) for f in fields_]
    with open(target, "w", encoding=agency.encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([row.values.get(f, "") for f in fields_])
    return target
