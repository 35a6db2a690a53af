"""External lists (issue 4, point 2): other agencies' lists, each a typed source, checked by
the roster engine and kept as Parquet in the analytical store.

A list row names a person (name required; ID number, date of birth, phone, region and the
household reference of the agency when the list has them) and carries the fields of its
kind (an allowance, an out-of-pocket amount, a registration date …). Unlike a roster, a
list row with a missing or mistyped ID number is *kept*: linking it by name, birth date
and phone is the later linkage step's work. Its ID number is then empty, and the number as
written and what is wrong with it are kept (``id_given``, ``id_problem``).

The reading (CSV or XLSX, UTF-8 or GBK), the header mapping and the ID-number, name and
phone checks are those of :mod:`.engine` and :mod:`.columns`; this module adds the typed
fields of each kind and writes ``rows.parquet`` with one fixed schema per kind, so the
screening rules can read every import of a kind as one table, on DuckDB and on Spark.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from gonghui.errors import DomainError

from . import engine
from .choices import RosterField, SourceKind
from .columns import ALIASES as ROSTER_ALIASES
from .columns import map_headers

Progress = Callable[[str, int, int], None]

# Column types of the analytical store: SQL type of the Parquet column per field type.
SQL_TYPES = {
    "text": "VARCHAR",
    "date": "DATE",
    "money": "BIGINT",  # fen
    "int": "INTEGER",
    "area": "DECIMAL(10,2)",  # square metres
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class ListField:
    name: str
    kind: str  # a key of SQL_TYPES
    label: Any
    aliases: tuple[str, ...]
    required: bool = False


COMMON_FIELDS = (
    ListField("id_number", "text", _("ID number"), tuple(ROSTER_ALIASES[RosterField.ID_NUMBER])),
    ListField("name", "text", _("name"), tuple(ROSTER_ALIASES[RosterField.NAME]), True),
    ListField(
        "birth_date", "date", _("date of birth"),
        ("出生日期", "出生年月日", "出生年月", "birth_date", "birth date", "date of birth"),
    ),
    ListField("phone", "text", _("phone"), tuple(ROSTER_ALIASES[RosterField.PHONE])),
    ListField("region", "text", _("region code"), tuple(ROSTER_ALIASES[RosterField.REGION])),
    ListField(
        "household_ref", "text", _("household number"),
        ("户号", "家庭编号", "保障户号", "户编号", "household", "household_ref", "household id"),
    ),
)  # fmt: skip

REGISTERED_ON = ("登记日期", "登记时间", "registered_on", "registered on", "registration date")

KIND_FIELDS: dict[str, tuple[ListField, ...]] = {
    SourceKind.MINIMUM_LIVING: (
        ListField("amount_fen", "money", _("allowance (yuan per month)"),
                  ("保障金额", "月保障金", "救助金额", "低保金", "amount", "monthly amount")),
        ListField("start_on", "date", _("from"),
                  ("起始日期", "保障起始日期", "享受开始时间", "start_on", "start", "start date")),
        ListField("end_on", "date", _("to"),
                  ("终止日期", "保障终止日期", "享受结束时间", "end_on", "end", "end date")),
        ListField("household_size", "int", _("persons covered"),
                  ("保障人数", "家庭人口", "household_size", "household size")),
    ),
    SourceKind.MEDICAL: (
        ListField("out_of_pocket_fen", "money", _("out of pocket (yuan)"),
                  ("个人自付", "自付金额", "个人负担", "个人支付", "out_of_pocket",
                   "out of pocket"),
                  True),
        ListField("total_fen", "money", _("total cost (yuan)"),
                  ("总费用", "医疗总费用", "total", "total cost")),
        ListField("paid_on", "date", _("settled on"),
                  ("结算日期", "就诊日期", "出院日期", "paid_on", "settled on", "date"), True),
        ListField("diagnosis", "text", _("diagnosis"), ("诊断", "疾病名称", "diagnosis")),
        ListField("hospital", "text", _("hospital"), ("医院", "医疗机构", "hospital")),
    ),
    SourceKind.UNEMPLOYMENT: (
        ListField("registered_on", "date", _("registered on"),
                  ("失业登记日期", *REGISTERED_ON), True),
        ListField("ended_on", "date", _("ended on"),
                  ("注销日期", "终止日期", "ended_on", "ended on")),
    ),
    SourceKind.DISABILITY: (
        ListField("disability_kind", "text", _("kind of disability"),
                  ("残疾类别", "类别", "disability_kind", "kind")),
        ListField("disability_grade", "text", _("grade"),
                  ("残疾等级", "等级", "disability_grade", "grade")),
        ListField("certificate", "text", _("certificate number"),
                  ("残疾证号", "证号", "certificate")),
    ),
    SourceKind.DISASTER: (
        ListField("event", "text", _("event"), ("灾害类型", "灾种", "event")),
        ListField("event_on", "date", _("date of the event"),
                  ("受灾日期", "发生日期", "event_on", "event date")),
        ListField("loss_fen", "money", _("loss (yuan)"), ("损失金额", "直接损失", "loss")),
    ),
    SourceKind.PROPERTY: (
        ListField("address", "text", _("address"), ("房屋坐落", "坐落", "地址", "address")),
        ListField("area", "area", _("floor area (m²)"), ("建筑面积", "面积", "area")),
        ListField("registered_on", "date", _("registered on"), REGISTERED_ON),
    ),
    SourceKind.VEHICLE: (
        ListField("plate", "text", _("number plate"), ("号牌号码", "车牌号", "车牌", "plate")),
        ListField("vehicle_type", "text", _("type of vehicle"),
                  ("车辆类型", "vehicle_type", "vehicle type", "type")),
        ListField("disability_aid", "bool", _("disability aid"),
                  ("残疾人专用车", "残疾人专用", "disability_aid", "disability aid")),
        ListField("registered_on", "date", _("registered on"), REGISTERED_ON),
    ),
    SourceKind.BUSINESS: (
        ListField("company", "text", _("company"), ("企业名称", "市场主体名称", "company")),
        ListField("role", "text", _("role"), ("职务", "身份", "出资人类型", "role")),
        ListField("registered_capital_fen", "money", _("registered capital (yuan)"),
                  ("注册资本", "出资额", "registered capital")),
        ListField("registered_on", "date", _("registered on"), ("成立日期", *REGISTERED_ON)),
    ),
}  # fmt: skip

LIST_KINDS = tuple(KIND_FIELDS)

# The columns every list's Parquet file starts with (after the kind's own fields come).
BASE_COLUMNS = (
    ("import_id", "BIGINT"),
    ("row_no", "BIGINT"),
    ("id_number", "VARCHAR"),  # valid (GB 11643) or NULL
    ("id_given", "VARCHAR"),  # as written (tidied) when it is not a valid number
    ("id_problem", "VARCHAR"),  # what is wrong with it (a roster reason code)
    ("name", "VARCHAR"),
    ("birth_date", "DATE"),
    ("phone", "VARCHAR"),
    ("region_id", "VARCHAR"),
    ("household_ref", "VARCHAR"),
)

BOOL_TRUE = ("是", "1", "y", "yes", "true", "t", "√")
BOOL_FALSE = ("否", "0", "n", "no", "false", "f", "")


def fields(kind: str) -> tuple[ListField, ...]:
    if kind not in KIND_FIELDS:
        raise DomainError(
            _("“%(kind)s” is not a kind of external list.") % {"kind": kind}, field="kind"
        )
    return COMMON_FIELDS + KIND_FIELDS[kind]


def schema(kind: str) -> list[tuple[str, str]]:
    """(column, SQL type) of the kind's Parquet rows, in order."""
    return [*BASE_COLUMNS, *((f.name, SQL_TYPES[f.kind]) for f in KIND_FIELDS[kind])]


