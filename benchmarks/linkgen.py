"""A registry of N workers and an external list without ID numbers, with the truth of which
list row is which worker: the input of the linkage benchmark and tests.

    .venv/bin/python benchmarks/linkgen.py --members 100000 --rows 20000 --out /tmp/link

The registry is :mod:`rostergen`'s roster with its mistakes tidied away (the rows a correct
import loads: valid ID numbers, each once), with birth date and sex from the number. The list
has ``rows`` rows: ``member_share`` of them are registry workers written the way other
agencies write people, the rest are people who are not in the registry, some of them
(``namesake_share`` of the non-members) with the name and birth date of a registry worker but
their own phone and county: the pairs that must not link. Each member row carries, at the
shares of ``NAME``, ``BIRTH``, ``PHONE`` and ``REGION``: a homophone surname (章 for 张), the
given-name characters swapped, traditional characters, a blank or full-width blank in the
name, one character changed; day and month swapped, one digit wrong, no date; another phone,
one digit wrong, none; another county of the same city, another county, none. ID numbers:
none by default; ``id_share`` of the rows carry one, ``id_typo_share`` of those mistyped.

Writes ``registry.parquet`` (worker_id, id_number, name, sex, birth_date, phone, region),
``list.parquet`` (row_no, id_number, name, birth_date, sex, phone, region) and
``truth.parquet`` (row_no, worker_id or NULL). The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import unicodedata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import rostergen  # noqa: E402

# Homophone surnames (same toneless pinyin), as clerks mishear them.
HOMOPHONES = {
    "张": "章", "章": "张", "王": "汪", "汪": "王", "李": "黎", "刘": "柳", "陈": "晨",
    "杨": "阳", "黄": "皇", "徐": "许", "许": "徐", "吴": "武", "周": "州", "林": "琳",
    "江": "姜", "姜": "江", "程": "成", "于": "余", "余": "于", "叶": "业", "卢": "陆",
    "陆": "卢", "何": "和", "朱": "诸", "胡": "湖", "郭": "国", "罗": "骆", "郑": "正",
    "梁": "良", "谢": "解", "唐": "汤", "韩": "寒", "冯": "逢", "邓": "登", "彭": "朋",
    "肖": "萧", "袁": "元", "蒋": "奖", "魏": "卫", "任": "仁", "姚": "尧", "钟": "忠",
    "谭": "潭", "方": "芳", "贾": "甲", "高": "郜", "孙": "荪", "赵": "照", "马": "玛",
}  # fmt: skip
SIMPLIFIED_TO_TRADITIONAL = dict(
    zip(
        "陈张刘黄赵吴孙郑马杨许谢韩冯邓叶卢蒋谭陆罗钟苏贾伟强军杰涛辉鹏华飞凯帅龙阳国东锋泽轩"
        "静丽艳颖悦云兰凤洁娇瑶红",
        "陳張劉黃趙吳孫鄭馬楊許謝韓馮鄧葉盧蔣譚陸羅鍾蘇賈偉強軍傑濤輝鵬華飛凱帥龍陽國東鋒澤軒"
        "靜麗艷穎悅雲蘭鳳潔嬌瑤紅",
        strict=True,
    )
)

# Shares of member rows with each change (cumulative draws; the rest unchanged).
NAME = {"homophone": 0.05, "swapped": 0.03, "traditional": 0.03, "blank": 0.03, "changed": 0.03}
BIRTH = {"swapped": 0.04, "digit": 0.05, "missing": 0.05}
PHONE = {"other": 0.25, "digit": 0.03, "missing": 0.07}
REGION = {"city": 0.08, "other": 0.04, "missing": 0.05}
SEX_KNOWN = 0.5  # share of list rows that state the sex


def registry(members: int, seed: int) -> dict[str, np.ndarray]:
    """``members`` clean workers from rostergen's roster (a few percent more generated)."""
    columns, _truth = rostergen.generate(int(members * 1.06) + 50, seed)
    names, ids, phones, regions = (np.array(columns[i], dtype=object) for i in range(4))
    ids = np.array([unicodedata.normalize("NFKC", i).strip().upper() for i in ids], dtype=object)
    ok = np.array([len(i) == 18 for i in ids]) & (names != "")
    body = np.array([i[:17] if len(i) == 18 else "0" * 17 for i in ids])
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    check = rostergen.check_digits(digits.astype(np.int64))
    ok &= check == np.array([i[17] if len(i) == 18 else "" for i in ids])
    _, first = np.unique(ids, return_index=True)
    unique = np.zeros(len(ids), dtype=bool)
    unique[first] = True
    keep = np.flatnonzero(ok & unique)[:members]
    if len(keep) < members:
        raise SystemExit(f"only {len(keep)} clean rows; generate more")
    ids, names, phones, regions = ids[keep], names[keep], phones[keep], regions[keep]
    phones = np.array([p if len(p) == 11 else None for p in phones], dtype=object)
    births = np.array(
        [datetime.date(int(i[6:10]), int(i[10:12]), int(i[12:14])) for i in ids], dtype=object
    )
    sexes = np.array(["M" if int(i[16]) % 2 else "F" for i in ids], dtype=object)
    return {
        "worker_id": np.arange(1, members + 1, dtype=np.int64),
        "id_number": ids,
        "name": names,
        "sex": sexes,
        "birth_date": births,
        "phone": phones,
        "region": regions,
    }


