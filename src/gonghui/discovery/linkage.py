"""Fuzzy linkage (issue 4, point 4): link the rows of an external list that carry no or a
mistyped ID number to the workers of the registry, and find duplicate workers inside the
registry, with probabilistic (Fellegi–Sunter) linkage by Splink on DuckDB.

The steps, all in one DuckDB connection, nothing in the Django database:

1. **Features** (:func:`prepare`): each side is read (Parquet, Arrow, a DuckDB relation)
   and turned into comparable columns, set-based in SQL: the name without blanks, dots and
   full-width letters, traditional characters of common names made simplified
   (:data:`TRADITIONAL`); its pinyin without tones (so 张/章, 陈/陳, 王/汪 agree: the
   homophone surnames, traditional and simplified), computed once per *distinct character*
   with pypinyin and joined back (a million names take a second, not a minute), with the
   readings of surnames where they differ (曾 zeng, 单 shan …, :data:`SURNAME_READINGS`);
   the surname (compound surnames 欧阳, 司马 … kept whole); the given name's syllables in
   sorted order (so 王伟强 and 王强伟 agree); the birth date as ``YYYYMMDD`` and with day and
   month swapped; the phone's digits; the county code and its city prefix; the ID number's
   first 17 characters (15-digit numbers widened), its birth date and sex when no column
   gives them.
2. **Blocking** (:data:`BLOCKING`): only pairs that share a phone, a pinyin surname and a
   birth date, a pinyin name and a birth year (or month and day), a sorted given name and a
   birth date, a pinyin surname with birth year and county, or the body of an ID number are
   compared: a few pairs per list row instead of a million.
3. **Comparisons** (:func:`comparisons`): each field has levels from exact down to
   different, each level an m probability (how often a true match shows it) and a u
   probability (how often two different people do). The levels reached are the "fields that
   agreed" shown to a reviewer.
4. **Model**: either the shipped parameters (:data:`DEFAULT_LEVELS`, set from the error
   rates of real lists; what a small list or a test uses) or trained on the data
   (``train=True``): u from random sampling of pairs (non-matches, almost surely, in a large
   registry), m by expectation maximisation over two blocked samples (surname + birth
   date, which estimates name, phone, region, sex and ID; pinyin name + birth year, which
   estimates the birth date), the prior from deterministic rules. EM needs no labelled pairs;
   when reviewers have decided enough pairs, ``labels=`` estimates m from them instead (m
   from labels, u from sampling), which is the better model once labels exist.
   Everything is seeded: the same inputs and seed give the same probabilities.
5. **Decisions** (:func:`decide`): per list row, the best candidate; at or above
   ``link`` it links, between ``review`` and ``link`` — or when a second worker is nearly as
   likely — it goes to the review queue, below ``review`` nothing. Written to Parquet:
   ``links.parquet`` (decided links), ``review.parquet`` (the queue: each row's candidates,
   best first), ``pairs.parquet`` (every pair above ``keep``), and ``model.json`` (the
   Splink model, to reuse and to audit).

The same engine dedupes the registry (:func:`dedupe`): Splink's ``dedupe_only`` with the
same features, blocking and comparisons.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

SEED = 20260101
REGISTRY = "registry"
RECORDS = "records"

# Compound surnames (复姓): kept whole, so the given name is what follows.
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "皇甫", "尉迟", "公孙", "慕容", "长孙", "夏侯", "令狐",
    "宇文", "司徒", "申屠", "端木", "轩辕", "独孤", "南宫", "西门", "万俟", "闻人", "太史",
    "歐陽", "司馬", "諸葛", "長孫", "令狐", "軒轅", "獨孤", "聞人",
)  # fmt: skip

# Surnames whose reading differs from the character's common reading.
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "單": "shan", "查": "zha", "仇": "qiu", "区": "ou",
    "區": "ou", "翟": "zhai", "乐": "yue", "樂": "yue", "覃": "qin", "解": "xie", "朴": "piao",
    "盖": "ge", "蓋": "ge", "缪": "miao", "繆": "miao", "种": "chong", "種": "chong",
    "召": "shao", "秘": "bi", "折": "she", "员": "yun", "員": "yun", "尉": "yu", "长": "zhang",
    "長": "zhang", "重": "chong", "沈": "shen", "华": "hua", "華": "hua", "任": "ren",
}  # fmt: skip

# Traditional characters common in names, to simplified (the cheap part of 繁简: pinyin
# already makes the rest agree at the "same pinyin" level).
TRADITIONAL = dict(
    zip(
        "陳張劉黃趙吳孫鄭馬楊許謝韓馮鄧葉盧蔣譚陸羅鍾蘇賈錢魏孫龍萬顧歐陽諸葛長軒轅聞"
        "偉強軍傑濤輝鵬華飛凱帥陽國東鋒澤軒靜麗艷穎悅雲蘭鳳潔嬌瑤紅進寶貴興義禮達剛"
        "亞寧鑫麗愛燕勝則閻蕭薛嚴戴鄒鍾彭湯賴傅盧",
        "陈张刘黄赵吴孙郑马杨许谢韩冯邓叶卢蒋谭陆罗钟苏贾钱魏孙龙万顾欧阳诸葛长轩辕闻"
        "伟强军杰涛辉鹏华飞凯帅阳国东锋泽轩静丽艳颖悦云兰凤洁娇瑶红进宝贵兴义礼达刚"
        "亚宁鑫丽爱燕胜则阎萧薛严戴邹钟彭汤赖傅卢",
        strict=True,
    )
)
FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
HALF_WIDTH = "".join(chr(c) for c in range(0x21, 0x7F))

# Which pairs are compared at all (Splink blocking rules; ``l`` and ``r`` are the two
# records). Each catches what the others miss; together a few pairs per record.
BLOCKING = (
    "l.phone = r.phone",
    "l.surname_py = r.surname_py AND l.dob = r.dob",
    "l.name_py = r.name_py AND l.birth_year = r.birth_year",
    "l.name_py = r.name_py AND l.birth_md = r.birth_md",
    "l.given_key = r.given_key AND l.dob = r.dob",
    "l.name_py = r.name_py AND l.region4 = r.region4",
    "l.surname_py = r.surname_py AND l.birth_year = r.birth_year AND l.region = r.region",
    "substr(l.id17, 1, 14) = substr(r.id17, 1, 14)",
    "substr(l.id17, 7, 11) = substr(r.id17, 7, 11)",
)
# Blocked samples on which EM estimates m (each leaves its own fields' m unestimated).
TRAINING_BLOCKS = (
    "l.surname_py = r.surname_py AND l.dob = r.dob",
    "l.name_py = r.name_py AND l.birth_year = r.birth_year",
)
# Pairs that are matches almost surely: the prior (probability that two random records
# match) is counted from them, allowing for the matches they miss.
DETERMINISTIC = (
    "l.name_n = r.name_n AND l.dob = r.dob AND l.phone = r.phone",
    "l.id17 = r.id17",
)
DETERMINISTIC_RECALL = 0.6


@dataclass(frozen=True)
class Level:
    """One comparison level: its name (what a reviewer reads), SQL, shipped m and u."""

    name: str
    sql: str
    m: float
    u: float


def _null(*columns: str) -> str:
    return " OR ".join(f"{side}.{c} IS NULL" for c in columns for side in ("l", "r"))


# field → (columns that must be present, levels from best to worst; the last is "else").
DEFAULT_LEVELS: dict[str, tuple[tuple[str, ...], tuple[Level, ...]]] = {
    "name": (
        ("name_n",),
        (
            Level("exact", "l.name_n = r.name_n", 0.80, 0.0004),
            Level("pinyin", "l.name_py = r.name_py", 0.08, 0.0002),
            Level(
                "swapped",
                "l.surname_py = r.surname_py AND l.given_key = r.given_key",
                0.03,
                0.00003,
            ),
            Level("one_character", "damerau_levenshtein(l.name_n, r.name_n) <= 1", 0.05, 0.004),
            Level("surname", "l.surname_py = r.surname_py", 0.03, 0.035),
            Level("different", "ELSE", 0.01, 0.96),
        ),
    ),
    "birth_date": (
        ("dob",),
        (
            Level("exact", "l.dob = r.dob", 0.86, 0.00006),
            Level("swapped", "l.dob = r.dob_swapped", 0.04, 0.00003),
            Level("one_digit", "damerau_levenshtein(l.dob, r.dob) <= 1", 0.06, 0.002),
            Level("different", "ELSE", 0.04, 0.998),
        ),
    ),
    "phone": (
        ("phone",),
        (
            Level("exact", "l.phone = r.phone", 0.65, 0.00001),
            Level("one_digit", "damerau_levenshtein(l.phone, r.phone) <= 1", 0.03, 0.00001),
            Level("different", "ELSE", 0.32, 0.99998),
        ),
    ),
    "region": (
        ("region",),
        (
            Level("exact", "l.region = r.region", 0.82, 0.01),
            Level("city", "l.region4 = r.region4", 0.10, 0.08),
            Level("different", "ELSE", 0.08, 0.91),
        ),
    ),
    "sex": (
        ("sex",),
        (
            Level("exact", "l.sex = r.sex", 0.98, 0.5),
            Level("different", "ELSE", 0.02, 0.5),
        ),
    ),
    "id_number": (
        ("id17",),
        (
            Level("exact", "l.id17 = r.id17", 0.95, 0.000000001),
            Level("one_typo", "damerau_levenshtein(l.id17, r.id17) <= 1", 0.035, 0.0000001),
            Level("two_typos", "damerau_levenshtein(l.id17, r.id17) <= 2", 0.01, 0.000001),
            Level("different", "ELSE", 0.005, 0.999999),
        ),
    ),
}
FIELDS = tuple(DEFAULT_LEVELS)

# Share of list rows expected to be in the registry (the shipped prior: this share of a
# list's rows, each matching one of ``population`` workers).
EXPECTED_SHARE = 0.8
# Duplicates expected per registry worker (the shipped prior of dedupe).
EXPECTED_DUPLICATES = 0.01


@dataclass(frozen=True)
class Thresholds:
    """Match probabilities: at or above ``link`` a pair links; from ``review`` it goes to
    the review queue; a runner-up within ``margin`` (in match weight, bits) of the best
    sends the row to review too; pairs from ``keep`` are kept in ``pairs.parquet``."""

    link: float = 0.95
    review: float = 0.30
    margin: float = 3.0
    keep: float = 0.01


@dataclass
class Result:
    mode: str  # "link" or "dedupe"
    work_dir: Path
    left_rows: int = 0
    right_rows: int = 0
    pairs: int = 0  # pairs compared (after blocking)
    links: int = 0
    review: int = 0  # rows (link) or pairs (dedupe) sent to review
    seconds: dict[str, float] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def links_path(self) -> Path:
        return self.work_dir / "links.parquet"

    @property
    def review_path(self) -> Path:
        return self.work_dir / "review.parquet"

    @property
    def pairs_path(self) -> Path:
        return self.work_dir / "pairs.parquet"

    @property
    def model_path(self) -> Path:
        return self.work_dir / "model.json"


# --- features -----------------------------------------------------------------------------


def connect(memory_limit: str = "2GB", threads: int | None = None) -> Any:
    con = duckdb.connect()
    _sql(con, f"SET memory_limit = '{memory_limit}'")
    _sql(con, f"SET threads = {threads or os.cpu_count() or 1}")
    _sql(con, "SET preserve_insertion_order = false")
    return con


def _sql(con: Any, sql: str, params: Any = None) -> None:
    """Run a statement and finish its result (this DuckDB wants every result consumed
    before the next statement on the connection)."""
    con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()


def _source(con: Any, source: Any, view: str) -> list[str]:
    """A view ``view`` over ``source`` (a Parquet path, an Arrow table or a DataFrame, a
    list of dicts, or a DuckDB relation); its column names."""
    if isinstance(source, Path | str):
        path = _sql_text(str(source))
        _sql(con, f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet({path})")
    else:
        if isinstance(source, list):
            import pyarrow as pa

            source = pa.Table.from_pylist(source)
        con.register(f"{view}_input", source)
        _sql(con, f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {view}_input")
    return [row[0] for row in con.execute(f"DESCRIBE {view}").fetchall()]


def _pick(columns: Sequence[str], *names: str, cast: str = "VARCHAR") -> str:
    for name in names:
        if name in columns:
            return f"CAST({name} AS {cast})"
    return f"CAST(NULL AS {cast})"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def prepare(con: Any, source: Any, table: str, id_column: str) -> int:
    """The comparable columns of ``source`` as table ``table``; its row count.

    ``source`` has ``id_column`` (a worker's id, a list's ``row_no``) and any of ``name``,
    ``birth_date``, ``sex`` (M/F, 男/女), ``phone``, ``region`` or ``region_id`` (county
    code), ``id_number`` (and ``id_given``, the number as written when it is not valid)."""
    columns = _source(con, source, f"{table}_src")
    trad_from, trad_to = "".join(TRADITIONAL), "".join(TRADITIONAL.values())
    odd_chars = "[" + "".join(TRADITIONAL) + "\uff01-\uff5e]"
    id_raw = (
        f"coalesce(nullif(trim({_pick(columns, 'id_number')}), ''), {_pick(columns, 'id_given')})"
    )
    birth = _pick(columns, "birth_date", cast="DATE")
    _sql(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE {table}_base AS
        WITH s AS (
            SELECT CAST({id_column} AS BIGINT) AS unique_id,
                   {_pick(columns, "name")} AS name_raw, {birth} AS birth_raw,
                   {_pick(columns, "sex")} AS sex_raw, {_pick(columns, "phone")} AS phone_raw,
                   {_pick(columns, "region", "region_id")} AS region_raw, {id_raw} AS id_raw
            FROM {table}_src
        ), t AS (
            SELECT *,
                -- translate() is slow with long tables: only rows that need it.
                nullif(upper(regexp_replace(
                    CASE WHEN regexp_matches(name_raw, {_sql_text(odd_chars)})
                         THEN translate(name_raw, {_sql_text(FULL_WIDTH + trad_from)},
                                        {_sql_text(HALF_WIDTH + trad_to)})
                         ELSE name_raw END,
                    '[\\s\\x{{3000}}·•・．.\\-_]', '', 'g')), '') AS name_n,
                CASE WHEN regexp_full_match(id_raw, '[0-9]{{17}}[0-9X]') THEN id_raw
                     ELSE nullif(upper(regexp_replace(translate(id_raw,
                        '０１２３４５６７８９ｘＸ', '0123456789XX'), '\\s', '', 'g')), '')
                     END AS id_t,
                nullif(regexp_replace(translate(phone_raw, '０１２３４５６７８９',
                    '0123456789'), '[^0-9]', '', 'g'), '') AS phone_d
            FROM s
        ), u AS (
            SELECT *,
                CASE WHEN length(id_t) = 18 THEN substr(id_t, 1, 17)
                     WHEN length(id_t) = 15 AND regexp_full_match(id_t, '[0-9]{{15}}')
                         THEN substr(id_t, 1, 6) || '19' || substr(id_t, 7, 9)
                     WHEN length(id_t) = 17 THEN id_t END AS id17
            FROM t
        )
        SELECT unique_id, name_n,
            CASE WHEN list_contains({_list(COMPOUND_SURNAMES)}, substr(name_n, 1, 2))
                 AND length(name_n) > 2 THEN substr(name_n, 1, 2)
                 ELSE substr(name_n, 1, 1) END AS surname,
            coalesce(birth_raw, try_strptime(substr(id17, 7, 8), '%Y%m%d')::DATE) AS birth,
            CASE WHEN upper(trim(sex_raw)) IN ('M', '男', '1', 'MALE') THEN 'M'
                 WHEN upper(trim(sex_raw)) IN ('F', '女', '2', '0', 'FEMALE') THEN 'F'
                 WHEN regexp_full_match(substr(id17, 17, 1), '[0-9]')
                     THEN CASE WHEN CAST(substr(id17, 17, 1) AS INTEGER) % 2 = 1
                               THEN 'M' ELSE 'F' END END AS sex,
            CASE WHEN length(phone_d) = 13 AND phone_d LIKE '86%' THEN substr(phone_d, 3)
                 WHEN length(phone_d) >= 7 THEN phone_d END AS phone,
            nullif(substr(regexp_replace(region_raw, '\\s', '', 'g'), 1, 6), '') AS region,
            id17
        FROM u
        """,
    )
    _pinyin_table(con, f"{table}_base")
    _sql(
        con,
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH p AS (SELECT map(list(ch), list(py)) AS m FROM pinyin_chars),
        b AS (
            SELECT b.*, substr(b.name_n, length(b.surname) + 1) AS given
            FROM {table}_base b
        ),
        q AS (
            SELECT b.*,
                coalesce(m[surname], list_aggregate(list_transform(string_split(surname, ''),
                    lambda c: coalesce(m[c], lower(c))), 'string_agg', '')) AS surname_py,
                list_transform(string_split(given, ''), lambda c: coalesce(m[c], lower(c)))
                    AS given_syllables
            FROM b, p
        )
        SELECT unique_id, name_n, surname,
            CASE WHEN name_n IS NOT NULL THEN surname_py END AS surname_py,
            CASE WHEN name_n IS NOT NULL
                 THEN trim(surname_py || ' ' || array_to_string(given_syllables, ' '))
                 END AS name_py,
            array_to_string(given_syllables, ' ') AS given_py,
            CASE WHEN len(given_syllables) > 0
                 THEN array_to_string(list_sort(given_syllables), ' ') END AS given_key,
            strftime(birth, '%Y%m%d') AS dob,
            CASE WHEN day(birth) <= 12 AND day(birth) <> month(birth)
                 THEN strftime(make_date(year(birth), day(birth), month(birth)), '%Y%m%d')
                 END AS dob_swapped,
            year(birth) AS birth_year, strftime(birth, '%m%d') AS birth_md,
            sex, phone, region, substr(region, 1, 4) AS region4, id17
        FROM q
        """,
    )
    _sql(con, f"DROP TABLE {table}_base")
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_sql_text(v) for v in values) + "]"


def _pinyin_table(con: Any, base: str) -> None:
    """``pinyin_chars(ch, py)``: the toneless pinyin of every character the names use (and
    of the surnames, with their surname readings), grown as new tables are prepared."""
    from pypinyin import Style, lazy_pinyin

    _sql(con, "CREATE TABLE IF NOT EXISTS pinyin_chars (ch VARCHAR PRIMARY KEY, py VARCHAR)")
    chars = con.execute(
        f"SELECT DISTINCT ch FROM (SELECT unnest(string_split(name_n, '')) AS ch FROM {base}) "
        "WHERE ch NOT IN (SELECT ch FROM pinyin_chars)"
    ).fetchall()
    surnames = con.execute(
        f"SELECT DISTINCT surname FROM {base} WHERE length(surname) = 2 "
        "AND surname NOT IN (SELECT ch FROM pinyin_chars)"
    ).fetchall()
    rows: list[tuple[str, str]] = []
    for (ch,) in chars:
        rows.append((ch, SURNAME_READINGS.get(ch) or _pinyin(ch, lazy_pinyin, Style.NORMAL)))
    for (surname,) in surnames:
        rows.append((surname, "".join(_pinyin(c, lazy_pinyin, Style.NORMAL) for c in surname)))
    if rows:
        _sql(
            con,
            "INSERT INTO pinyin_chars SELECT unnest(?), unnest(?)",
            [[ch for ch, _ in rows], [py for _, py in rows]],
        )


def _pinyin(ch: str, lazy_pinyin: Any, style: Any) -> str:
    syllables = lazy_pinyin(ch, style=style, errors=lambda text: [text.lower()])
    return "".join(syllables) or ch.lower()


# Note on SURNAME_READINGS: a character in the table is read as a surname wherever it stands
# (曾 is "zeng" in a given name too). Both sides use the same table, so equal names still
# agree; only a homophone *given* character written with such a character could be missed.


# --- the Splink model ---------------------------------------------------------------------


def comparisons(
    levels: Mapping[str, tuple[tuple[str, ...], tuple[Level, ...]]] | None = None,
    fields: Sequence[str] = FIELDS,
) -> list[dict[str, Any]]:
    """Splink comparisons (as settings dicts) with the shipped m and u of each level."""
    levels = levels or DEFAULT_LEVELS
    import re

    def suffixed(sql: str) -> str:  # Splink names a pair's columns name_l, name_r
        return re.sub(r"\b([lr])\.([a-z0-9_]+)", r"\2_\1", sql)

    out = []
    for name in fields:
        required, steps = levels[name]
        items: list[dict[str, Any]] = [
            {
                "sql_condition": suffixed(_null(*required)),
                "label_for_charts": "null",
                "is_null_level": True,
            }
        ]
        for level in steps:
            items.append(
                {
                    "sql_condition": suffixed(level.sql),
                    "label_for_charts": level.name,
                    "m_probability": level.m,
                    "u_probability": level.u,
                }
            )
        out.append(
            {"output_column_name": name, "comparison_description": name,
             "comparison_levels": items}
        )  # fmt: skip
    return out


def settings(link_type: str, prior: float, fields: Sequence[str] = FIELDS) -> dict[str, Any]:
    return {
        "link_type": link_type,
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": prior,
        "comparisons": comparisons(fields=fields),
        "blocking_rules_to_generate_predictions": list(BLOCKING),
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "em_convergence": 0.0001,
        "max_iterations": 25,
    }


def _linker(con: Any, tables: Sequence[str], model: dict[str, Any]) -> Any:
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection=con)
    frames = [db_api.register(t, dataset_display_name=t) for t in tables]
    return Linker(frames if len(frames) > 1 else frames[0], model, log_level=logging.WARNING)


def _train(
    linker: Any, seed: int, u_pairs: float, labels: str | None, em_pairs: float | None
) -> None:
    training = linker.training
    training.estimate_probability_two_random_records_match(
        list(DETERMINISTIC), recall=DETERMINISTIC_RECALL
    )
    training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    if labels is not None:
        training.estimate_m_from_pairwise_labels(labels)
        return
    for rule in TRAINING_BLOCKS:
        training.estimate_parameters_using_expectation_maximisation(
            rule, max_pairs=em_pairs, estimate_without_term_frequencies=True
        )


def _fields_present(con: Any, tables: Sequence[str]) -> list[str]:
    """The fields that both sides have at all (a list without phones drops the phone)."""
    present = []
    for name, (required, _levels) in DEFAULT_LEVELS.items():
        ok = all(
            con.execute(f"SELECT count({required[0]}) FROM {t}").fetchall()[0][0] > 0
            for t in tables
        )
        if ok:
            present.append(name)
    return present


# --- running ------------------------------------------------------------------------------


def link(
    registry: Any,
    records: Any,
    work_dir: Path,
    *,
    train: bool = False,
    model: dict[str, Any] | None = None,
    population: int | None = None,
    thresholds: Thresholds = Thresholds(),
    seed: int = SEED,
    u_pairs: float = 5e6,
    em_pairs: float | None = 2e6,
    labels: Any = None,
    registry_id: str = "worker_id",
    records_id: str = "row_no",
    con: Any = None,
) -> Result:
    """Link ``records`` (a list's rows) to ``registry`` (the workers).

    ``model`` is a model saved by an earlier run (``model.json``); otherwise the shipped
    parameters, trained on the data first when ``train``. ``population`` is the number of
    workers the registry stands for (default: its rows), which sets the shipped prior: a
    test's ten workers stand for a province. ``labels`` (pairs a reviewer decided, with
    ``unique_id_l``, ``source_dataset_l``, ``unique_id_r``, ``source_dataset_r``,
    ``clerical_match_score``) make m come from them instead of EM."""
    return _run(
        "link", registry, records, work_dir, train=train, model=model,
        population=population, thresholds=thresholds, seed=seed, u_pairs=u_pairs,
        em_pairs=em_pairs, labels=labels, ids=(registry_id, records_id), con=con,
    )  # fmt: skip


def dedupe(
    registry: Any,
    work_dir: Path,
    *,
    train: bool = False,
    model: dict[str, Any] | None = None,
    population: int | None = None,
    thresholds: Thresholds = Thresholds(),
    seed: int = SEED,
    u_pairs: float = 5e6,
    em_pairs: float | None = 2e6,
    registry_id: str = "worker_id",
    con: Any = None,
) -> Result:
    """Pairs of workers in ``registry`` that are likely one person: ``links.parquet`` (at or
    above ``link``) and ``review.parquet`` (from ``review``)."""
    return _run(
        "dedupe", registry, None, work_dir, train=train, model=model,
        population=population, thresholds=thresholds, seed=seed, u_pairs=u_pairs,
        em_pairs=em_pairs, labels=None, ids=(registry_id, ""), con=con,
    )  # fmt: skip


def _run(
    mode: str,
    registry: Any,
    records: Any,
    work_dir: Path,
    *,
    train: bool,
    model: dict[str, Any] | None,
    population: int | None,
    thresholds: Thresholds,
    seed: int,
    u_pairs: float,
    em_pairs: float | None,
    labels: Any,
    ids: tuple[str, str],
    con: Any,
) -> Result:
    import time

    work_dir.mkdir(parents=True, exist_ok=True)
    own = con is None
    con = con or connect()
    result = Result(mode=mode, work_dir=work_dir)
    try:
        con.execute(f"SELECT setseed({(seed % 1000) / 1000})").fetchall()
        clock = time.perf_counter()
        result.left_rows = prepare(con, registry, REGISTRY, ids[0])
        tables = [REGISTRY]
        if mode == "link":
            result.right_rows = prepare(con, records, RECORDS, ids[1])
            tables.append(RECORDS)
        result.seconds["prepare"] = time.perf_counter() - clock

        clock = time.perf_counter()
        if model is None:
            people = population or result.left_rows
            if mode == "link":
                prior = EXPECTED_SHARE / max(people, 1)
            else:
                prior = EXPECTED_DUPLICATES * 2 / max(people - 1, 1)
            link_type = "link_only" if mode == "link" else "dedupe_only"
            model = settings(link_type, min(prior, 0.5), _fields_present(con, tables))
        linker = _linker(con, tables, model)
        if train:
            label_table = None
            if labels is not None:
                _source(con, labels, "labels_view")
                _sql(con, "CREATE OR REPLACE TABLE labels AS SELECT * FROM labels_view")
                label_table = "labels"
            _train(linker, seed, u_pairs, label_table, em_pairs)
        result.seconds["train"] = time.perf_counter() - clock

        clock = time.perf_counter()
        predictions = linker.inference.predict()
        scored = predictions.physical_name
        result.seconds["predict"] = time.perf_counter() - clock

        clock = time.perf_counter()
        result.pairs = int(con.execute(f"SELECT count(*) FROM {scored}").fetchall()[0][0])
        trained = linker.misc.save_model_to_json(out_path=None)
        trained.pop("linker_uid", None)  # random per linker: not part of the model
        result.model = trained
        result.model_path.write_text(json.dumps(trained, ensure_ascii=False, indent=1))
        labelled = _label_sql(scored, result.model, mode)
        _sql(con, f"CREATE OR REPLACE TABLE scored_pairs AS {labelled}")
        decide(con, mode, thresholds, work_dir, result)
        result.seconds["decide"] = time.perf_counter() - clock
        predictions.drop_table_from_database_and_remove_from_cache()
    finally:
        if own:
            con.close()
    return result


def _label_sql(scored: str, model: Mapping[str, Any], mode: str) -> str:
    """Pairs as (left = registry worker, right = list row or second worker), the match
    probability and weight, and per field the level reached; ``agreed`` lists the fields
    at any level better than "different"."""
    parts, agreed = [], []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        names = [
            level.get("label_for_charts", "")
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level")
        ]
        # Splink numbers the non-null levels from the last (0, "else") up.
        cases = " ".join(
            f"WHEN {len(names) - 1 - i} THEN {_sql_text(label)}" for i, label in enumerate(names)
        )
        parts.append(f"CASE gamma_{name} {cases} END AS level_{name}")
        agreed.append(f"CASE WHEN gamma_{name} > 0 THEN {_sql_text(name)} END")
    if mode == "link":
        left = f"CASE WHEN source_dataset_l = '{REGISTRY}' THEN unique_id_l ELSE unique_id_r END"
        right = f"CASE WHEN source_dataset_l = '{REGISTRY}' THEN unique_id_r ELSE unique_id_l END"
    else:
        left = "least(unique_id_l, unique_id_r)"
        right = "greatest(unique_id_l, unique_id_r)"
    return (
        f"SELECT {left} AS worker_id, {right} AS other_id, match_probability, match_weight, "
        f"list_filter([{', '.join(agreed)}], lambda x: x IS NOT NULL) AS agreed, "
        f"{', '.join(parts)} FROM {scored}"
    )


def decide(con: Any, mode: str, thresholds: Thresholds, work_dir: Path, result: Result) -> None:
    """Links, the review queue and the kept pairs, as Parquet in ``work_dir``."""
    t = thresholds
    if mode == "link":
        _sql(
            con,
            f"""
            CREATE OR REPLACE TABLE decided AS
            WITH ranked AS (
                SELECT *, row_number() OVER (PARTITION BY other_id
                        ORDER BY match_weight DESC, worker_id) AS rank,
                    max(match_weight) OVER (PARTITION BY other_id) AS best_weight
                FROM scored_pairs WHERE match_probability >= {t.keep}
            ), flags AS (
                SELECT *, count(*) FILTER (WHERE match_weight >= best_weight - {t.margin})
                        OVER (PARTITION BY other_id) AS close_rivals
                FROM ranked
            ), per_row AS (
                SELECT other_id,
                    CASE WHEN max(match_probability) >= {t.link}
                          AND max(close_rivals) = 1 THEN 'link'
                         WHEN max(match_probability) >= {t.review} THEN 'review'
                         END AS decision
                FROM flags GROUP BY other_id
            )
            SELECT f.other_id AS row_no, f.worker_id, f.rank, f.match_probability,
                   f.match_weight, f.agreed, {", ".join("f.level_" + n for n in _levels(con))},
                   p.decision
            FROM flags f JOIN per_row p USING (other_id)
            """,
        )
        link_where = "decision = 'link' AND rank = 1"
        review_where = f"decision = 'review' AND match_probability >= {t.keep}"
    else:
        _sql(
            con,
            f"""
            CREATE OR REPLACE TABLE decided AS
            SELECT worker_id, other_id AS other_worker_id, match_probability, match_weight,
                   agreed, {", ".join("level_" + n for n in _levels(con))},
                   CASE WHEN match_probability >= {t.link} THEN 'link'
                        WHEN match_probability >= {t.review} THEN 'review' END AS decision
            FROM scored_pairs WHERE match_probability >= {t.keep}
            """,
        )
        link_where = "decision = 'link'"
        review_where = "decision = 'review'"
    order = "row_no, rank" if mode == "link" else "worker_id, other_worker_id"
    for path, where in (
        (result.links_path, link_where),
        (result.review_path, review_where),
        (result.pairs_path, "TRUE"),
    ):
        partial = path.with_suffix(".partial")
        _sql(
            con,
            f"COPY (SELECT * FROM decided WHERE {where} ORDER BY {order}) TO '{partial}' "
            "(FORMAT parquet)",
        )
        os.replace(partial, path)
    result.links = int(
        con.execute(f"SELECT count(*) FROM decided WHERE {link_where}").fetchall()[0][0]
    )
    count_review = (
        "SELECT count(DISTINCT row_no) FROM decided WHERE decision = 'review'"
        if mode == "link"
        else "SELECT count(*) FROM decided WHERE decision = 'review'"
    )
    result.review = int(con.execute(count_review).fetchall()[0][0])


def _levels(con: Any) -> list[str]:
    columns = [row[0] for row in con.execute("DESCRIBE scored_pairs").fetchall()]
    return [c[len("level_") :] for c in columns if c.startswith("level_")]


def match_weight(probability: float) -> float:
    """Bits of evidence of a match probability (Splink's match weight)."""
    return math.log2(probability / (1 - probability))