def field_names(kind: str) -> list[str]:
    return [f.name for f in fields(kind)]


def label(kind: str, name: str) -> str:
    for item in fields(kind):
        if item.name == name:
            return str(item.label)
    return name


def rows_path(work_dir: Path) -> Path:
    return work_dir / "rows.parquet"


def empty_parquet(kind: str, target: Path) -> Path:
    """A Parquet file with the kind's columns and no rows (an engine reads it as an empty
    table of the right types)."""
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f"CAST(NULL AS {sql}) AS {name}" for name, sql in schema(kind))
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT {columns} WHERE false) TO '{target}' (FORMAT parquet)")
    finally:
        con.close()
    return target


# --- the check --------------------------------------------------------------------------


def _text(column: str | None) -> str:
    return f"trim(coalesce(r.{column}, ''))" if column else "''"


def _typed(item: ListField, text: str) -> tuple[str, str]:
    """(value expression, "given but unreadable" condition) of a field, from its text."""
    if item.kind == "date":
        formats = "[" + ", ".join(f"'{f}'" for f in engine.DATE_FORMATS) + "]"
        value = f"CAST(try_strptime(nullif({text}, ''), {formats}) AS DATE)"
        return value, f"{text} <> '' AND {value} IS NULL"
    if item.kind == "money":
        # Yuan with at most two decimals, to integer fen by exact decimal arithmetic.
        bare = f"replace(replace(replace({text}, ',', ''), '元', ''), '，', '')"
        amount = f"TRY_CAST({bare} AS DECIMAL(18,2))"
        value = f"CAST({amount} * 100 AS BIGINT)"
        return value, f"{text} <> '' AND ({amount} IS NULL OR {amount} < 0)"
    if item.kind == "int":
        value = f"TRY_CAST(nullif({text}, '') AS INTEGER)"
        return value, f"{text} <> '' AND {value} IS NULL"
    if item.kind == "area":
        value = f"TRY_CAST(nullif({text}, '') AS DECIMAL(10,2))"
        return value, f"{text} <> '' AND {value} IS NULL"
    if item.kind == "bool":
        yes = ", ".join(f"'{v}'" for v in BOOL_TRUE)
        no = ", ".join(f"'{v}'" for v in BOOL_FALSE)
        value = (
            f"CASE WHEN lower({text}) IN ({yes}) THEN true "
            f"WHEN lower({text}) IN ({no}) THEN false END"
        )
        return value, f"{value} IS NULL"
    return f"nullif({text}, '')", "false"


