"""Screening rules as data: one definition, compiled once for DuckDB and for Spark SQL.

A rule's ``definition`` is a JSON object::

    {"sql": "SELECT m.worker_id, 'medical' AS source, l.import_id, l.row_no FROM …",
     "parameters": {"threshold_fen": {"type": "fen", "default": 2000000}}}

``sql`` is one SELECT in DuckDB's dialect over the tables of :data:`TABLES` (and its own
CTEs), with named parameters written ``:name``. It returns one row per piece of evidence:
the worker flagged, and the list row that says why (``source``, ``import_id``, ``row_no``).
Compiling parses it with SQLGlot, refuses anything but a query over the known tables,
replaces every parameter by a typed literal (``:as_of`` and ``:as_of_month`` are always
there: the day the screening is for and the first day of its month), and prints the same
tree in DuckDB's and in Spark's dialect. The engines run the printed SQL and nothing else.

A list row that the fuzzy linkage tied to a worker (``ListRowLink``: linked by the model
above its threshold, or by a reviewer's "same person") is that worker's row: the table
``list_<kind>`` a rule reads is a view over the list's own rows (``list_<kind>_rows``) and
the links (``row_links``) in which a linked row carries the worker's ID number. So every
rule, written once, treats it exactly like a row whose ID number matched, on both engines,
and the evidence of a linked row says so (:func:`wrap`).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from gonghui.errors import DomainError

from .lists import LIST_KINDS, schema

OUTPUT = ("worker_id", "source", "import_id", "row_no")
OPEN_FILE = ("draft", "investigated", "notice", "reviewed", "filed")

# The registry, as the screening snapshot writes it (screening.snapshot).
REGISTRY_TABLES: dict[str, list[tuple[str, str]]] = {
    "members": [
        ("worker_id", "BIGINT"), ("id_number", "VARCHAR"), ("organisation_id", "BIGINT"),
        ("household_id", "BIGINT"),
    ],
    "household_members": [
        ("household_id", "BIGINT"), ("worker_id", "BIGINT"), ("id_number", "VARCHAR"),
        ("relation", "VARCHAR"), ("schooling", "VARCHAR"), ("birth_date", "DATE"),
    ],
    "files": [
        ("file_id", "BIGINT"), ("household_id", "BIGINT"), ("applicant_id", "BIGINT"),
        ("organisation_id", "BIGINT"), ("status", "VARCHAR"),
    ],
    "income_readings": [
        ("reading_id", "BIGINT"), ("file_id", "BIGINT"), ("month", "DATE"),
        ("per_capita_fen", "BIGINT"), ("standard_fen", "BIGINT"),
    ],
}  # fmt: skip

# Views both engines define over the tables above, written once (compiled like a rule).
DERIVED_VIEWS: dict[str, str] = {
    # Every worker of a household with an open or filed file, and every applicant.
    "open_file_members": (
        "SELECT f.applicant_id AS worker_id, f.file_id, f.status FROM files f "
        f"WHERE f.status IN {OPEN_FILE!r} "
        "UNION SELECT h.worker_id, f.file_id, f.status FROM files f "
        "JOIN household_members h ON h.household_id = f.household_id "
        f"WHERE h.worker_id IS NOT NULL AND f.status IN {OPEN_FILE!r}"
    ),
}


def list_table(kind: str) -> str:
    return f"list_{kind}"


LIST_TABLES = {list_table(kind): kind for kind in LIST_KINDS}

# The confirmed links of list rows to workers (``ListRowLink``), as the snapshot writes
# them: the worker's ID number, how the row was linked (``auto`` / ``reviewed``), the match
# probability and, for a reviewer's link, the review that decided it.
LINKS = "row_links"
LINK_COLUMNS: list[tuple[str, str]] = [
    ("import_id", "BIGINT"), ("row_no", "BIGINT"), ("worker_id", "BIGINT"),
    ("id_number", "VARCHAR"), ("method", "VARCHAR"), ("probability", "DOUBLE"),
    ("review_id", "BIGINT"),
]  # fmt: skip

TABLES: dict[str, list[tuple[str, str]]] = {
    **REGISTRY_TABLES,
    **{list_table(kind): schema(kind) for kind in LIST_KINDS},
}
KNOWN = set(TABLES) | set(DERIVED_VIEWS)
# What the engines load from files: the registry, each list's own rows, the links.
STORED: dict[str, list[tuple[str, str]]] = {**TABLES, LINKS: LINK_COLUMNS}


def _view_columns(sql: str) -> list[tuple[str, str]]:
    """(column, type) of a derived view, worked out from its SQL over :data:`TABLES`."""
    schema: dict[str, object] = {name: dict(columns) for name, columns in TABLES.items()}
    tree = annotate_types(
        qualify(sqlglot.parse_one(sql, read="duckdb"), schema=schema, dialect="duckdb"),
        schema=schema,
    )
    assert isinstance(tree, exp.Query)
    # SQLGlot names DuckDB's VARCHAR "TEXT"; the page shows the engines' own name.
    types = {"TEXT": "VARCHAR"}
    found = [(s.alias_or_name, s.type.sql("duckdb") if s.type else "") for s in tree.selects]
    return [(name, types.get(sql_type, sql_type)) for name, sql_type in found]


# Every table a rule may read, with its columns: the one source of the column check and of
# the list the rule-definition page shows.
READABLE: dict[str, list[tuple[str, str]]] = {
    **REGISTRY_TABLES,
    **{name: _view_columns(sql) for name, sql in DERIVED_VIEWS.items()},
    **{name: TABLES[name] for name in LIST_TABLES},
}
SCHEMA: dict[str, object] = {name: dict(columns) for name, columns in READABLE.items()}
PARAMETER_TYPES = ("int", "fen", "months", "date", "text")
# Given by the screening itself: the day it is for, and the first day of that month.
BUILTIN_PARAMETERS = ("as_of", "as_of_month")


def stored_name(name: str) -> str:
    """The name an engine gives the files of a table: a list's own rows are read through
    the view of the list's name, which applies the links."""
    return f"{name}_rows" if name in LIST_TABLES else name


