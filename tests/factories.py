"""Builders for test data: a small province with named people, as in STYLE.md.

The tree: 安徽省总工会 (province) → 合肥市总工会 (city) → 瑶海区总工会 (county) →
a grassroots union; and 芜湖市总工会 → 镜湖区总工会 → a grassroots union, for the outsider.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from decimal import Decimal

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.hardship.models import LivingStandard, Policy
from gonghui.organisations.choices import OrganisationKind, RegionLevel
from gonghui.organisations.models import Organisation, Region
from gonghui.people.choices import Employment, Relation
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import Household, HouseholdMember, Membership, Worker

_sequence = itertools.count(1)
PASSWORD = "s3cret-pass"


@dataclass
class Province:
    anhui: Organisation
    hefei: Organisation
    yaohai: Organisation
    yaohai_union: Organisation
    wuhu: Organisation
    jinghu: Organisation
    jinghu_union: Organisation
    yaohai_region: Region
    jinghu_region: Region
    policy: Policy
    alice: User  # case worker, Yaohai county federation
    bob: User  # second case worker, Yaohai
    rita: User  # reviewer, Yaohai county federation
    carl: User  # reviewer, Hefei city federation
    gina: User  # reviewer at a grassroots union: below filing level
    charlie: User  # case worker in Wuhu: the outsider
    leo: User  # leader, province
    audrey: User  # auditor, province
    adam: User  # administrator, province


def region(code: str, name: str, level: str, parent: Region | None = None) -> Region:
    obj, _ = Region.objects.get_or_create(
        code=code, defaults={"name": name, "level": level, "parent": parent}
    )
    return obj


def organisation(
    name: str, kind: str, parent: Organisation | None, reg: Region | None
) -> Organisation:
    return Organisation.objects.create(name=name, kind=kind, parent=parent, region=reg)


def user(username: str, role: str, org: Organisation) -> User:
    return User.objects.create_user(
        username=username, password=PASSWORD, role=role, organisation=org, display_name=username
    )


def build_province() -> Province:
    ah = region("340000", "安徽省", RegionLevel.PROVINCE)
    hf = region("340100", "合肥市", RegionLevel.CITY, ah)
    yh = region("340102", "瑶海区", RegionLevel.COUNTY, hf)
    wh = region("340200", "芜湖市", RegionLevel.CITY, ah)
    jh = region("340202", "镜湖区", RegionLevel.COUNTY, wh)
    anhui = organisation("安徽省总工会", OrganisationKind.PROVINCE, None, ah)
    hefei = organisation("合肥市总工会", OrganisationKind.CITY, anhui, hf)
    yaohai = organisation("瑶海区总工会", OrganisationKind.COUNTY, hefei, yh)
    yaohai_union = organisation("合肥某机械厂工会", OrganisationKind.GRASSROOTS, yaohai, yh)
    wuhu = organisation("芜湖市总工会", OrganisationKind.CITY, anhui, wh)
    jinghu = organisation("镜湖区总工会", OrganisationKind.COUNTY, wuhu, jh)
    jinghu_union = organisation("芜湖某纺织厂工会", OrganisationKind.GRASSROOTS, jinghu, jh)
    policy = Policy.objects.create(
        name="安徽省困难职工帮扶政策",
        region=ah,
        valid_from=datetime.date(2024, 1, 1),
        minimum_wage=Decimal("2060"),
    )
    for year, amount in ((2024, "620"), (2025, "650"), (2026, "680")):
        LivingStandard.objects.create(
            region=hf,
            valid_from=datetime.date(year, 1, 1),
            valid_to=datetime.date(year, 12, 31),
            monthly_amount=Decimal(amount),
        )
    LivingStandard.objects.create(
        region=wh, valid_from=datetime.date(2024, 1, 1), monthly_amount=Decimal("700")
    )
    return Province(
        anhui=anhui,
        hefei=hefei,
        yaohai=yaohai,
        yaohai_union=yaohai_union,
        wuhu=wuhu,
        jinghu=jinghu,
        jinghu_union=jinghu_union,
        yaohai_region=yh,
        jinghu_region=jh,
        policy=policy,
        alice=user("alice", Role.CASE_WORKER, yaohai),
        bob=user("bob", Role.CASE_WORKER, yaohai),
        rita=user("rita", Role.REVIEWER, yaohai),
        carl=user("carl", Role.REVIEWER, hefei),
        gina=user("gina", Role.REVIEWER, yaohai_union),
        charlie=user("charlie", Role.CASE_WORKER, jinghu),
        leo=user("leo", Role.LEADER, anhui),
        audrey=user("audrey", Role.AUDITOR, anhui),
        adam=user("adam", Role.ADMIN, anhui),
    )


def worker(
    org: Organisation,
    reg: Region,
    name: str = "张伟",
    born: datetime.date = datetime.date(1985, 5, 17),
    phone: str = "",
) -> Worker:
    seq = next(_sequence)
    number = make_id_number(reg.code, born, seq)
    return Worker.objects.create(
        id_number=number,
        name=name,
        phone=phone or f"139{seq:08d}",
        region=reg,
        organisation=org,
    )


def household(org: Organisation, reg: Region, head: Worker, size: int = 3) -> Household:
    home = Household.objects.create(organisation=org, region=reg, address="长江东路1号")
    HouseholdMember.objects.create(
        household=home,
        worker=head,
        name=head.name,
        id_number=head.id_number,
        relation=Relation.SELF,
        birth_date=head.birth_date,
    )
    relations = [Relation.SPOUSE, Relation.CHILD, Relation.CHILD, Relation.PARENT]
    for index in range(size - 1):
        HouseholdMember.objects.create(
            household=home,
            name=f"家属{index + 1}",
            relation=relations[index % len(relations)],
            employment=Employment.STUDENT if index else Employment.EMPLOYED,
        )
    return home


def members(p: Province, union: Organisation, count: int) -> None:
    """``count`` workers (registered in 瑶海) who are members of ``union`` since 2020."""
    for _ in range(count):
        person = worker(p.yaohai_union, p.yaohai_region)
        since = datetime.date(2020, 1, 1)
        Membership.objects.create(worker=person, organisation=union, since=since)
