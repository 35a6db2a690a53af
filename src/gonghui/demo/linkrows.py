"""The demo's fuzzy linkage: which list rows without a usable ID number are tied to a worker,
which wait in the review queue, and a few workers registered twice.

The linkage engine (:mod:`gonghui.discovery.linkage`, Splink) would spend minutes exporting
and comparing a million workers for a few hundred rows whose true worker the demo already
knows. So each such row is compared with its true worker field by field with the engine's
levels, and scored with the engine's shipped model (its m and u per level and its prior for
the size of the registry): what the engine finds for that pair without training. At or above
the link threshold the row is linked (``ListRowLink``, automatic); in the grey zone it goes
to the review queue of the worker's union (``LinkReview``), where a reviewer has already
decided some; below, nothing. Rows and pairs are written as ``linking`` loads them.

Workers registered twice: a few members were registered a second time by another union,
with an ID number one digit off (as the dedupe finds them); their pairs wait for a decision.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from django.db.models import Exists, Max, Min, OuterRef

from gonghui.assistance.models import AssistanceLine, BankAccount, CampaignTarget, ModelWorker
from gonghui.discovery import linkage, lists
from gonghui.discovery.models import (
    LinkDecision,
    LinkKind,
    LinkMethod,
    LinkReview,
    ListImport,
    ListRowLink,
)
from gonghui.organisations.models import Organisation
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import HouseholdMember, Worker

from . import agencies
from .agencies import Person, Row
from .writer import Table, first_free_pk, reset_sequences

THRESHOLDS = linkage.Thresholds()
DECIDED_SHARE = 0.3  # grey-zone pairs a reviewer has decided already


# --- comparing two records with the engine's levels -------------------------------------------


@dataclass(frozen=True)
class Record:
    """One side of a pair, as the engine's features see it."""

    name: str
    dob: str  # YYYYMMDD, or "" when unknown
    phone: str
    region: str
    id17: str  # the ID number's first 17 characters, or ""

    @property
    def sex(self) -> str:
        return "" if len(self.id17) < 17 else ("M" if int(self.id17[16]) % 2 else "F")

    @classmethod
    def of(cls, person: Person) -> Record:
        return cls(
            person.name, person.birth.strftime("%Y%m%d"), person.phone, person.region,
            person.id_number[:17],
        )  # fmt: skip


