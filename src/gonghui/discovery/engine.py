"""The roster engine: read a CSV or XLSX file, check every row set-based in DuckDB, find the
duplicates, and write the accepted rows to Parquet (the analytical store) and the refused
ones, each with its reason, beside them.

Nothing here touches the Django database: the caller hands in what the checks need (the
regions, the organisations a row may name, a file of the ID numbers already registered),
so the same code runs in the service, the benchmark and the tests.

The ID-number rules are those of :mod:`gonghui.people.idnumber`, written once more in SQL
so that five million rows are checked in seconds (``tests/test_discovery_sql.py`` holds
the two to the same answers):

- tidy: :func:`idnumber.tidy` itself (a Python function in DuckDB), called only for the
  few values that are not already 17 digits and a digit or X;
- then, in this order, the first failing rule is the row's reason: 18 characters;
  17 digits and a digit or X; a real date of birth; born 1900 or later and not in the
  future; a birth-place code in use in the birth year (stdnum's GB/T 2260 history,
  the table ``stdnum.cn.ric`` checks against); the GB 11643 check digit.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import functools
import io
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.utils.translation import gettext as _
from duckdb.sqltypes import VARCHAR

from gonghui.errors import DomainError
from gonghui.people import idnumber

from .choices import RosterField
from .columns import map_headers

Progress = Callable[[str, int, int], None]

SAMPLE_BYTES = 1 << 20
COPY_BYTES = 8 << 20
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
PHONE_PATTERN = "(1[3-9][0-9]{9}|0[0-9]{2,3}[0-9]{7,8})"

# Employment forms as rosters write them, to the codes of people.choices.EmploymentForm.
FORMS = {
    "standard": "standard", "标准就业": "standard", "全日制": "standard", "正式": "standard",
    "flexible": "flexible", "灵活就业": "flexible", "courier": "courier", "快递员": "courier",
    "快递": "courier", "food_delivery": "food_delivery", "外卖骑手": "food_delivery",
    "外卖": "food_delivery", "ride_hailing": "ride_hailing", "网约车司机": "ride_hailing",
    "网约车": "ride_hailing", "truck_driver": "truck_driver", "货车司机": "truck_driver",
    "home_service": "home_service", "家政服务员": "home_service", "家政": "home_service",
    "migrant": "migrant", "农民工": "migrant", "unemployed": "unemployed", "失业": "unemployed",
}  # fmt: skip

DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"]


@dataclass
class Reference:
    """What the row checks need from the registry."""

    today: datetime.date
    default_organisation: int
    organisations: Sequence[tuple[int, str]] = ()  # (id, name) a row may name
    regions: Sequence[str] = ()  # residence codes the registry knows
    registry_ids: Path | None = None  # one ID number per line: already registered


@dataclass
class Prepared:
    csv_path: Path
    file_format: str
    encoding: str
    headers: list[str]
    delimiter: str


@dataclass
class StageResult:
    file_format: str
    encoding: str
    columns: dict[str, str]
    ignored: list[str]
    headers: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_existing: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def accepted_path(work_dir: Path) -> Path:
    return work_dir / "accepted.parquet"


def rejected_path(work_dir: Path) -> Path:
    return work_dir / "rejected.parquet"


# --- reading the file ---------------------------------------------------------------------


def prepare(path: Path, work_dir: Path, progress: Progress | None = None) -> Prepared:
    """A UTF-8 CSV DuckDB can read, whatever came in: the file itself when it is UTF-8
    CSV, otherwise a converted copy in ``work_dir``."""
    size = path.stat().st_size
    if size == 0:
        raise DomainError(_("The file is empty."), field="file")
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return _from_xlsx(path, work_dir, progress)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DomainError(
            _("This is an old Excel (.xls) file; save it as .xlsx or CSV and upload it again."),
            field="file",
        )
    encoding = detect_encoding(head, complete=size <= SAMPLE_BYTES)
    csv_path = path
    if encoding == "gb18030":
        csv_path = work_dir / "input.csv"
        _transcode(path, csv_path, size, progress)
    headers, delimiter = _header(csv_path)
    return Prepared(csv_path, "csv", encoding, headers, delimiter)


def detect_encoding(head: bytes, complete: bool) -> str:
    """utf-8 or gb18030 (which covers GBK and GB2312), judged on the first megabyte."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DomainError(
            _(
                "The file is in UTF-16 or is not a text file. Save it as CSV in UTF-8 "
                "or GBK, or as XLSX."
            ),
            field="file",
        )
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
        except UnicodeDecodeError:
            continue
        return encoding
    raise DomainError(
        _(
            "The file is neither UTF-8 nor GBK/GB18030 text. Save it as CSV in UTF-8 or GBK, "
            "or as XLSX."
        ),
        field="file",
    )


