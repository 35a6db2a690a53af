"""The tree of unions: province → cities → counties → streets and grassroots unions, plus
the provincial courier-industry federation with its company unions.

Organisation.save() numbers a new child by counting its siblings, a query per row; here the
tree is laid out in memory with the same encoding (``encode_segment`` of the 1-based index
among siblings) and written in one go.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from gonghui.organisations.choices import OrganisationKind as Kind
from gonghui.organisations.models import PATH_SEP, Organisation, encode_segment
from gonghui.organisations.regions import Division

from . import anhui, names

WORKERS_PER_UNION = 500  # a grassroots union per ~500 workers, at least 3 per county


class UnionType:
    """What kind of workplace a grassroots union stands for; decides who joins it."""

    ENTERPRISE = "enterprise"  # a company union (企业工会)
    OFFICE = "office"  # a government department's union (机关工会)
    COMMUNITY = "community"  # a community union under a street, for flexible workers
    COURIER = "courier"  # a courier company union under the industry federation


@dataclass(eq=False)
class Org:
    """An organisation about to be written, with what the demo needs to know of it."""

    pk: int
    name: str
    kind: str
    region: str
    path: str
    parent: Org | None = None
    union_type: str = ""
    employer: str = ""  # the workplace whose workers belong to this union
    street: str = ""  # for community unions: the street they sit in
    children: int = 0

    @property
    def depth(self) -> int:
        return self.path.count(PATH_SEP) - 1


@dataclass(eq=False)
class County:
    """One county with its federation, streets and grassroots unions."""

    division: Division
    city_name: str
    federation: Org
    workers: int
    first_worker: int  # workers are numbered county by county
    households: int = 0
    streets: list[Org] = field(default_factory=list)
    unions: dict[str, list[Org]] = field(default_factory=dict)
    weights: dict[str, list[float]] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.division.code

    @property
    def place(self) -> str:
        return self.city_name + self.division.name

    def pick_union(self, rng: random.Random, union_type: str) -> Org:
        unions = self.unions.get(union_type) or self.unions[UnionType.ENTERPRISE]
        cum = self.weights.get(union_type) or self.weights[UnionType.ENTERPRISE]
        return rng.choices(unions, cum_weights=cum)[0]


@dataclass(eq=False)
class Tree:
    """Organisations in creation order (parents first), numbered from ``next_pk``."""

    next_pk: int
    root_index: int
    orgs: list[Org] = field(default_factory=list)

    def add(
        self,
        name: str,
        kind: str,
        region: str,
        parent: Org | None,
        union_type: str = "",
        employer: str = "",
        street: str = "",
    ) -> Org:
        if parent is None:
            path = encode_segment(self.root_index)
        else:
            parent.children += 1
            path = parent.path + encode_segment(parent.children)
        org = Org(self.next_pk, name, kind, region, path, parent, union_type, employer, street)
        self.next_pk += 1
        self.orgs.append(org)
        return org


@dataclass(eq=False)
class Province:
    """The whole tree and the handles the later steps need."""

    tree: Tree
    root: Org
    industry: Org
    cities: dict[str, Org]
    counties: list[County]
    couriers: dict[str, list[Org]]  # courier company unions by city code

    def county(self, code: str) -> County:
        return next(c for c in self.counties if c.code == code)


def next_root_index() -> int:
    """The demo root goes after any tree already in the database."""
    roots = Organisation.objects.filter(parent=None).values_list("path", flat=True)
    used = {int(path[: -len(PATH_SEP)], 36) for path in roots}
    return max(used, default=0) + 1


def spread(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, summing exactly (largest remainder)."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [int(s) for s in shares]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def county_weights(divisions: list[Division]) -> list[float]:
    """A county's share of workers: its city's population split evenly over its counties."""
    counties = [d for d in divisions if d.level == "county"]
    per_city = {c.code: sum(1 for d in counties if d.parent_code == c.code) for c in anhui.CITIES}
    weights = []
    for d in counties:
        city = anhui.CITY_BY_CODE[d.parent_code or ""]
        weight = city.population / per_city[city.code]
        weights.append(weight * (anhui.SHOWCASE_WEIGHT if d.code == anhui.SHOWCASE_COUNTY else 1))
    return weights


def build_province(
    rng: random.Random, divisions: list[Division], size: int, first_pk: int, root_index: int
) -> Province:
    tree = Tree(first_pk, root_index)
    province = next(d for d in divisions if d.level == "province")
    root = tree.add(anhui.PROVINCE_FEDERATION, Kind.PROVINCE, province.code, None)
    cities = {
        d.code: tree.add(d.name + "总工会", Kind.CITY, d.code, root)
        for d in divisions
        if d.level == "city"
    }
    industry = tree.add(anhui.INDUSTRY_FEDERATION, Kind.INDUSTRY, province.code, root)
    counties = _add_counties(rng, tree, divisions, cities, size)
    couriers = _add_couriers(rng, tree, industry, cities, counties)
    return Province(tree, root, industry, cities, counties, couriers)


def _add_counties(
    rng: random.Random,
    tree: Tree,
    divisions: list[Division],
    cities: dict[str, Org],
    size: int,
) -> list[County]:
    county_divisions = [d for d in divisions if d.level == "county"]
    counts = spread(size, county_weights(divisions))
    counties, first = [], 0
    for division, workers in zip(county_divisions, counts, strict=True):
        city = cities[division.parent_code or ""]
        federation = tree.add(division.name + "总工会", Kind.COUNTY, division.code, city)
        county = County(division, city.name.removesuffix("总工会"), federation, workers, first)
        _add_unions(rng, tree, county)
        counties.append(county)
        first += workers
    return counties


def _union_counts(workers: int) -> dict[str, int]:
    total = max(3, round(workers / WORKERS_PER_UNION))
    office = max(1, round(total * 0.15))
    community = max(2, round(total * 0.2))
    return {
        UnionType.OFFICE: office,
        UnionType.COMMUNITY: community,
        UnionType.ENTERPRISE: max(1, total - office - community),
    }


def _add_unions(rng: random.Random, tree: Tree, county: County) -> None:
    """Streets first, then company, office and community unions (paths follow that order)."""
    counts = _union_counts(county.workers)
    fed, code = county.federation, county.code
    for street in names.street_names(rng, 3 if county.workers > 20_000 else 2):
        county.streets.append(tree.add(street + "总工会", Kind.STREET, code, fed, street=street))
    places = (county.city_name.removesuffix("市"), "安徽", county.division.name)
    bureaus = rng.sample(names.BUREAUS, min(counts[UnionType.OFFICE], len(names.BUREAUS)))
    county.unions = {
        UnionType.ENTERPRISE: [
            _enterprise(rng, tree, fed, code, rng.choice(places))
            for _ in range(counts[UnionType.ENTERPRISE])
        ],
        UnionType.OFFICE: [_office(tree, county, bureau) for bureau in bureaus],
        UnionType.COMMUNITY: [
            _community(rng, tree, county.streets[i % len(county.streets)], code)
            for i in range(counts[UnionType.COMMUNITY])
        ],
    }
    county.weights = {kind: _size_weights(rng, len(orgs)) for kind, orgs in county.unions.items()}


def _office(tree: Tree, county: County, bureau: str) -> Org:
    department = county.division.name + bureau
    return tree.add(
        department + "机关工会",
        Kind.GRASSROOTS,
        county.code,
        county.federation,
        union_type=UnionType.OFFICE,
        employer=department,
    )


def _enterprise(rng: random.Random, tree: Tree, parent: Org, code: str, place: str) -> Org:
    company = names.company_name(rng, place)
    return tree.add(
        company + "工会委员会",
        Kind.GRASSROOTS,
        code,
        parent,
        union_type=UnionType.ENTERPRISE,
        employer=company,
    )


COMMUNITY_WORDS = "幸福和谐阳光金色翠竹梅园桃花康乐银河东苑西苑南苑北苑新村锦绣春晖"


def _community(rng: random.Random, tree: Tree, street: Org, code: str) -> Org:
    word = "".join(rng.sample(COMMUNITY_WORDS, 2))
    return tree.add(
        f"{street.street.removesuffix('街道')}{word}社区工会联合会",
        Kind.GRASSROOTS,
        code,
        street,
        union_type=UnionType.COMMUNITY,
        street=street.street,
    )


def _size_weights(rng: random.Random, count: int) -> list[float]:
    """Cumulative weights: unions differ a lot in size (a few big employers, many small)."""
    return list(accumulate(rng.lognormvariate(0, 0.8) for _ in range(count)))


# Share of workers who deliver parcels or meals; most of them join a courier company union.
COURIER_SHARE = 0.035


def _add_couriers(
    rng: random.Random, tree: Tree, industry: Org, cities: dict[str, Org], counties: list[County]
) -> dict[str, list[Org]]:
    couriers: dict[str, list[Org]] = {}
    for code, city in cities.items():
        workers = sum(c.workers for c in counties if c.division.parent_code == code)
        count = max(1, round(workers * COURIER_SHARE / WORKERS_PER_UNION))
        place = city.name.removesuffix("市总工会")
        couriers[code] = [_courier(rng, tree, industry, code, place) for _ in range(count)]
    return couriers


def _courier(rng: random.Random, tree: Tree, industry: Org, code: str, place: str) -> Org:
    company = place + rng.choice(names.COURIER_BRANDS) + rng.choice(names.COURIER_BUSINESSES)
    return tree.add(
        company + "工会委员会",
        Kind.GRASSROOTS,
        code,
        industry,
        union_type=UnionType.COURIER,
        employer=company,
    )


def org_rows(tree: Tree) -> Iterator[tuple[object, ...]]:
    for org in tree.orgs:
        parent = org.parent.pk if org.parent else None
        yield (org.pk, org.name, org.kind, parent, org.region, org.path, org.depth)


ORG_COLUMNS = ("id", "name", "kind", "parent_id", "region_id", "path", "depth")