def list_view_sql(kind: str, links: bool = True) -> str:
    """The list as the rules see it: a row linked to a worker carries the worker's ID
    number (whatever it had: none, or a mistyped one), like a row that matched by number.
    Without any link (``links`` false) the list's own rows, as they are: the join would
    only cost time (a computed join key keeps the engines from pruning the list's scan)."""
    if not links:
        return f"SELECT * FROM {stored_name(list_table(kind))}"
    columns = [
        "CASE WHEN k.row_no IS NULL THEN r.id_number ELSE k.id_number END AS id_number"
        if name == "id_number"
        else f"r.{name}"
        for name, _type in schema(kind)
    ]
    return (
        f"SELECT {', '.join(columns)} FROM {stored_name(list_table(kind))} AS r "
        f"LEFT JOIN {LINKS} AS k ON k.import_id = r.import_id AND k.row_no = r.row_no"
    )


def empty_sql(name: str, dialect: str) -> str:
    """A table of ``name``'s columns and no rows, for an input that has no file (no
    finished import of a list, no link yet)."""
    columns = ", ".join(f"CAST(NULL AS {sql}) AS {column}" for column, sql in STORED[name])
    return sqlglot.transpile(f"SELECT {columns} WHERE 1 = 0", read="duckdb", write=dialect)[0]


def views(
    read: frozenset[str] | set[str], dialect: str, links: bool = True
) -> list[tuple[str, str]]:
    """(name, SQL) of the views an engine defines over the stored tables for a compiled
    rule, in an order that defines each before its use; ``links``: whether there is any
    link of a list row to a worker."""
    found = [
        (name, transpile(list_view_sql(LIST_TABLES[name], links), dialect))
        for name in sorted(read)
        if name in LIST_TABLES
    ]
    found += [(name, derived_sql(name, dialect)) for name in DERIVED_VIEWS if name in read]
    return found