def list_sql(kind: str, found: Mapping[str, int], import_id: int) -> str:
    """``list_checked``: the roster engine's ``checked`` (ID number, name, phone, region)
    joined back to ``raw`` for the kind's own fields, typed, with the first reason to refuse
    a row: no name, a required field empty, a value that cannot be read."""
    column = {name: f"c{index}" for name, index in found.items()}
    values, reasons = [], []
    for item in KIND_FIELDS[kind]:
        text = _text(column.get(item.name))
        value, invalid = _typed(item, text)
        values.append(f"{value} AS {item.name}")
        if item.required:
            reasons.append(f"WHEN {text} = '' THEN 'field_missing:{item.name}'")
        reasons.append(f"WHEN {invalid} THEN 'value_invalid:{item.name}'")
    birth_text = _text(column.get("birth_date"))
    birth, birth_invalid = _typed(fields(kind)[2], birth_text)
    reasons.insert(0, f"WHEN {birth_invalid} THEN 'value_invalid:birth_date'")
    raw = "[" + ", ".join(f"r.{column[n]}" for n in sorted(found, key=found.__getitem__)) + "]"
    household = _text(column.get("household_ref"))
    valid_id = "c.reason IS NULL OR c.reason NOT LIKE 'id\\_%' ESCAPE '\\'"
    return f"""
CREATE OR REPLACE TABLE list_checked AS
SELECT
    CAST({int(import_id)} AS BIGINT) AS import_id,
    c.row_no,
    CASE WHEN {valid_id} THEN c.id_number END AS id_number,
    CASE WHEN NOT ({valid_id}) AND c.id_number <> '' THEN c.id_number END AS id_given,
    CASE WHEN NOT ({valid_id}) AND c.reason <> 'id_missing' THEN c.reason END AS id_problem,
    c.name,
    coalesce({birth}, CASE WHEN {valid_id} THEN c.birth_date END) AS birth_date,
    CASE WHEN regexp_full_match(c.phone, '{engine.PHONE_PATTERN}') THEN c.phone END AS phone,
    g.code AS region_id,
    nullif({household}, '') AS household_ref,
    {", ".join(values) or "NULL AS nothing"},
    CASE
        WHEN c.name = '' THEN 'name_missing'
        WHEN length(c.name) > 64 THEN 'name_long'
        {" ".join(reasons)}
    END AS reason,
    {raw} AS raw
FROM checked c
JOIN raw r ON r.rowid + 2 = c.row_no
LEFT JOIN residence g ON g.code = c.region_id
"""


@dataclass
class ListStageResult:
    file_format: str
    encoding: str
    columns: dict[str, str]
    ignored: list[str]
    headers: list[str]
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_without_id: int = 0