def _pick(rng: np.random.Generator, shares: dict[str, float]) -> str:
    draw, edge = rng.random(), 0.0
    for kind, share in shares.items():
        edge += share
        if draw < edge:
            return kind
    return "same"


def change_name(name: str, kind: str, rng: np.random.Generator, pool: str) -> str:
    surname, given = name[0], name[1:]
    if kind == "homophone" and surname in HOMOPHONES:
        return HOMOPHONES[surname] + given
    if kind == "swapped" and len(given) == 2 and given[0] != given[1]:
        return surname + given[::-1]
    if kind == "traditional":
        return "".join(SIMPLIFIED_TO_TRADITIONAL.get(c, c) for c in name)
    if kind == "blank":
        return surname + ("　" if rng.random() < 0.5 else " ") + given
    if kind == "changed" and given:
        at = int(rng.integers(0, len(given)))
        other = pool[int(rng.integers(0, len(pool)))]
        return surname + given[:at] + other + given[at + 1 :]
    return name


def change_birth(birth: datetime.date, kind: str, rng: np.random.Generator) -> datetime.date | None:
    if kind == "missing":
        return None
    if kind == "swapped" and birth.day <= 12 and birth.day != birth.month:
        return datetime.date(birth.year, birth.day, birth.month)
    if kind == "digit":
        text = birth.strftime("%Y%m%d")
        for _ in range(20):
            at = int(rng.integers(2, 8))
            changed = text[:at] + str(int(rng.integers(0, 10))) + text[at + 1 :]
            try:
                day = datetime.datetime.strptime(changed, "%Y%m%d").date()
            except ValueError:
                continue
            if day != birth and 1940 <= day.year <= 2010:
                return day
    return birth


def new_phone(rng: np.random.Generator) -> str:
    prefixes = rostergen.MOBILE_PREFIXES
    return f"{prefixes[int(rng.integers(0, len(prefixes)))]}{int(rng.integers(0, 10**8)):08d}"


def change_phone(phone: str | None, kind: str, rng: np.random.Generator) -> str | None:
    if kind == "missing" or phone is None:
        return None
    if kind == "other":
        return new_phone(rng)
    if kind == "digit":
        at = int(rng.integers(3, 11))
        digit = str((int(phone[at]) + int(rng.integers(1, 10))) % 10)
        return phone[:at] + digit + phone[at + 1 :]
    return phone


def change_region(
    region: str, kind: str, rng: np.random.Generator, by_city: dict[str, list[str]], all_: list
) -> str | None:
    if kind == "missing":
        return None
    if kind == "city":
        near = [r for r in by_city[region[:4]] if r != region]
        return near[int(rng.integers(0, len(near)))] if near else region
    if kind == "other":
        return all_[int(rng.integers(0, len(all_)))]
    return region