def transpile(sql: str, dialect: str) -> str:
    return sqlglot.transpile(sql, read="duckdb", write=dialect)[0]


FORBIDDEN = (
    exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Command,
    exp.Copy, exp.Merge, exp.Set, exp.Pragma, exp.Use, exp.Attach,
)  # fmt: skip


@dataclass(frozen=True)
class Compiled:
    duckdb: str
    spark: str
    tables: frozenset[str]  # the registry tables, lists, links and derived views it reads
    parameters: dict[str, Any]


def parameter_values(
    definition: Mapping[str, Any], values: Mapping[str, Any], as_of: datetime.date
) -> dict[str, Any]:
    """The rule's parameters: defaults, overridden by the saved values, each checked."""
    declared = definition.get("parameters") or {}
    result: dict[str, Any] = {"as_of": as_of, "as_of_month": as_of.replace(day=1)}
    for name, spec in declared.items():
        value = values.get(name, spec.get("default"))
        kind = spec.get("type", "int")
        _check_declared(name, kind)
        try:
            if kind in ("int", "fen", "months"):
                if isinstance(value, bool) or not isinstance(value, int | str):
                    raise ValueError(value)
                value = int(value)
                if value < 0:
                    raise ValueError(value)
            elif kind == "date":
                value = datetime.date.fromisoformat(str(value))
            elif kind == "text":
                value = str(value)
            else:
                raise ValueError(kind)
        except (TypeError, ValueError):
            raise DomainError(
                _("The parameter %(name)s must be a %(kind)s, not “%(value)s”.")
                % {"name": name, "kind": kind, "value": value},
                field="parameters",
            ) from None
        result[name] = value
    unknown = set(values) - set(declared)
    if unknown:
        raise DomainError(
            _("The rule has no parameter named %(names)s.") % {"names": ", ".join(sorted(unknown))},
            field="parameters",
        )
    return result


def _check_declared(name: str, kind: str) -> None:
    if name in BUILTIN_PARAMETERS:
        raise DomainError(
            _("The screening gives :%(name)s itself; give the parameter another name.")
            % {"name": name},
            field="parameters",
        )
    if kind not in PARAMETER_TYPES:
        raise DomainError(
            _("The parameter %(name)s has the unknown type “%(kind)s”; the types are %(types)s.")
            % {"name": name, "kind": kind, "types": ", ".join(PARAMETER_TYPES)},
            field="parameters",
        )


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, datetime.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def parse(sql: str) -> exp.Expression:
    """One query over known tables, or a :class:`DomainError` saying what is wrong."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise _unreadable(exc) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise DomainError(_("A rule is exactly one SELECT."), field="definition")
    query = statements[0]
    tree: Any = query
    if any(tree.find_all(*FORBIDDEN)):
        raise DomainError(_("A rule may only read, never change data."), field="definition")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.db or table.catalog:
            raise DomainError(
                _("A rule reads tables by name only (no files, functions or schemas)."),
                field="definition",
            )
        if table.name not in KNOWN and table.name not in ctes:
            raise DomainError(
                _("A rule cannot read “%(table)s”; the tables are: %(tables)s.")
                % {"table": table.name, "tables": ", ".join(sorted(KNOWN))},
                field="definition",
            )
    outputs = tuple(query.named_selects)
    if outputs != OUTPUT:
        raise DomainError(
            _("A rule returns the columns %(wanted)s, in this order (it returns %(got)s).")
            % {"wanted": ", ".join(OUTPUT), "got": ", ".join(outputs)},
            field="definition",
        )
    _check_columns(tree)
    return tree


def _unreadable(exc: sqlglot.errors.SqlglotError) -> DomainError:
    """SQLGlot's complaint, with where it stopped reading when it says so."""
    errors = getattr(exc, "errors", None) or [{}]
    first = errors[0]
    if first.get("line"):
        message = _(
            "The rule's SQL cannot be read at line %(line)s, column %(column)s, near "
            "“%(near)s”: %(error)s"
        ) % {
            "line": first["line"],
            "column": first["col"],
            "near": first.get("highlight", ""),
            "error": first.get("description", ""),
        }
    else:
        message = _("The rule's SQL cannot be read: %(error)s") % {
            "error": str(exc).splitlines()[0]
        }
    return DomainError(message, field="definition")