def _transcode(source: Path, target: Path, size: int, progress: Progress | None) -> None:
    decoder = codecs.getincrementaldecoder("gb18030")()
    done = 0
    with open(source, "rb") as read, open(target, "w", encoding="utf-8", newline="") as write:
        while block := read.read(COPY_BYTES):
            try:
                write.write(decoder.decode(block))
            except UnicodeDecodeError as exc:
                raise DomainError(
                    _(
                        "The file is not valid GBK/GB18030 text near byte %(offset)d. Save it "
                        "as CSV in UTF-8 or GBK, or as XLSX."
                    )
                    % {"offset": done + exc.start},
                    field="file",
                ) from None
            done += len(block)
            if progress:
                progress("reading", done, size)
        write.write(decoder.decode(b"", final=True))


def _header(csv_path: Path) -> tuple[list[str], str]:
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        line = handle.readline()
    if not line.strip():
        raise DomainError(_("The file is empty: its first line holds no headers."), field="file")
    delimiter = max(",\t;|", key=line.count)
    headers = next(csv.reader([line], delimiter=delimiter))
    return [h.strip() for h in headers], delimiter


def _from_xlsx(path: Path, work_dir: Path, progress: Progress | None) -> Prepared:
    """The first sheet as a UTF-8 CSV.

    Read with calamine (Rust) rather than openpyxl's read-only mode: on this machine it reads
    a roster sheet 9 times faster (103,000 against 11,000 rows/s at 300,000 rows;
    benchmarks/bench_xlsx.py), so a full sheet of 1,048,576 rows takes seconds, not minutes.
    It holds the sheet in memory, which Excel's row limit keeps to a few hundred MB."""
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    except CalamineError as exc:
        raise DomainError(
            _("The file could not be read as an XLSX workbook (%(error)s).") % {"error": exc},
            field="file",
        ) from None
    target = work_dir / "input.csv"
    rows, total = 0, sheet.height
    with open(target, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for row in sheet.iter_rows():
            writer.writerow([_cell(value) for value in row])
            rows += 1
            if progress and rows % 50_000 == 0:
                progress("reading", rows, total)
    if rows == 0:
        raise DomainError(_("The file is empty."), field="file")
    headers, _delimiter = _header(target)
    return Prepared(target, "xlsx", "xlsx", headers, ",")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        # An ID number typed as a number keeps only 15 significant digits in Excel: shown
        # as it is, it fails the check digit with a message rather than loading wrongly.
        return str(int(value))
    return str(value)


# --- checking the rows --------------------------------------------------------------------


def connect(work_dir: Path, memory_limit: str = "4GB", threads: int | None = None) -> Any:
    """DuckDB in memory; beyond ``memory_limit`` it spills to ``work_dir/spill`` (about
    1.8 GB of checked rows at five million rows: 4 GB keeps that in memory)."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{work_dir / 'spill'}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    define_macros(con)
    return con


def check_sum_sql(body: str) -> str:
    """Σ digit × weight of a 17-digit number held as a BIGINT, in integer arithmetic."""
    terms = [f"({body} // {10 ** (16 - i)} % 10) * {w}" for i, w in enumerate(WEIGHTS)]
    return " + ".join(terms)


def tidy_phone(raw: str) -> str:
    """The normalisation of :func:`idnumber.validate_phone`, without its verdict."""
    return idnumber.normalise(raw).lstrip("+").removeprefix("86")


def define_macros(con: Any) -> None:
    con.execute(
        "CREATE OR REPLACE MACRO gb_check(body) AS "
        f"substr('10X98765432', CAST(({check_sum_sql('body')}) % 11 AS INTEGER) + 1, 1)"
    )
    # Values that are not already clean (a few in a hundred) are tidied by the very
    # functions the forms use: full-width characters, blanks, x, old 15-digit numbers.
    con.create_function("py_tidy_id", idnumber.tidy, [VARCHAR], VARCHAR, side_effects=False)
    con.create_function("py_tidy_phone", tidy_phone, [VARCHAR], VARCHAR, side_effects=False)


def birth_places_table(con: Any, last_year: int) -> None:
    columns = ["code INTEGER", "a1 SMALLINT", "b1 SMALLINT", "a2 SMALLINT", "b2 SMALLINT"]
    fill(con, "birth_places", columns, birth_place_years(last_year))


@functools.cache
def birth_place_years(last_year: int) -> list[tuple[int, int, int, int | None, int | None]]:
    """``(code, first, last, first, last)``: every birth-place code stdnum knows, with the
    (at most two) ranges of years from 1900 in which it was in use — a code can lapse and
    come back, so one range per code would not do."""
    from stdnum import numdb

    from gonghui.organisations.regions import parse_spans

    rows: list[tuple[int, int, int, int | None, int | None]] = []
    for _len, province, _hi, _props, children in numdb.get("cn/loc").prefixes:
        for _l2, rest, _h2, props, _c in children:
            if "county" not in props:
                continue
            spans = parse_spans(props["county"])
            years = [y for y in range(1900, last_year + 1) if any(s.covers(y) for s in spans)]
            ranges: list[list[int]] = []
            for year in years:
                if ranges and ranges[-1][1] == year - 1:
                    ranges[-1][1] = year
                else:
                    ranges.append([year, year])
            if not ranges:
                continue
            if len(ranges) > 2:
                raise ValueError(f"{province}{rest} is in use in more than two ranges of years")
            (a1, b1), (a2, b2) = ranges[0], (ranges[1] if len(ranges) == 2 else (None, None))
            rows.append((int(province + rest), a1, b1, a2, b2))
    return rows


def fill(con: Any, table: str, columns: list[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """A small temporary table from Python rows, in one statement (unnest of lists)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({', '.join(columns)})")
    if rows:
        lists = [list(values) for values in zip(*rows, strict=True)]
        unnests = ", ".join(["unnest(?)"] * len(columns))
        con.execute(f"INSERT INTO {table} SELECT {unnests}", lists)


def reference_tables(con: Any, ref: Reference) -> None:
    birth_places_table(con, ref.today.year)
    fill(con, "residence", ["code VARCHAR"], [(c,) for c in ref.regions])
    keys: dict[str, set[int]] = {}
    for pk, name in ref.organisations:
        keys.setdefault(str(pk), set()).add(pk)
        keys.setdefault(name.strip(), set()).add(pk)
    orgs = [(key, min(ids), len(ids)) for key, ids in keys.items()]
    fill(con, "orgs", ["key VARCHAR", "org_id BIGINT", "n INT"], orgs)
    fill(con, "forms", ["key VARCHAR", "code VARCHAR"], list(FORMS.items()))
    if ref.registry_ids is not None and ref.registry_ids.stat().st_size:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE registry AS SELECT DISTINCT id_number FROM "
            "read_csv(?, header=false, columns={'id_number': 'VARCHAR'}, auto_detect=false)",
            [str(ref.registry_ids)],
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE registry (id_number VARCHAR)")


def _column(found: Mapping[str, int], name: str) -> str:
    return f"c{found[name]}" if name in found else "NULL"


def csv_source(prepared: Prepared) -> tuple[str, list[Any]]:
    """The ``read_csv`` call for the prepared file: every column text, no guessing."""
    columns = {f"c{i}": "VARCHAR" for i in range(len(prepared.headers))}
    sql = (
        "read_csv(?, header=false, skip=1, delim=?, quote='\"', escape='\"', columns=?, "
        "auto_detect=false, null_padding=true, strict_mode=false, encoding='utf-8')"
    )
    return sql, [str(prepared.csv_path), prepared.delimiter, columns]


def _read_error(exc: Exception) -> str:
    text = str(exc)
    line = re.search(r"[Ll]ine:? ?(\d+)", text)
    where = _(" (near line %(line)s)") % {"line": line.group(1)} if line else ""
    if "unicode" in text.lower() or "utf" in text.lower():
        return _(
            "The file is not valid UTF-8 text%(where)s. Save it as CSV in UTF-8 or GBK, or as XLSX."
        ) % {"where": where}
    return _("The file could not be read as CSV%(where)s: %(error)s") % {
        "where": where,
        "error": text.splitlines()[0][:200],
    }


CHECK_SQL = """
CREATE OR REPLACE TABLE checked AS
WITH src AS (
    -- The row number as a spreadsheet shows it: the header is row 1. (``raw`` keeps the
    -- file's order; row_number() OVER () on the reader would run on one thread only.)
    SELECT rowid + 2 AS row_no,
        {id} AS id_raw, {name} AS name_raw, {phone} AS phone_raw, {region} AS region_raw,
        {employer} AS employer_raw, {organisation} AS org_raw, {since} AS since_raw,
        {form} AS form_raw
    FROM raw
), casted AS (
    SELECT *,
        TRY_CAST(substr(id_raw, 1, 17) AS BIGINT) AS body0,
        TRY_CAST(phone_raw AS BIGINT) AS phone_number
    FROM src
), clean AS (
    -- A clean ID number is 17 digits and a digit or X: a 17-character prefix that casts to
    -- at least 10^16 and prints back the same (the cast accepts 1e5 and 1_000) is digits.
    SELECT *,
        coalesce(length(id_raw) = 18 AND body0 >= 10000000000000000
            AND CAST(body0 AS VARCHAR) = substr(id_raw, 1, 17)
            AND (substr(id_raw, 18, 1) = 'X' OR substr(id_raw, 18, 1) BETWEEN '0' AND '9'),
            false) AS clean_id,
        coalesce(length(phone_raw) = 11
            AND phone_number BETWEEN 13000000000 AND 19999999999, false) AS clean_phone
    FROM casted
), tidied AS (
    -- Most values are already clean: the tidying (idnumber.tidy itself) runs on the others.
    SELECT *,
        CASE WHEN clean_id THEN id_raw ELSE coalesce(py_tidy_id(id_raw), '') END AS idn,
        CASE WHEN clean_phone THEN phone_raw
            ELSE coalesce(py_tidy_phone(phone_raw), '') END AS phone,
        CASE WHEN contains(name_raw, '　') THEN trim(replace(name_raw, '　', ' '))
            ELSE trim(coalesce(name_raw, '')) END AS name,
        trim(coalesce(region_raw, '')) AS region_code,
        trim(coalesce(employer_raw, '')) AS employer,
        trim(coalesce(org_raw, '')) AS org_key,
        trim(coalesce(since_raw, '')) AS since_text,
        lower(trim(coalesce(form_raw, ''))) AS form_key
    FROM clean
), parsed AS (
    SELECT *,
        CASE WHEN clean_id THEN true
            ELSE regexp_full_match(idn, '[0-9]{{17}}[0-9X]') END AS id_shape,
        CASE WHEN clean_phone THEN true
            WHEN phone = '' THEN NULL
            ELSE regexp_full_match(phone, '{phone_pattern}') END AS phone_ok,
        CASE WHEN since_text <> '' THEN
            CAST(try_strptime(since_text, {date_formats}) AS DATE) END AS since
    FROM tidied
), bodied AS (
    SELECT *, CASE WHEN clean_id THEN body0
        WHEN id_shape THEN CAST(substr(idn, 1, 17) AS BIGINT) END AS body
    FROM parsed
), dated AS (
    SELECT *,
        CAST(body // 10000000 % 10000 AS INTEGER) AS birth_year,
        try(make_date(CAST(body // 10000000 % 10000 AS INTEGER),
                      CAST(body // 100000 % 100 AS INTEGER),
                      CAST(body // 1000 % 100 AS INTEGER))) AS birth_date
    FROM bodied
), judged AS (
    SELECT d.*, {org_id} AS org_id, {org_n} AS org_n, {form_code} AS form_code,
        CASE
            WHEN d.idn = '' THEN 'id_missing'
            WHEN length(d.idn) <> 18 THEN 'id_length'
            WHEN NOT d.id_shape THEN 'id_format'
            WHEN d.birth_date IS NULL THEN 'id_birth_date'
            WHEN d.birth_date > DATE '{today}' OR d.birth_year < 1900
                THEN 'id_birth_impossible'
            WHEN p.code IS NULL OR NOT (d.birth_year BETWEEN p.a1 AND p.b1
                OR coalesce(d.birth_year BETWEEN p.a2 AND p.b2, false)) THEN 'id_region'
            WHEN substr(d.idn, 18, 1) <> gb_check(d.body) THEN 'id_check_digit'
            WHEN d.name = '' THEN 'name_missing'
            WHEN length(d.name) > 64 THEN 'name_long'
            WHEN NOT d.phone_ok THEN 'phone'
            WHEN d.region_code <> '' AND {region_known} IS NULL THEN 'region_unknown'
            WHEN d.org_key <> '' AND {org_id} IS NULL THEN 'organisation_unknown'
            WHEN d.org_key <> '' AND {org_n} > 1 THEN 'organisation_ambiguous'
            WHEN d.since_text <> '' AND d.since IS NULL THEN 'since_invalid'
            WHEN d.since > DATE '{today}' THEN 'since_future'
            WHEN d.form_key <> '' AND {form_code} IS NULL THEN 'form_unknown'
            WHEN length(d.employer) > 128 THEN 'employer_long'
        END AS reason
    FROM dated d
    LEFT JOIN birth_places p ON p.code = CAST(d.body // 100000000000 AS INTEGER)
    {joins}
)
SELECT row_no, idn AS id_number, name, phone, birth_date,
    CASE WHEN body % 2 = 1 THEN 'M' ELSE 'F' END AS sex,
    nullif(region_code, '') AS region_id,
    coalesce(org_id, {default_org}) AS organisation_id,
    employer, coalesce(since, DATE '{today}') AS since,
    coalesce(form_code, 'standard') AS employment_form,
    reason,
    CASE WHEN reason = 'id_check_digit' THEN gb_check(body)
        WHEN reason = 'id_length' THEN CAST(length(idn) AS VARCHAR)
        WHEN reason = 'id_birth_date' THEN substr(idn, 7, 8)
        WHEN reason = 'id_birth_impossible' THEN CAST(birth_date AS VARCHAR)
        WHEN reason = 'id_region' THEN substr(idn, 1, 6) || ' ' || CAST(birth_year AS VARCHAR)
        WHEN reason = 'region_unknown' THEN region_code
        WHEN reason IN ('organisation_unknown', 'organisation_ambiguous') THEN org_key
        WHEN reason IN ('since_invalid', 'since_future') THEN since_text
        WHEN reason = 'form_unknown' THEN form_key
    END AS detail,
    CASE WHEN reason IS NOT NULL THEN {raw_list} END AS raw
FROM judged
"""

# Which field each reason is about (the rejected file names it by the file's own header).
REASON_FIELD = {
    "id_missing": RosterField.ID_NUMBER, "id_length": RosterField.ID_NUMBER,
    "id_format": RosterField.ID_NUMBER, "id_birth_date": RosterField.ID_NUMBER,
    "id_birth_impossible": RosterField.ID_NUMBER, "id_region": RosterField.ID_NUMBER,
    "id_check_digit": RosterField.ID_NUMBER, "duplicate": RosterField.ID_NUMBER,
    "name_missing": RosterField.NAME, "name_long": RosterField.NAME,
    "phone": RosterField.PHONE, "region_unknown": RosterField.REGION,
    "organisation_unknown": RosterField.ORGANISATION,
    "organisation_ambiguous": RosterField.ORGANISATION,
    "since_invalid": RosterField.MEMBER_SINCE, "since_future": RosterField.MEMBER_SINCE,
    "form_unknown": RosterField.EMPLOYMENT_FORM, "employer_long": RosterField.EMPLOYER,
}  # fmt: skip

ACCEPTED_COLUMNS = (
    "row_no, id_number, name, sex, birth_date, phone, region_id, organisation_id, employer, "
    "since, employment_form"
)


def check(
    con: Any,
    prepared: Prepared,
    found: Mapping[str, int],
    ref: Reference,
    keep_raw: bool = False,
) -> None:
    """Build ``checked``: one row per file row, tidied values and the first reason to refuse
    (with the row as it was written, for the refused ones). ``keep_raw`` leaves the table
    ``raw`` (every column as text, ``rowid + 2`` = ``row_no``) for a caller that reads more
    columns than a roster has (the external lists)."""
    source, params = csv_source(prepared)
    # Only the lookups a mapped column needs: each join costs a pass over every row.
    joins, lookups = [], {}
    for name, join, columns in LOOKUPS:
        if name in found:
            joins.append(join)
            lookups.update(columns)
        else:
            lookups.update(dict.fromkeys(columns, "NULL"))
    in_order = sorted(found, key=found.__getitem__)
    sql = CHECK_SQL.format(
        joins="\n    ".join(joins),
        raw_list="[" + ", ".join(RAW_ALIAS[name] for name in in_order) + "]",
        **lookups,
        id=_column(found, RosterField.ID_NUMBER),
        name=_column(found, RosterField.NAME),
        phone=_column(found, RosterField.PHONE),
        region=_column(found, RosterField.REGION),
        employer=_column(found, RosterField.EMPLOYER),
        organisation=_column(found, RosterField.ORGANISATION),
        since=_column(found, RosterField.MEMBER_SINCE),
        form=_column(found, RosterField.EMPLOYMENT_FORM),
        default_org=int(ref.default_organisation),
        today=ref.today.isoformat(),
        phone_pattern=PHONE_PATTERN,
        date_formats="[" + ", ".join(f"'{f}'" for f in DATE_FORMATS) + "]",
    )
    try:
        con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT * FROM {source}", params)
    except duckdb.InvalidInputException as exc:
        raise DomainError(_read_error(exc), field="file") from None
    con.execute(sql)
    if not keep_raw:
        con.execute("DROP TABLE raw")


RAW_ALIAS: dict[str, str] = {
    RosterField.ID_NUMBER: "id_raw", RosterField.NAME: "name_raw",
    RosterField.PHONE: "phone_raw", RosterField.REGION: "region_raw",
    RosterField.EMPLOYER: "employer_raw", RosterField.ORGANISATION: "org_raw",
    RosterField.MEMBER_SINCE: "since_raw", RosterField.EMPLOYMENT_FORM: "form_raw",
}  # fmt: skip
LOOKUPS = (
    (RosterField.REGION, "LEFT JOIN residence r ON r.code = d.region_code",
     {"region_known": "r.code"}),
    (RosterField.ORGANISATION, "LEFT JOIN orgs o ON o.key = d.org_key",
     {"org_id": "o.org_id", "org_n": "o.n"}),
    (RosterField.EMPLOYMENT_FORM, "LEFT JOIN forms f ON f.key = d.form_key",
     {"form_code": "f.code"}),
)  # fmt: skip


# A row's fate once ``repeats`` (numbers that pass every check more than once, with their
# first row) and ``registry`` (numbers already registered) are known.
FATE_SQL = """
    CASE WHEN c.reason IS NOT NULL THEN 'rejected'
        WHEN k.first_row IS NOT NULL AND k.first_row <> c.row_no THEN 'duplicate'
        WHEN g.id_number IS NOT NULL THEN 'existing'
        ELSE 'accepted' END
"""
FATE_FROM = """
    FROM checked c
    LEFT JOIN repeats k ON k.id_number = c.id_number AND c.reason IS NULL
    LEFT JOIN registry g ON g.id_number = c.id_number AND c.reason IS NULL
"""


def dedupe(con: Any) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE repeats AS SELECT id_number, min(row_no) AS first_row "
        "FROM checked WHERE reason IS NULL GROUP BY id_number HAVING count(*) > 1"
    )


