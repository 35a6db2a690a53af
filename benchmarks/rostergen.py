"""A deterministic member roster of N workers, with the mistakes real rosters carry.

    .venv/bin/python benchmarks/rostergen.py --rows 100000 --out /tmp/roster.csv

Names follow the common surnames' frequencies; ID numbers carry a GB/T 2260 code of Anhui
in use in the birth year (so stdnum accepts it), a real date of birth and the GB 11643
check digit; phones are mobile numbers; residence codes are Anhui counties; employers come
from a pool of invented company names. Then, at fixed shares of the rows (``MISTAKES``):
a wrong check digit, an old 15-digit number, a repeat of an earlier worker's number,
full-width digits, a lower-case x, trailing spaces, a bad phone, a missing name. The same
seed gives the same file, byte for byte; :class:`Truth` says what a correct import finds.

Vectorised with numpy (a bench dependency): five million rows take about half a minute.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from gonghui.demo.names import (  # noqa: E402
    FEMALE_CHARS,
    MALE_CHARS,
    MOBILE_PREFIXES,
    SURNAME_WEIGHTS,
    SURNAMES,
)

HEADERS_ZH = ["姓名", "身份证号", "手机号码", "行政区划代码", "工作单位", "入会日期", "就业形态"]
HEADERS_EN = ["name", "id_number", "phone", "region", "employer", "member_since", "employment_form"]
FORMS = ["", "", "", "", "快递员", "外卖骑手", "网约车司机", "灵活就业", "货车司机", "家政服务员"]
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK = np.array(list("10X98765432"))
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

# Share of rows with each mistake (the rest are clean). A row has at most one.
MISTAKES = {
    "check_digit": 0.02,  # rejected
    "old_15": 0.01,  # converted, loaded
    "full_width": 0.01,  # tidied, loaded
    "lower_x": 0.005,  # tidied, loaded (only where the check digit is X)
    "spaces": 0.01,  # tidied, loaded
    "bad_phone": 0.005,  # rejected
    "no_name": 0.002,  # rejected
    # Last, so that it copies the number of an earlier row that is itself loaded.
    "repeat": 0.01,  # a duplicate of an earlier row: reported, not loaded
}
REJECTED = ("check_digit", "bad_phone", "no_name")


@dataclass
class Truth:
    rows: int
    mistakes: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(self.mistakes.get(kind, 0) for kind in REJECTED)

    @property
    def duplicates(self) -> int:
        return self.mistakes.get("repeat", 0)

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected - self.duplicates


def anhui_places() -> tuple[list[str], list[str]]:
    """(birth-place codes in use for every year 1955–2008, current county codes)."""
    from gonghui.organisations.regions import all_divisions

    birth, current = [], []
    for division in all_divisions("34"):
        if division.level != "county" or division.code.endswith("01"):
            continue
        if all(division.in_use(year) for year in range(1955, 2009)):
            birth.append(division.code)
        if division.is_current:
            current.append(division.code)
    return birth, current


def employers(rng: np.random.Generator, count: int) -> np.ndarray:
    trade = list("华安新东方宏达联盛恒信泰合力远鑫源通达顺诚明光辉")
    lines = ["机械", "电子", "物流", "建筑", "餐饮", "纺织", "化工", "汽车零部件", "食品", "家政"]
    forms = ["有限公司", "股份有限公司", "有限责任公司", "厂"]
    cities = ["合肥", "芜湖", "蚌埠", "淮南", "马鞍山", "安庆", "滁州", "阜阳", "宿州", "六安"]
    out = []
    for _ in range(count):
        name = "".join(rng.choice(trade, 2)) + str(rng.choice(lines)) + str(rng.choice(forms))
        out.append(str(rng.choice(cities)) + name)
    return np.array(out)


def check_digits(bodies: np.ndarray) -> np.ndarray:
    """GB 11643 check digits of 17-digit bodies given as an (n, 17) int array."""
    return CHECK[(bodies * WEIGHTS).sum(axis=1) % 11]


def generate(rows: int, seed: int = 20260101) -> tuple[list[list[str]], Truth]:
    """The roster as columns (name, id, phone, region, employer, since, form) and the truth."""
    rng = np.random.default_rng(seed)
    birth_codes, residence = anhui_places()
    male = rng.random(rows) < 0.55
    weights = np.diff(np.array((0, *SURNAME_WEIGHTS)), axis=0).astype(float)
    surnames = np.array(SURNAMES)[rng.choice(len(SURNAMES), rows, p=weights / weights.sum())]
    males, females = np.array(list(MALE_CHARS)), np.array(list(FEMALE_CHARS))
    first = np.where(
        male, males[rng.integers(0, len(males), rows)], females[rng.integers(0, len(females), rows)]
    )
    second = np.where(
        male, males[rng.integers(0, len(males), rows)], females[rng.integers(0, len(females), rows)]
    )
    second = np.where(rng.random(rows) < 0.25, "", second)
    names = np.char.add(np.char.add(surnames, first), second)

    # Unique ID numbers: region code, birth date 1958–2004, sequence with sex parity.
    start = datetime.date(1958, 1, 1).toordinal()
    days = rng.integers(0, datetime.date(2004, 12, 31).toordinal() - start, rows)
    births = np.array([datetime.date.fromordinal(start + int(d)).strftime("%Y%m%d") for d in days])
    codes = np.array(birth_codes)[rng.integers(0, len(birth_codes), rows)]
    sequence = rng.integers(0, 500, rows) * 2 + np.where(male, 1, 0)
    bodies = np.char.add(np.char.add(codes, births), np.char.zfill(sequence.astype(str), 3))
    digits = np.frombuffer(bodies.astype("S17").tobytes(), dtype=np.uint8).reshape(rows, 17) - 48
    ids = np.char.add(bodies, check_digits(digits.astype(np.int64)))
    # Collisions (same place, day and sequence) are rare; make them repeats on purpose.
    _, first_seen = np.unique(ids, return_index=True)
    unique = np.zeros(rows, dtype=bool)
    unique[first_seen] = True

    phones = np.char.add(
        np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), rows)],
        np.char.zfill(rng.integers(0, 100_000_000, rows).astype(str), 8),
    )
    regions = np.array(residence)[rng.integers(0, len(residence), rows)]
    pool = employers(rng, 5_000)
    works = pool[rng.integers(0, len(pool), rows)]
    since_days = rng.integers(0, 365 * 20, rows)
    base = datetime.date(2005, 1, 1).toordinal()
    since = np.array([datetime.date.fromordinal(base + int(d)).isoformat() for d in since_days])
    forms = np.array(FORMS)[rng.integers(0, len(FORMS), rows)]

    ids = ids.astype(object)
    names = names.astype(object)
    phones = phones.astype(object)
    truth = Truth(rows=rows)
    draw = rng.random(rows)
    edge = 0.0
    assigned = ~unique  # accidental collisions count as repeats
    rejected = np.zeros(rows, dtype=bool)
    truth.mistakes["repeat"] = int(assigned.sum())
    for kind, share in MISTAKES.items():
        chosen = (draw >= edge) & (draw < edge + share) & ~assigned
        # The first rows stay clean so that a repeat always has an earlier row to copy.
        chosen[:10] = False
        edge += share
        index = np.flatnonzero(chosen)
        if kind == "lower_x":
            index = (
                index[ids[index].astype(str).astype("U18").view("U1").reshape(-1, 18)[:, 17] == "X"]
                if len(index)
                else index
            )
        if kind == "repeat":
            sources = np.flatnonzero(~rejected & unique)
            for i in index:
                ids[i] = ids[sources[int(rng.integers(0, np.searchsorted(sources, i)))]]
        else:
            apply_mistake(kind, index, ids, names, phones)
        assigned[index] = True
        if kind in REJECTED:
            rejected[index] = True
        truth.mistakes[kind] = truth.mistakes.get(kind, 0) + len(index)
    columns = [names, ids, phones, regions, works, since, forms]
    return [list(column) for column in columns], truth


def apply_mistake(
    kind: str,
    index: np.ndarray,
    ids: np.ndarray,
    names: np.ndarray,
    phones: np.ndarray,
) -> None:
    for i in index:
        number = ids[i]
        if kind == "check_digit":
            right = number[17]
            ids[i] = number[:17] + ("0" if right != "0" else "1")
        elif kind == "old_15":
            if number[6:8] == "19":
                ids[i] = number[:6] + number[8:17]
            # A number of someone born in 2000 or later has no 15-digit form: left as is.
        elif kind == "full_width":
            ids[i] = number.translate(FULL_WIDTH)
        elif kind == "lower_x":
            ids[i] = number[:17] + "x"
        elif kind == "spaces":
            ids[i] = number + "  "
        elif kind == "bad_phone":
            phones[i] = phones[i][:7]
        elif kind == "no_name":
            names[i] = ""


def write_csv(
    columns: list[list[str]], path: Path, english: bool = False, encoding: str = "utf-8"
) -> None:
    """Comma-separated, no quoting needed (no field holds a comma or a quote)."""
    headers = HEADERS_EN if english else HEADERS_ZH
    with open(path, "w", encoding=encoding, newline="") as out:
        out.write(",".join(headers) + "\n")
        rows = len(columns[0])
        step = 200_000
        for begin in range(0, rows, step):
            part = [column[begin : begin + step] for column in columns]
            out.write("\n".join(map(",".join, zip(*part, strict=True))) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--english", action="store_true", help="English headers")
    parser.add_argument("--encoding", default="utf-8", help="utf-8, utf-8-sig or gb18030")
    args = parser.parse_args(argv)
    columns, truth = generate(args.rows, args.seed)
    write_csv(columns, args.out, args.english, args.encoding)
    print(json.dumps({**asdict(truth), "accepted": truth.accepted, "rejected": truth.rejected}))


if __name__ == "__main__":
    main()


# --- screening data: the registry and five external lists, as Parquet -------------------

SCREENING_LISTS = ("minimum_living", "medical", "unemployment", "property", "vehicle")


def screening_data(
    members: int, list_rows: int, out: Path, as_of: datetime.date, seed: int = 7
) -> dict[str, list[Path]]:
    """The tables the screening rules read (``gonghui.discovery.rules.TABLES``), written
    straight to Parquet in their schemas by DuckDB: ``members`` workers (every 10th with a
    household, every 20th with a child at school, every 100th filed, every 200th of those
    above the standard for six months), and five lists of ``list_rows`` rows each, 10 % of
    them without an ID number. Deterministic for a seed; the truth is what an independent
    implementation (the pandas baseline of ``bench_screening.py``) finds on the same files.
    """
    import duckdb

    from gonghui.discovery import lists, rules

    out.mkdir(parents=True, exist_ok=True)
    n, rows_, day = int(members), int(list_rows), f"DATE '{as_of.isoformat()}'"
    pick = f"(hash(r, {seed}) % {n}) + 1"
    ident = "'34' || lpad(CAST({k} AS VARCHAR), 16, '0')"
    registry = {
        "members": f"SELECT i AS worker_id, {ident.format(k='i')} AS id_number, "
        f"1000 + i % 5000 AS organisation_id, CASE WHEN i % 10 = 0 THEN i END AS household_id "
        f"FROM range(1, {n} + 1) t(i)",
        "household_members": f"SELECT i AS household_id, i AS worker_id, {ident.format(k='i')} "
        "AS id_number, 'self' AS relation, 'none' AS schooling, NULL::DATE AS birth_date "
        f"FROM range(10, {n} + 1, 10) t(i) UNION ALL SELECT i, NULL, 'S' || i, 'spouse', 'none', "
        f"NULL FROM range(10, {n} + 1, 10) t(i) UNION ALL SELECT i, NULL, NULL, 'child', "
        f"'primary', NULL FROM range(20, {n} + 1, 20) t(i)",
        "files": "SELECT i AS file_id, i AS household_id, i AS applicant_id, 1000 + i % 5000 "
        "AS organisation_id, CASE WHEN i % 300 = 0 THEN 'closed' ELSE 'filed' END AS status "
        f"FROM range(100, {n} + 1, 100) t(i)",
        "income_readings": "SELECT i * 10 + m AS reading_id, i AS file_id, "
        f"CAST(date_trunc('month', {day}) - INTERVAL (m + 1) MONTH AS DATE) AS month, "
        "CASE WHEN i % 200 = 0 OR m < 3 THEN 90000 ELSE 50000 END AS per_capita_fen, "
        f"65000 AS standard_fen FROM range(100, {n} + 1, 100) t(i), range(0, 6) s(m)",
    }
    person = f"CASE WHEN r % 10 = 0 THEN NULL ELSE {ident.format(k=pick)} END"
    extra = {
        "minimum_living": f"68000 + r % 5 * 100 AS amount_fen, "
        f"{day} - INTERVAL 400 DAY AS start_on, "
        f"CASE WHEN r % 4 = 0 THEN {day} - INTERVAL 30 DAY END AS end_on, "
        "1 + r % 4 AS household_size",
        "medical": "(hash(r, 1) % 1500000) AS out_of_pocket_fen, "
        "(hash(r, 2) % 3000000) AS total_fen, "
        f"{day} - INTERVAL (r % 500) DAY AS paid_on, NULL AS diagnosis, NULL AS hospital",
        "unemployment": f"{day} - INTERVAL (r % 700) DAY AS registered_on, "
        f"CASE WHEN r % 4 = 0 THEN {day} - INTERVAL 10 DAY END AS ended_on",
        "property": "'地址' || r AS address, 60.5 AS area, DATE '2015-01-01' AS registered_on",
        "vehicle": "'皖A' || r AS plate, '小型汽车' AS vehicle_type, r % 10 = 1 AS disability_aid, "
        "DATE '2018-01-01' AS registered_on",
    }
    # Property and vehicles hit filed applicants on purpose (every 100th worker).
    filed_owner = "((r // {every}) % (" + str(n) + " // 100) + 1) * 100"
    repeat_owner = f"(hash(r, {seed}) % ({n} // 3 + 1)) + 1"
    owners = {
        "property": f"CASE WHEN r % 3 = 0 THEN {ident.format(k=filed_owner.format(every=3))} "
        f"ELSE {person} END",
        "vehicle": f"CASE WHEN r % 5 = 0 THEN {ident.format(k=filed_owner.format(every=5))} "
        f"ELSE {person} END",
    }
    # Medical rows repeat people (a third of the members), so sums over 12 months matter.
    owners["medical"] = f"CASE WHEN r % 10 = 0 THEN NULL ELSE {ident.format(k=repeat_owner)} END"
    con = duckdb.connect()
    found: dict[str, list[Path]] = {}
    try:
        for name, sql in registry.items():
            target = out / f"{name}.parquet"
            con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet)")
            found[name] = [target]
        for kind in lists.LIST_KINDS:
            target = out / f"list_{kind}.parquet"
            if kind in SCREENING_LISTS:
                columns = [name for name, _sql in lists.schema(kind)]
                typed = ", ".join(
                    f"CAST({name} AS {sql}) AS {name}" for name, sql in lists.schema(kind)
                )
                sql = (
                    f"SELECT {typed} FROM (SELECT 1 AS import_id, r + 2 AS row_no, "
                    f"{owners.get(kind, person)} AS id_number, NULL AS id_given, "
                    "NULL AS id_problem, "
                    "'某人' AS name, NULL AS birth_date, NULL AS phone, NULL AS region_id, "
                    f"NULL AS household_ref, {extra[kind]} FROM range(0, {rows_}) t(r))"
                )
                assert columns
                con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet)")
            else:
                lists.empty_parquet(kind, target)
            found[rules.list_table(kind)] = [target]
    finally:
        con.close()
    return found