UNRESOLVED = re.compile(
    r"(?:Unknown column: (?P<bare>\w+))|(?:Column '(?P<column>\w+)' could not be resolved"
    r"(?: for table: '(?P<table>\w+)')?)(?:\. Line: (?P<line>\d+), Col: (?P<col>\d+))?"
)


def _columns(table: str) -> set[str]:
    return {name for name, _type in READABLE.get(table, [])}


def _unresolved(tree: exp.Expression, column: str, where: str | None) -> str:
    if where:
        return _("The rule reads a column “%(column)s” that “%(table)s” does not have.") % {
            "column": column,
            "table": where,
        }
    having = sorted({t.name for t in tree.find_all(exp.Table) if column in _columns(t.name)})
    if len(having) > 1:
        return _(
            "More than one table of the rule has a column “%(column)s” (%(tables)s): write "
            "which, such as m.%(column)s."
        ) % {"column": column, "tables": ", ".join(having)}
    return _("The rule reads a column “%(column)s” that none of its tables has.") % {
        "column": column
    }


def _check_columns(tree: exp.Expression) -> None:
    """Every column the rule names is one of its tables' (:data:`READABLE`) or its CTEs'."""
    try:
        qualify(tree.copy(), schema=SCHEMA, dialect="duckdb", validate_qualify_columns=True)
    except sqlglot.errors.SqlglotError as exc:
        found = UNRESOLVED.search(str(exc))
        if found is None:
            raise DomainError(
                _("The rule's columns cannot be checked: %(error)s") % {"error": exc},
                field="definition",
            ) from None
        column = found.group("bare") or found.group("column")
        message = _unresolved(tree, column, found.group("table"))
        if found.group("line"):
            message += " " + _("(line %(line)s, column %(col)s)") % {
                "line": found.group("line"),
                "col": found.group("col"),
            }
        raise DomainError(message, field="definition") from None


def _bind(tree: exp.Expression, values: Mapping[str, Any]) -> exp.Expression:
    missing = {p.name for p in tree.find_all(exp.Placeholder)} - set(values)
    if missing:
        raise DomainError(
            _("The rule uses undeclared parameters: %(names)s.")
            % {"names": ", ".join(sorted(missing))},
            field="definition",
        )

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return _literal(values[node.name])
        # INTERVAL (:months) MONTH: an interval takes a quoted number in both dialects.
        if isinstance(node, exp.Interval) and isinstance(node.this, exp.Paren):
            inner = node.this.this
            if isinstance(inner, exp.Placeholder):
                return exp.Interval(
                    this=exp.Literal.string(str(values[inner.name])), unit=node.args.get("unit")
                )
        return node

    return tree.transform(replace)


def wrap(tree: exp.Expression) -> exp.Expression:
    """The rule's evidence, one row per (worker, list row), with the worker's union and,
    for a row the fuzzy linkage tied to a worker, how (method, probability, review)."""
    return sqlglot.parse_one(
        "SELECT DISTINCT CAST(h.worker_id AS BIGINT) AS worker_id, m.organisation_id, "
        "CAST(h.source AS VARCHAR) AS source, CAST(h.import_id AS BIGINT) AS import_id, "
        "CAST(h.row_no AS BIGINT) AS row_no, k.method AS link_method, "
        "k.probability AS link_probability, k.review_id AS link_review "
        "FROM rule_hits AS h JOIN members AS m ON m.worker_id = h.worker_id "
        f"LEFT JOIN {LINKS} AS k ON k.import_id = h.import_id AND k.row_no = h.row_no",
        read="duckdb",
    ).transform(
        lambda node: (
            exp.Subquery(this=tree.copy(), alias=exp.TableAlias(this=exp.to_identifier("h")))
            if isinstance(node, exp.Table) and node.name == "rule_hits"
            else node
        )
    )