def write_outputs(con: Any, work_dir: Path) -> None:
    """The accepted rows to Parquet (in no particular order: the loader sorts by row), the
    refused and duplicate rows, with their reason, beside them. Each file appears whole or
    not at all (written under another name, then renamed)."""
    target = accepted_path(work_dir)
    con.execute(
        f"COPY (SELECT {', '.join('c.' + n for n in ACCEPTED_COLUMNS.split(', '))} {FATE_FROM} "
        f"WHERE {FATE_SQL} = 'accepted') TO '{target.with_suffix('.partial')}' "
        "(FORMAT parquet, ROW_GROUP_SIZE 122880)"
    )
    os.replace(target.with_suffix(".partial"), target)
    refused = rejected_path(work_dir)
    con.execute(
        "COPY (SELECT c.row_no, coalesce(c.reason, 'duplicate') AS reason, c.detail, "
        "k.first_row, c.id_number, c.name, c.phone, c.raw "
        f"{FATE_FROM} WHERE {FATE_SQL} IN ('rejected', 'duplicate') ORDER BY c.row_no) "
        f"TO '{refused.with_suffix('.partial')}' (FORMAT parquet)"
    )
    os.replace(refused.with_suffix(".partial"), refused)


def count(con: Any, result: StageResult) -> None:
    fates = dict(
        con.execute(f"SELECT {FATE_SQL} AS fate, count(*) {FATE_FROM} GROUP BY fate").fetchall()
    )
    result.rows_accepted = fates.get("accepted", 0)
    result.rows_rejected = fates.get("rejected", 0)
    result.rows_duplicate = fates.get("duplicate", 0)
    result.rows_existing = fates.get("existing", 0)
    result.rows_read = sum(fates.values())
    reasons = con.execute(
        "SELECT reason, count(*) FROM checked WHERE reason IS NOT NULL GROUP BY reason"
    ).fetchall()
    result.reasons = dict(reasons)
    if result.rows_duplicate:
        result.reasons["duplicate"] = result.rows_duplicate


