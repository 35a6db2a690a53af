"""One rule definition, two engines: the whole built-in rule set runs on DuckDB in process
and on Apache Spark (PySpark, local mode) over the same generated Parquet files, and both
must find exactly the same candidates with the same evidence.

Spark needs Java 17 (``scripts/java.sh`` installs a headless JRE where it is missing; the
Makefile's test targets call it). Nothing is skipped: without Java this test fails.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Iterator
from pathlib import Path

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


def test_duckdb_and_spark_find_the_same_candidates(
    spark: screening.SparkEngine, tmp_path: Path, settings: object
) -> None:
    settings.GONGHUI_DISCOVERY_DIR = tmp_path  # type: ignore[attr-defined]
    tables = rostergen.screening_data(20_000, 2_000, tmp_path / "data", AS_OF)
    duck = screening.DuckDBEngine(threads=2)
    total = 0
    for spec in rules.BUILTINS:
        on_duckdb = screening.find(spec, AS_OF, duck, tables)
        on_spark = screening.find(spec, AS_OF, spark, tables)
        assert on_duckdb, spec["code"]  # every rule finds someone in the generated data
        assert on_spark == on_duckdb, spec["code"]
        total += len(on_duckdb)
    assert total > 1_000


def test_both_engines_run_the_sql_compiled_from_one_definition() -> None:
    spec = next(r for r in rules.BUILTINS if r["code"] == "filed-income-above-standard")
    compiled = rules.compile_rule(spec["definition"], {"months": 4}, AS_OF)
    assert "INTERVAL '4' MONTH" in compiled.duckdb and "INTERVAL '4' MONTH" in compiled.spark
    assert "CAST('2025-06-01' AS DATE)" in compiled.spark
    assert compiled.tables >= {"files", "income_readings", "members"}
    assert compiled.parameters == {"as_of": "2025-06-15", "as_of_month": "2025-06-01", "months": 4}
