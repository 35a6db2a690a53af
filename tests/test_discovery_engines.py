"""One rule definition, two engines: the whole built-in rule set runs on DuckDB in process
and on Apache Spark (PySpark, local mode) over the same generated Parquet files, and both
must find exactly the same candidates with the same evidence, rows linked by the fuzzy
linkage (no ID number, or a mistyped one) included.

Spark needs Java 17 (``scripts/java.sh`` installs a headless JRE where it is missing; the
Makefile's test targets call it). Nothing is skipped: without Java this test fails.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from gonghui.discovery import rules, screening

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import rostergen

AS_OF = datetime.date(2025, 6, 15)


@pytest.fixture(scope="module")
def spark() -> Iterator[screening.SparkEngine]:
    engine = screening.SparkEngine()
    yield engine
    screening.stop_spark()


def write_links(tables: dict[str, list[Path]], members: int, target: Path) -> Path:
    """Links of list rows without an ID number to workers, as the snapshot writes them
    (``rules.LINK_COLUMNS``): of the 低保, medical and unemployment lists, half by the
    model and half by a reviewer, each to a worker with the worker's number."""
    sources = " UNION ALL ".join(
        f"SELECT import_id, row_no FROM read_parquet('{tables[f'list_{kind}'][0]}') "
        "WHERE id_number IS NULL"
        for kind in ("minimum_living", "medical", "unemployment")
    )
    con = duckdb.connect()
    try:
        con.execute(
            f"""COPY (
                SELECT import_id, row_no, w AS worker_id,
                       '34' || lpad(CAST(w AS VARCHAR), 16, '0') AS id_number,
                       CASE WHEN row_no % 2 = 0 THEN 'auto' ELSE 'reviewed' END AS method,
                       CAST(0.9 + (row_no % 10) / 100 AS DOUBLE) AS probability,
                       CASE WHEN row_no % 2 = 1 THEN row_no * 3 END AS review_id
                FROM (SELECT *, (row_no * 7919) % {members} + 1 AS w FROM ({sources}))
            ) TO '{target}' (FORMAT parquet)"""
        )
    finally:
        con.close()
    return target


def linked(found: screening.Found) -> int:
    return sum(1 for _org, evidence in found.values() for item in evidence if len(item) > 3)


def test_duckdb_and_spark_find_the_same_candidates(
    spark: screening.SparkEngine, tmp_path: Path, settings: object
) -> None:
    settings.GONGHUI_DISCOVERY_DIR = tmp_path  # type: ignore[attr-defined]
    tables = rostergen.screening_data(20_000, 2_000, tmp_path / "data", AS_OF)
    without_links = dict(tables)
    tables[rules.LINKS] = [write_links(tables, 20_000, tmp_path / "data" / "links.parquet")]
    duck = screening.DuckDBEngine(threads=2)
    total = 0
    for spec in rules.BUILTINS:
        on_duckdb = screening.find(spec, AS_OF, duck, tables)
        on_spark = screening.find(spec, AS_OF, spark, tables)
        assert on_duckdb, spec["code"]  # every rule finds someone in the generated data
        assert on_spark == on_duckdb, spec["code"]
        total += len(on_duckdb)
        if spec["code"] in ("dibao-no-file", "medical-out-of-pocket"):
            # Linked rows count for their workers: found only with the links, on both.
            assert linked(on_duckdb) > 10, spec["code"]
            unlinked = screening.find(spec, AS_OF, duck, without_links)
            assert linked(unlinked) == 0 and set(unlinked) < set(on_duckdb), spec["code"]
            assert screening.find(spec, AS_OF, spark, without_links) == unlinked
    assert total > 1_000


def test_both_engines_run_the_sql_compiled_from_one_definition() -> None:
    spec = next(r for r in rules.BUILTINS if r["code"] == "filed-income-above-standard")
    compiled = rules.compile_rule(spec["definition"], {"months": 4}, AS_OF)
    assert "INTERVAL '4' MONTH" in compiled.duckdb and "INTERVAL '4' MONTH" in compiled.spark
    assert "CAST('2025-06-01' AS DATE)" in compiled.spark
    assert compiled.tables >= {"files", "income_readings", "members"}
    assert compiled.parameters == {"as_of": "2025-06-15", "as_of_month": "2025-06-01", "months": 4}