def generate(
    members: int,
    rows: int,
    seed: int = 20260101,
    member_share: float = 0.8,
    namesake_share: float = 0.1,
    id_share: float = 0.0,
    id_typo_share: float = 0.5,
) -> tuple[dict[str, np.ndarray], dict[str, list], list[int | None]]:
    """(registry columns, list columns, truth: the worker id of each list row or None)."""
    from gonghui.demo.names import FEMALE_CHARS, MALE_CHARS

    reg = registry(members, seed)
    rng = np.random.default_rng(seed + 1)
    regions = sorted(set(reg["region"]))
    by_city: dict[str, list[str]] = {}
    for code in regions:
        by_city.setdefault(code[:4], []).append(code)

    in_list = round(rows * member_share)
    chosen = rng.choice(members, size=in_list, replace=False)
    outsiders = rows - in_list
    namesakes = round(outsiders * namesake_share)
    others = registry(outsiders - namesakes + 10, seed + 7)

    out: dict[str, list] = {k: [] for k in ("id_number", "name", "birth_date", "sex", "phone")}
    out["region"] = []
    truth: list[int | None] = []

    def add(idn, name, birth, sex, phone, region, worker):
        if rng.random() < id_share and idn is not None:
            if rng.random() < id_typo_share:
                at = int(rng.integers(0, 18))
                idn = (
                    idn[:at] + str((int(idn[at]) + 1) % 10 if idn[at] != "X" else 0) + idn[at + 1 :]
                )
        else:
            idn = None
        out["id_number"].append(idn)
        out["name"].append(name)
        out["birth_date"].append(birth)
        out["sex"].append(sex if rng.random() < SEX_KNOWN else None)
        out["phone"].append(phone)
        out["region"].append(region)
        truth.append(worker)

    for index in chosen:
        sex = reg["sex"][index]
        pool = MALE_CHARS if sex == "M" else FEMALE_CHARS
        add(
            reg["id_number"][index],
            change_name(reg["name"][index], _pick(rng, NAME), rng, pool),
            change_birth(reg["birth_date"][index], _pick(rng, BIRTH), rng),
            sex,
            change_phone(reg["phone"][index], _pick(rng, PHONE), rng),
            change_region(reg["region"][index], _pick(rng, REGION), rng, by_city, regions),
            int(reg["worker_id"][index]),
        )
    for index in rng.choice(members, size=namesakes, replace=False):
        # Another person: same name, birth date and sex, own phone and county elsewhere.
        region = reg["region"][index]
        elsewhere = [r for r in regions if r[:4] != region[:4]]
        add(
            None,
            reg["name"][index],
            reg["birth_date"][index],
            reg["sex"][index],
            new_phone(rng),
            elsewhere[int(rng.integers(0, len(elsewhere)))],
            None,
        )
    for index in range(outsiders - namesakes):
        add(
            others["id_number"][index],
            others["name"][index],
            others["birth_date"][index],
            others["sex"][index],
            others["phone"][index],
            others["region"][index],
            None,
        )
    order = rng.permutation(rows)
    listing = {key: [values[i] for i in order] for key, values in out.items()}
    listing = {"row_no": list(range(1, rows + 1)), **listing}
    return reg, listing, [truth[i] for i in order]


def write(out: Path, reg: dict[str, np.ndarray], listing: dict[str, list], truth: list) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({k: list(v) for k, v in reg.items()}), out / "registry.parquet")
    pq.write_table(pa.table(listing), out / "list.parquet")
    pq.write_table(
        pa.table({"row_no": listing["row_no"], "worker_id": pa.array(truth, pa.int64())}),
        out / "truth.parquet",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--id-share", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    reg, listing, truth = generate(args.members, args.rows, args.seed, id_share=args.id_share)
    write(args.out, reg, listing, truth)
    members = sum(1 for t in truth if t is not None)
    print(json.dumps({"members": args.members, "rows": args.rows, "in_registry": members}))


if __name__ == "__main__":
    main()