def stage(
    path: Path,
    work_dir: Path,
    kind: str,
    saved_mapping: Mapping[str, str],
    import_id: int,
    regions: Sequence[str] = (),
    today: datetime.date | None = None,
    progress: Progress | None = None,
    memory_limit: str = "4GB",
    threads: int | None = None,
) -> ListStageResult:
    """Read and check a list file; write ``rows.parquet`` (accepted rows, the kind's schema)
    and ``rejected.parquet`` (the roster engine's format, so the same refused-rows CSV is
    written) in ``work_dir``. Each file appears whole or not at all."""
    work_dir.mkdir(parents=True, exist_ok=True)
    kind_fields = fields(kind)
    prepared = engine.prepare(path, work_dir, progress)
    found, ignored = map_headers(
        prepared.headers,
        saved_mapping,
        aliases={f.name: f.aliases for f in kind_fields},
        required=[f.name for f in kind_fields if f.required],
        label=lambda name: label(kind, name),
    )
    result = ListStageResult(
        file_format=prepared.file_format,
        encoding=prepared.encoding,
        columns={name: prepared.headers[index] for name, index in found.items()},
        ignored=ignored,
        headers=[prepared.headers[i] for i in sorted(found.values())],
    )
    ref = engine.Reference(
        today=today or datetime.date.today(), default_organisation=0, regions=list(regions)
    )
    roster_found = {
        RosterField.ID_NUMBER: found.get("id_number"),
        RosterField.NAME: found.get("name"),
        RosterField.PHONE: found.get("phone"),
        RosterField.REGION: found.get("region"),
    }
    con = engine.connect(work_dir, memory_limit, threads)
    try:
        engine.reference_tables(con, ref)
        # Only the ID number, name, phone and region are the roster's checks; a row is refused
        # here for none of them (see list_sql), so every reason of ``checked`` is advisory.
        checked = {str(k): v for k, v in roster_found.items() if v is not None}
        engine.check(con, prepared, checked, ref, keep_raw=True)
        if progress:
            progress("checking", 1, 3)
        con.execute(list_sql(kind, found, import_id))
        _dedupe_and_write(con, kind, work_dir)
        if progress:
            progress("checking", 2, 3)
        counts = dict(
            con.execute(
                "SELECT fate, count(*) FROM (SELECT CASE WHEN reason IS NOT NULL THEN 'rejected' "
                "WHEN first_row IS NOT NULL THEN 'duplicate' ELSE 'accepted' END AS fate "
                "FROM fated) GROUP BY fate"
            ).fetchall()
        )
        result.rows_accepted = counts.get("accepted", 0)
        result.rows_rejected = counts.get("rejected", 0)
        result.rows_duplicate = counts.get("duplicate", 0)
        result.rows_read = sum(counts.values())
        result.rows_without_id = con.execute(
            f"SELECT count(*) FROM read_parquet('{rows_path(work_dir)}') WHERE id_number IS NULL"
        ).fetchone()[0]
        if progress:
            progress("checking", 3, 3)
    finally:
        con.close()
    return result


def _dedupe_and_write(con: Any, kind: str, work_dir: Path) -> None:
    """The same row twice (every mapped column equal, as written) is a duplicate: the first
    is kept."""
    con.execute(
        "CREATE OR REPLACE TABLE fated AS SELECT l.*, CASE WHEN l.reason IS NULL AND "
        "l.row_no <> k.first_row THEN k.first_row END AS first_row FROM list_checked l "
        "LEFT JOIN (SELECT raw, min(row_no) AS first_row FROM list_checked WHERE reason IS NULL "
        "GROUP BY raw HAVING count(*) > 1) k ON k.raw = l.raw AND l.reason IS NULL"
    )
    names = ", ".join(name for name, _sql in schema(kind))
    target = rows_path(work_dir)
    con.execute(
        f"COPY (SELECT {names} FROM fated WHERE reason IS NULL AND first_row IS NULL "
        f"ORDER BY row_no) TO '{target.with_suffix('.partial')}' "
        "(FORMAT parquet, ROW_GROUP_SIZE 122880)"
    )
    os.replace(target.with_suffix(".partial"), target)
    refused = engine.rejected_path(work_dir)
    con.execute(
        "COPY (SELECT row_no, coalesce(split_part(reason, ':', 1), 'duplicate') AS reason, "
        "nullif(split_part(reason, ':', 2), '') AS detail, "
        "first_row, coalesce(id_number, id_given) AS id_number, name, phone, raw FROM fated "
        "WHERE reason IS NOT NULL OR first_row IS NOT NULL ORDER BY row_no) "
        f"TO '{refused.with_suffix('.partial')}' (FORMAT parquet)"
    )
    os.replace(refused.with_suffix(".partial"), refused)