def within_one(left: str, right: str) -> bool:
    """Damerau–Levenshtein distance at most one (a change, an insertion or deletion, or two
    neighbours swapped)."""
    if left == right:
        return True
    if abs(len(left) - len(right)) > 1:
        return False
    if len(left) == len(right):
        diff = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        if len(diff) == 1:
            return True
        first = diff[0]
        return len(diff) == 2 and diff[1] == first + 1 and left[first] == right[first + 1] and (
            left[first + 1] == right[first]
        )  # fmt: skip
    short, long_ = sorted((left, right), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def within_two(left: str, right: str) -> bool:
    return len(left) == len(right) and sum(a != b for a, b in zip(left, right, strict=True)) <= 2


def levels(left: Record, right: Record) -> dict[str, str]:
    """The level each field reaches (fields missing on a side are left out: null level)."""
    found: dict[str, str] = {}
    if left.name and right.name:
        found["name"] = (
            "exact" if left.name == right.name
            else "one_character" if within_one(left.name, right.name)
            else "surname" if left.name[0] == right.name[0]
            else "different"
        )  # fmt: skip
    if left.dob and right.dob:
        swapped = right.dob[:4] + right.dob[6:] + right.dob[4:6]
        found["birth_date"] = (
            "exact" if left.dob == right.dob
            else "swapped" if left.dob == swapped
            else "one_digit" if within_one(left.dob, right.dob)
            else "different"
        )  # fmt: skip
    if left.phone and right.phone:
        found["phone"] = (
            "exact" if left.phone == right.phone
            else "one_digit" if within_one(left.phone, right.phone)
            else "different"
        )  # fmt: skip
    if left.region and right.region:
        found["region"] = (
            "exact" if left.region == right.region
            else "city" if left.region[:4] == right.region[:4]
            else "different"
        )  # fmt: skip
    if left.sex and right.sex:
        found["sex"] = "exact" if left.sex == right.sex else "different"
    if len(left.id17) == 17 and len(right.id17) == 17:
        found["id_number"] = (
            "exact" if left.id17 == right.id17
            else "one_typo" if within_one(left.id17, right.id17)
            else "two_typos" if within_two(left.id17, right.id17)
            else "different"
        )  # fmt: skip
    return found


M_U = {
    name: {level.name: (level.m, level.u) for level in steps}
    for name, (_required, steps) in linkage.DEFAULT_LEVELS.items()
}


def probability(reached: Mapping[str, str], prior: float) -> float:
    """The match probability of the shipped model (Fellegi–Sunter: prior odds times the
    Bayes factor m/u of each field's level)."""
    log_odds = math.log(prior / (1 - prior))
    for name, level in reached.items():
        m, u = M_U[name][level]
        log_odds += math.log(m / u)
    if log_odds > 40:
        return 1.0 - 1e-12
    return 1 / (1 + math.exp(-log_odds))


def weight(p: float) -> float:
    return linkage.match_weight(min(max(p, 1e-12), 1 - 1e-12))


def agreed(reached: Mapping[str, str]) -> list[str]:
    return [name for name, level in reached.items() if level != "different"]


# --- the grey zone ------------------------------------------------------------------------------

# Ways a row without an ID number differs from the registry besides (tried fewest first):
# the name one character off, the birth date one digit off or its day and month swapped,
# the phone one digit off or missing, the county another of the same city.
BLURS = (
    ("name", "no_phone"), ("birth", "no_phone"), ("swap", "no_phone"),
    ("name", "phone"), ("name", "birth", "no_phone"), ("name", "swap", "no_phone"),
    ("birth", "county", "no_phone"), ("name", "county", "no_phone"), ("name", "birth"),
    ("name", "phone", "county"), ("name", "birth", "county", "no_phone"),
)  # fmt: skip
GREY_SHARE = 0.8  # of the rows without an ID number, those tried for the grey zone


def blurred(
    rng: random.Random, values: Mapping[str, str], person: Person, how: Sequence[str],
    columns: Sequence[str], counties: Mapping[str, Sequence[str]],
) -> dict[str, str] | None:  # fmt: skip
    """The row's values changed ``how``, or None when the row cannot be (no such column)."""
    out = dict(values)
    for change in how:
        if change == "name":
            out["name"] = agencies.name_typo(rng, person.name)
        elif change in ("birth", "swap"):
            if "birth_date" not in columns:
                return None
            birth = person.birth
            if change == "swap" and (birth.day > 12 or birth.day == birth.month):
                return None
            out["birth_date"] = (
                agencies.birth_typo(birth) if change == "birth"
                else birth.replace(month=birth.day, day=birth.month).isoformat()
            )  # fmt: skip
        elif change in ("phone", "no_phone"):
            if "phone" not in columns or not person.phone:
                continue
            out["phone"] = "" if change == "no_phone" else _phone_typo(rng, person.phone)
        elif change == "county":
            others = [c for c in counties.get(person.region[:4], ()) if c != person.region]
            if not others:
                return None
            out["region"] = rng.choice(others)
    return out


def _phone_typo(rng: random.Random, phone: str) -> str:
    position = rng.randint(3, len(phone) - 1)
    digit = str((int(phone[position]) + rng.randint(1, 9)) % 10)
    return phone[:position] + digit + phone[position + 1 :]


def _as_read(values: Mapping[str, str], columns: Sequence[str]) -> Record:
    """A row without an ID number as the engine reads it from the list."""
    birth = values.get("birth_date", "") if "birth_date" in columns else ""
    phone = values.get("phone", "") if "phone" in columns else ""
    return Record(
        values.get("name", ""), birth.replace("-", ""), phone, values.get("region", ""), ""
    )


def blur(
    rng: random.Random, rows: Sequence[Row], columns: Sequence[str], population: int,
    budget: list[int], counties: Mapping[str, Sequence[str]],
) -> int:  # fmt: skip
    """Put up to ``budget[0]`` of the workers' rows without an ID number into the
    linkage's grey zone (a match probability between the review and the link thresholds
    under the shipped model): the pairs a reviewer is asked about."""
    prior = min(linkage.EXPECTED_SHARE / max(population, 1), 0.5)
    done = 0
    for row in rows:
        if budget[0] <= 0:
            break
        if row.noise != "no_id" or row.person.worker is None or rng.random() >= GREY_SHARE:
            continue
        truth = Record.of(row.person)
        for how in BLURS:
            values = blurred(rng, row.values, row.person, how, columns, counties)
            if values is None:
                continue
            p = probability(levels(truth, _as_read(values, columns)), prior)
            if THRESHOLDS.review <= p < THRESHOLDS.link:
                row.values, row.noise = values, "grey"
                budget[0] -= 1
                done += 1
                break
    return done


# --- list rows -------------------------------------------------------------------------------


@dataclass
class Written:
    links: list[tuple[Any, ...]]
    reviews: list[tuple[Any, ...]]


def unlinked_rows(imp: ListImport) -> list[tuple[Any, ...]]:
    """The rows the ID number does not link (no valid number): as the engine reads them."""
    con = duckdb.connect()
    try:
        return con.execute(
            "SELECT row_no, id_given, name, birth_date, phone, region_id FROM read_parquet(?) "
            "WHERE id_number IS NULL ORDER BY row_no",
            [str(lists.rows_path(imp.work_dir))],
        ).fetchall()
    finally:
        con.close()


def run_key(what: str, population: int) -> str:
    text = f"demo-linkage:{what}:{population}:{linkage.SEED}"
    return hashlib.sha256(text.encode()).hexdigest()


def write_links(
    rng: random.Random,
    imports: Sequence[tuple[ListImport, dict[int, Row]]],
    decider: Any,
    unions: Mapping[int, int],
    population: int,
    moment: Any,
) -> Written:
    """Links and review pairs for the rows of each list without a usable ID number;
    ``decider(organisation id)`` is who decides a pair in that union, ``unions`` the
    organisation of each worker, ``moment(day offset)`` when it happened."""
    prior = min(linkage.EXPECTED_SHARE / max(population, 1), 0.5)
    written = Written([], [])
    link_pk, review_pk = first_free_pk(ListRowLink), first_free_pk(LinkReview)
    for imp, truth in imports:
        key = run_key(imp.sha256, population)
        for row_no, given, name, birth, phone, region in unlinked_rows(imp):
            row = truth.get(row_no)
            if row is None or row.person.worker is None:
                continue  # a resident outside the union: nobody to link
            dob = birth.strftime("%Y%m%d") if birth else (given or "")[6:14]
            record = Record(name or "", dob, phone or "", region or "", (given or "")[:17])
            reached = levels(Record.of(row.person), record)
            p = probability(reached, prior)
            worker = row.person.worker
            if p >= THRESHOLDS.link:
                written.links.append(
                    (link_pk, imp.pk, row_no, worker, p, LinkMethod.AUTO, moment(1))
                )
                link_pk += 1
            elif p >= THRESHOLDS.review:
                organisation = unions[worker]
                decided = rng.random() < DECIDED_SHARE
                decision = LinkDecision.SAME_PERSON if decided else LinkDecision.PENDING
                by = decider(organisation).pk if decided else None
                at = moment(rng.randint(2, 4)) if decided else None
                written.reviews.append((
                    review_pk, LinkKind.LINK, imp.pk, row_no, worker, None, organisation, 1, p,
                    weight(p), agreed(reached), reached, key, decision, by, at, "", moment(1),
                ))  # fmt: skip
                review_pk += 1
                if decided:
                    written.links.append(
                        (link_pk, imp.pk, row_no, worker, p, LinkMethod.REVIEWED, at)
                    )
                    link_pk += 1
    Table(ListRowLink, LINK_COLUMNS).write(written.links)
    Table(LinkReview, REVIEW_COLUMNS).write(written.reviews)
    reset_sequences([ListRowLink, LinkReview])
    return written


LINK_COLUMNS = (
    "id",
    "list_import_id",
    "row_no",
    "worker_id",
    "probability",
    "method",
    "created_at",
)
REVIEW_COLUMNS = (
    "id", "kind", "list_import_id", "row_no", "worker_id", "other_worker_id", "organisation_id",
    "rank", "match_probability", "match_weight", "agreed", "levels", "run_key", "decision",
    "decided_by_id", "decided_at", "note", "created_at",
)  # fmt: skip


# --- workers registered twice ------------------------------------------------------------------


def free_of_history(root: Organisation) -> Any:
    """Workers nothing else points to yet: no household, aid, card, honour or campaign."""
    worker = OuterRef("pk")
    return Worker.objects.filter(root.subtree_q("organisation__"), merged_into=None).filter(
        ~Exists(HouseholdMember.objects.filter(worker=worker)),
        ~Exists(AssistanceLine.objects.filter(worker=worker)),
        ~Exists(BankAccount.objects.filter(worker=worker)),
        ~Exists(ModelWorker.objects.filter(worker=worker)),
        ~Exists(CampaignTarget.objects.filter(worker=worker)),
    )


def twin_number(number: str, birth: datetime.date, taken: set[str], rng: random.Random) -> str:
    """The same person's number with one digit of the sequence mistyped and the check
    digit computed anew: a valid number, one typo away in its first 17 characters."""
    for _attempt in range(40):
        position = rng.choice((14, 15))  # the 17th digit keeps the sex
        sequence = list(number[14:17])
        sequence[position - 14] = str((int(sequence[position - 14]) + rng.randint(1, 9)) % 10)
        candidate = make_id_number(number[:6], birth, int("".join(sequence)))
        if candidate not in taken:
            return candidate
    raise RuntimeError(f"no twin number for {number}")


def make_twins(rng: random.Random, root: Organisation, count: int) -> list[tuple[int, int]]:
    """``count`` pairs (original, second registration): the second record takes the
    first's name, sex, birth date and region, often its phone, and a number one digit off.
    Both keep their own union and membership. Returns the pairs of worker ids."""
    free = free_of_history(root).order_by("pk")
    bounds = Worker.objects.filter(root.subtree_q("organisation__")).aggregate(
        low=Min("pk"), high=Max("pk")
    )
    if bounds["low"] is None:
        return []
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for _attempt in range(count * 3):
        if len(pairs) == count:
            break
        start = rng.randint(bounds["low"], bounds["high"])
        # Two neighbours: workers are numbered county by county, so mostly one county.
        found = list(free.filter(pk__gte=start).values_list("pk", flat=True)[:2])
        if len(found) == 2 and not used.intersection(found):
            used.update(found)
            pairs.append((found[0], found[1]))
    originals = Worker.objects.in_bulk([a for a, _b in pairs])
    numbers = [w.id_number for w in originals.values()]
    taken = set(Worker.objects.filter(id_number__in=numbers).values_list("id_number", flat=True))
    for original_pk, second_pk in pairs:
        original = originals[original_pk]
        number = twin_number(original.id_number, original.birth_date, taken, rng)
        while (
            Worker.objects.filter(id_number=number).exists()
            or HouseholdMember.objects.filter(id_number=number).exists()
        ):
            taken.add(number)
            number = twin_number(original.id_number, original.birth_date, taken, rng)
        taken.add(number)
        changes: dict[str, Any] = {
            "id_number": number, "name": original.name, "sex": original.sex,
            "birth_date": original.birth_date, "region_id": original.region_id,
        }  # fmt: skip
        if rng.random() < 0.6:
            changes["phone"] = original.phone
        Worker.objects.filter(pk=second_pk).update(**changes)  # generated data: no audit
    return pairs


def write_twins(
    rng: random.Random,
    pairs: Sequence[tuple[int, int]],
    decider: Any,
    population: int,
    moment: Any,
) -> int:
    """The dedupe's pairs for the workers registered twice, in the queue of the union of
    the lower-numbered worker (as ``linking`` queues them); a reviewer decided some."""
    if not pairs:
        return 0
    prior = min(linkage.EXPECTED_DUPLICATES * 2 / max(population - 1, 1), 0.5)
    workers = Worker.objects.in_bulk([pk for pair in pairs for pk in pair])
    key = run_key("dedupe", population)
    rows, pk = [], first_free_pk(LinkReview)
    for a, b in pairs:
        left, right = sorted((workers[a], workers[b]), key=lambda w: w.pk)
        reached = levels(_record(left), _record(right))
        p = probability(reached, prior)
        decided = rng.random() < DECIDED_SHARE
        organisation = left.organisation_id
        rows.append((
            pk, LinkKind.DEDUPE, None, None, left.pk, right.pk, organisation, 1, p, weight(p),
            agreed(reached), reached, key,
            LinkDecision.SAME_PERSON if decided else LinkDecision.PENDING,
            decider(organisation).pk if decided else None,
            moment(rng.randint(2, 6)) if decided else None, "", moment(1),
        ))  # fmt: skip
        pk += 1
    Table(LinkReview, REVIEW_COLUMNS).write(rows)
    reset_sequences([LinkReview])
    return len(rows)


def _record(worker: Worker) -> Record:
    return Record(
        worker.name, worker.birth_date.strftime("%Y%m%d") if worker.birth_date else "",
        worker.phone or "", worker.region_id or "", worker.id_number[:17],
    )  # fmt: skip
