"""The 129 service centres and their 408 staff, including the fixed demo logins.

DESIGN §1: Anhui has 129 worker-service centres at all levels with 408 staff. Here that is
one centre per federation (province, 16 cities, 104 counties) and eight more at the courier
industry federation and seven street unions. Every demo user shares one password hash:
hashing it 408 times with PBKDF2 would take minutes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from gonghui.accounts.choices import Role

from . import anhui, names
from .orgs import Org, Province

DEMO_PASSWORD = "gonghui-demo"
CENTRES = 129
STAFF = 408
EXTRA_STREET_CENTRES = CENTRES - 1 - 16 - 104 - 1  # after province, cities, counties, industry

ROLE_TITLES: dict[str, str] = {
    Role.CASE_WORKER: "干事",
    Role.REVIEWER: "审核员",
    Role.FUND_OFFICER: "财务专员",
    Role.LEADER: "领导",
    Role.AUDITOR: "审计员",
    Role.ADMIN: "管理员",
}
USERNAME_PREFIXES: dict[str, str] = {
    Role.CASE_WORKER: "cw",
    Role.REVIEWER: "rv",
    Role.FUND_OFFICER: "fo",
    Role.LEADER: "ld",
    Role.AUDITOR: "au",
    Role.ADMIN: "ad",
}

# Who works where. A county centre has at least a reviewer and a case worker; larger
# counties get a second case worker until the province reaches its 408 staff.
PROVINCE_ROLES = (
    [Role.ADMIN]
    + [Role.LEADER] * 3
    + [Role.AUDITOR] * 3
    + [Role.FUND_OFFICER] * 4
    + [Role.REVIEWER] * 6
    + [Role.CASE_WORKER] * 7
)
CITY_ROLES = [Role.REVIEWER] * 2 + [Role.CASE_WORKER, Role.FUND_OFFICER, Role.LEADER, Role.AUDITOR]
INDUSTRY_ROLES = [Role.REVIEWER, Role.CASE_WORKER, Role.CASE_WORKER, Role.FUND_OFFICER]
STREET_ROLES = [Role.CASE_WORKER, Role.CASE_WORKER, Role.REVIEWER]
COUNTY_ROLES = [Role.REVIEWER, Role.CASE_WORKER]
SHOWCASE_ROLES = [Role.REVIEWER] * 2 + [Role.CASE_WORKER] * 3


@dataclass(frozen=True)
class Login:
    """A documented demo login that other code and the browser tests rely on."""

    username: str
    role: str
    centre_key: str  # the region code of the federation, see Centre.key
    display_name: str


FIXED_LOGINS = (
    Login("admin", Role.ADMIN, anhui.PROVINCE_REGION, "省总工会管理员陈立"),
    Login("leader", Role.LEADER, anhui.PROVINCE_REGION, "省总工会领导周建华"),
    Login("auditor", Role.AUDITOR, anhui.PROVINCE_REGION, "省总工会审计员孙丽"),
    Login("fund", Role.FUND_OFFICER, anhui.PROVINCE_REGION, "省总工会财务专员吴芳"),
    Login("hefei_reviewer", Role.REVIEWER, anhui.SHOWCASE_CITY, "合肥市审核员王强"),
    Login("yaohai_reviewer", Role.REVIEWER, anhui.SHOWCASE_COUNTY, "瑶海区审核员李明"),
    Login("yaohai_caseworker", Role.CASE_WORKER, anhui.SHOWCASE_COUNTY, "瑶海区干事张敏"),
    Login("yaohai_caseworker2", Role.CASE_WORKER, anhui.SHOWCASE_COUNTY, "瑶海区干事刘洋"),
    Login("wuhu_caseworker", Role.CASE_WORKER, "340200", "芜湖市干事赵静"),
)


@dataclass(eq=False)
class Centre:
    pk: int
    org: Org
    key: str  # region code for federations, "kd" for the courier federation, etc.
    label: str  # how staff names start: 省总工会, 合肥市, 瑶海区 ...
    roles: Sequence[str]
    place: str  # where the centre is, for its address
    address: str = ""
    phone: str = ""

    @property
    def name(self) -> str:
        """安徽省职工服务中心, 合肥市职工服务中心 ... and 职工服务站 for the small ones."""
        short = self.org.name.removesuffix("总工会").removesuffix("工会联合会")
        return short + ("职工服务站" if self.org.kind in {"street", "industry"} else "职工服务中心")


@dataclass(eq=False)
class User:
    pk: int
    username: str
    role: str
    display_name: str
    centre: Centre

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


@dataclass(eq=False)
class Staff:
    """All centres and users, with lookups by centre and role for choosing actors."""

    centres: list[Centre]
    users: list[User]
    by_centre: dict[str, dict[str, list[User]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for user in self.users:
            roles = self.by_centre.setdefault(user.centre.key, {})
            roles.setdefault(user.role, []).append(user)

    def of(self, key: str, role: str) -> list[User]:
        return self.by_centre.get(key, {}).get(role, [])

    def login(self, username: str) -> User:
        return next(u for u in self.users if u.username == username)


def plan_centres(rng: random.Random, province: Province, first_pk: int) -> list[Centre]:
    seat = anhui.PROVINCE_SEAT
    centres = [Centre(0, province.root, anhui.PROVINCE_REGION, "省总工会", PROVINCE_ROLES, seat)]
    for code, org in province.cities.items():
        city = org.name.removesuffix("总工会")
        centres.append(Centre(0, org, code, city, CITY_ROLES, city))
    for county in province.counties:
        roles = SHOWCASE_ROLES if county.code == anhui.SHOWCASE_COUNTY else COUNTY_ROLES
        name = county.division.name
        centres.append(Centre(0, county.federation, county.code, name, roles, county.place))
    centres.append(Centre(0, province.industry, "kd", "快递行业", INDUSTRY_ROLES, seat))
    centres += _street_centres(province)
    _grow_counties(centres, province)
    for index, centre in enumerate(centres):
        centre.pk = first_pk + index
        centre.address, centre.phone = _contact(rng, centre)
    return centres


def _street_centres(province: Province) -> list[Centre]:
    """A centre at the first street of the largest counties (the showcase county first)."""
    ranked = sorted(
        province.counties,
        key=lambda c: (c.code != anhui.SHOWCASE_COUNTY, -c.workers, c.code),
    )
    return [
        Centre(0, street, f"{c.code}s", street.street, STREET_ROLES, c.place + street.street)
        for c in ranked[:EXTRA_STREET_CENTRES]
        for street in c.streets[:1]
    ]


def _grow_counties(centres: list[Centre], province: Province) -> None:
    """Give the largest counties a second case worker until there are exactly 408 staff."""
    workers = {county.code: county.workers for county in province.counties}
    counties = sorted(
        (c for c in centres if c.org.kind == "county" and c.key != anhui.SHOWCASE_COUNTY),
        key=lambda c: (-workers[c.key], c.key),
    )
    missing = STAFF - sum(len(c.roles) for c in centres)
    for centre in counties[:missing]:
        centre.roles = [*COUNTY_ROLES, Role.CASE_WORKER]


def _contact(rng: random.Random, centre: Centre) -> tuple[str, str]:
    city = anhui.CITY_BY_CODE.get(centre.org.region[:4] + "00", anhui.CITIES[0])
    address = f"{centre.place}{rng.choice(names.ROADS)}{rng.randint(1, 299)}号"
    return address, f"{city.area_code}-{rng.randint(6000_0000, 6999_9999)}"


def plan_users(rng: random.Random, centres: list[Centre], first_pk: int) -> Staff:
    """Staff for every role slot of every centre; the fixed logins take the first slot of
    their role at their centre."""
    fixed: dict[tuple[str, str], list[Login]] = {}
    for login in FIXED_LOGINS:
        fixed.setdefault((login.centre_key, login.role), []).append(login)
    users: list[User] = []
    for centre in centres:
        for number, role in _numbered(centre.roles):
            waiting = fixed.get((centre.key, role))
            login = waiting.pop(0) if waiting else _generated(rng, centre, role, number)
            users.append(
                User(first_pk + len(users), login.username, role, login.display_name, centre)
            )
    return Staff(centres, users)


def _numbered(roles: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(n, role) where n counts the role's slots so far: 1, 2, ..."""
    seen: dict[str, int] = {}
    for role in roles:
        seen[role] = seen.get(role, 0) + 1
        yield seen[role], role


def _generated(rng: random.Random, centre: Centre, role: str, number: int) -> Login:
    """cw_340103_2: the second case worker of 庐阳区, named e.g. 庐阳区干事李娜."""
    name = names.person_name(rng, rng.random() < 0.5)
    username = f"{USERNAME_PREFIXES[role]}_{centre.key}_{number}"
    return Login(username, role, centre.key, centre.label + ROLE_TITLES[role] + name)


def centre_rows(centres: list[Centre]) -> Iterator[tuple[object, ...]]:
    for centre in centres:
        yield (centre.pk, centre.org.pk, centre.name, centre.address, centre.phone)


CENTRE_COLUMNS = ("id", "organisation_id", "name", "address", "phone")