def stage(
    path: Path,
    work_dir: Path,
    saved_mapping: Mapping[str, str],
    ref: Reference,
    progress: Progress | None = None,
    memory_limit: str = "4GB",
    threads: int | None = None,
) -> StageResult:
    """Read, check and dedupe ``path``; write ``accepted.parquet`` and ``rejected.parquet``
    in ``work_dir``. Raises :class:`DomainError` for a file that cannot be read at all."""
    work_dir.mkdir(parents=True, exist_ok=True)
    prepared = prepare(path, work_dir, progress)
    found, ignored = map_headers(prepared.headers, saved_mapping)
    result = StageResult(
        file_format=prepared.file_format,
        encoding=prepared.encoding,
        columns={name: prepared.headers[index] for name, index in found.items()},
        ignored=ignored,
        headers=[prepared.headers[i] for i in sorted(found.values())],
    )
    steps: list[tuple[str, Callable[[], None]]] = []
    con = connect(work_dir, memory_limit, threads)
    try:
        steps = [
            ("reference", lambda: reference_tables(con, ref)),
            ("check", lambda: check(con, prepared, found, ref)),
            ("dedupe", lambda: dedupe(con)),
            ("write", lambda: write_outputs(con, work_dir)),
            ("count", lambda: count(con, result)),
        ]
        for number, (_name, step) in enumerate(steps):
            step()
            if progress:
                progress("checking", number + 1, len(steps))
    finally:
        con.close()
    return result


def iter_chunks(work_dir: Path, size: int, start: int = 0) -> Iterable[tuple[int, list[tuple]]]:
    """(chunk number, rows) of the accepted rows from chunk ``start`` on, in file order."""
    con = duckdb.connect()
    try:
        cursor = con.execute(
            f"SELECT {ACCEPTED_COLUMNS} FROM read_parquet(?) ORDER BY row_no OFFSET ?",
            [str(accepted_path(work_dir)), start * size],
        )
        number = start
        while rows := cursor.fetchmany(size):
            yield number, rows
            number += 1
    finally:
        con.close()


def chunk_count(rows: int, size: int) -> int:
    return -(-rows // size)


def write_id_file(ids: Iterable[str], target: Path) -> Path:
    """One ID number per line: the registry as the checks read it."""
    with open(target, "w", encoding="utf-8") as out:
        buffer = io.StringIO()
        for n, number in enumerate(ids):
            buffer.write(number)
            buffer.write("\n")
            if n % 100_000 == 99_999:
                out.write(buffer.getvalue())
                buffer = io.StringIO()
        out.write(buffer.getvalue())
    return target