def compile_rule(
    definition: Mapping[str, Any], values: Mapping[str, Any], as_of: datetime.date
) -> Compiled:
    sql = definition.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise DomainError(_("The rule has no SQL."), field="definition")
    params = parameter_values(definition, values, as_of)
    parsed = parse(sql)
    unused = set(definition.get("parameters") or {}) - {
        p.name for p in parsed.find_all(exp.Placeholder)
    }
    if unused:
        raise DomainError(
            _("The SQL does not use the declared parameters %(names)s (write :name).")
            % {"names": ", ".join(sorted(unused))},
            field="parameters",
        )
    tree = wrap(_bind(parsed, params))
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    read = {t.name for t in tree.find_all(exp.Table) if t.name not in ctes}
    for view in DERIVED_VIEWS:
        if view in read:
            read |= {t.name for t in sqlglot.parse_one(DERIVED_VIEWS[view]).find_all(exp.Table)}
    return Compiled(
        duckdb=tree.sql(dialect="duckdb"),
        spark=tree.sql(dialect="spark"),
        tables=frozenset(read),
        parameters={
            k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in params.items()
        },
    )


def derived_sql(name: str, dialect: str) -> str:
    return sqlglot.transpile(DERIVED_VIEWS[name], read="duckdb", write=dialect)[0]


# --- the built-in rules -----------------------------------------------------------------

SCHOOLING = "('primary', 'junior', 'senior', 'vocational', 'university', 'graduate')"

BUILTINS: list[dict[str, Any]] = [
    {
        "code": "dibao-no-file",
        "name": gettext_noop("On the minimum-living list, no file"),
        "description": gettext_noop(
            "A member who, or whose household member, receives the minimum living allowance "
            "on the screening day, and whose household has no open or filed hardship file."
        ),
        "definition": {
            "sql": """
WITH on_list AS (
    SELECT m.worker_id, l.import_id, l.row_no FROM members m
    JOIN list_minimum_living l ON l.id_number = m.id_number
    WHERE (l.start_on IS NULL OR l.start_on <= :as_of)
      AND (l.end_on IS NULL OR l.end_on >= :as_of)
    UNION ALL
    SELECT m.worker_id, l.import_id, l.row_no FROM members m
    JOIN household_members h ON h.household_id = m.household_id
    JOIN list_minimum_living l ON l.id_number = h.id_number
    WHERE (l.start_on IS NULL OR l.start_on <= :as_of)
      AND (l.end_on IS NULL OR l.end_on >= :as_of)
)
SELECT o.worker_id, 'minimum_living' AS source, o.import_id, o.row_no
FROM on_list o LEFT JOIN open_file_members c ON c.worker_id = o.worker_id
WHERE c.worker_id IS NULL
""",
            "parameters": {},
        },
    },
    {
        "code": "medical-out-of-pocket",
        "name": gettext_noop("Medical out-of-pocket above the threshold"),
        "description": gettext_noop(
            "A member without a file who paid more than the threshold out of pocket for "
            "medical care in the 12 months before the screening day."
        ),
        "definition": {
            "sql": """
WITH recent AS (
    SELECT l.id_number, l.import_id, l.row_no, l.out_of_pocket_fen FROM list_medical l
    WHERE l.paid_on > :as_of - INTERVAL 12 MONTH AND l.paid_on <= :as_of
      AND l.id_number IS NOT NULL
), heavy AS (
    SELECT id_number FROM recent GROUP BY id_number
    HAVING sum(out_of_pocket_fen) > :threshold_fen
)
SELECT m.worker_id, 'medical' AS source, r.import_id, r.row_no
FROM members m
JOIN heavy x ON x.id_number = m.id_number
JOIN recent r ON r.id_number = m.id_number
LEFT JOIN open_file_members c ON c.worker_id = m.worker_id
WHERE c.worker_id IS NULL
""",
            "parameters": {"threshold_fen": {"type": "fen", "default": 2_000_000}},
        },
    },
    {
        "code": "unemployed-children-in-school",
        "name": gettext_noop("Registered unemployed with children in school"),
        "description": gettext_noop(
            "A member without a file, registered as unemployed on the screening day, whose "
            "household has a child in school."
        ),
        "definition": {
            "sql": f"""
WITH schooling AS (
    SELECT DISTINCT household_id FROM household_members
    WHERE relation = 'child' AND schooling IN {SCHOOLING}
)
SELECT m.worker_id, 'unemployment' AS source, u.import_id, u.row_no
FROM members m
JOIN list_unemployment u ON u.id_number = m.id_number
JOIN schooling s ON s.household_id = m.household_id
LEFT JOIN open_file_members c ON c.worker_id = m.worker_id
WHERE u.registered_on <= :as_of AND (u.ended_on IS NULL OR u.ended_on > :as_of)
  AND c.worker_id IS NULL
""",
            "parameters": {},
        },
    },
    {
        "code": "filed-home-or-car",
        "name": gettext_noop("Filed household with a second home or a car"),
        "description": gettext_noop(
            "A filed household whose members own at least the given number of homes, or a "
            "car that is not a disability aid: is the file wrong? The applicant is flagged."
        ),
        "definition": {
            "sql": """
WITH people AS (
    SELECT f.applicant_id, h.id_number FROM files f
    JOIN household_members h ON h.household_id = f.household_id
    WHERE f.status = 'filed' AND h.id_number IS NOT NULL
), homes AS (
    SELECT p.applicant_id, r.import_id, r.row_no FROM people p
    JOIN list_property r ON r.id_number = p.id_number
), owners AS (
    SELECT applicant_id FROM homes GROUP BY applicant_id HAVING count(*) >= :min_homes
)
SELECT h.applicant_id AS worker_id, 'property' AS source, h.import_id, h.row_no
FROM homes h JOIN owners o ON o.applicant_id = h.applicant_id
UNION ALL
SELECT p.applicant_id AS worker_id, 'vehicle' AS source, v.import_id, v.row_no
FROM people p JOIN list_vehicle v ON v.id_number = p.id_number
WHERE v.disability_aid IS NULL OR NOT v.disability_aid
""",
            "parameters": {"min_homes": {"type": "int", "default": 2}},
        },
    },
    {
        "code": "filed-income-above-standard",
        "name": gettext_noop("Filed household above the minimum-living standard for months"),
        "description": gettext_noop(
            "A filed household whose monthly per-capita income was above the local "
            "minimum-living standard in each of the given number of months before the "
            "screening month: is it due to exit?"
        ),
        "definition": {
            "sql": """
WITH recent AS (
    SELECT r.reading_id, r.file_id, r.per_capita_fen, r.standard_fen FROM income_readings r
    WHERE r.month >= :as_of_month - INTERVAL (:months) MONTH AND r.month < :as_of_month
), above AS (
    SELECT file_id FROM recent WHERE per_capita_fen > standard_fen
    GROUP BY file_id HAVING count(*) >= :months
)
SELECT f.applicant_id AS worker_id, 'income_reading' AS source, 0 AS import_id,
    r.reading_id AS row_no
FROM files f JOIN above a ON a.file_id = f.file_id JOIN recent r ON r.file_id = f.file_id
WHERE f.status = 'filed'
""",
            "parameters": {"months": {"type": "months", "default": 6}},
        },
    },
]
