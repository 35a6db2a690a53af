"""The SQL form of the ID-number rules gives the answers of gonghui.people.idnumber."""

from __future__ import annotations

import datetime
from pathlib import Path

import duckdb
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from gonghui.discovery import engine
from gonghui.people import idnumber

TODAY = datetime.date(2026, 1, 1)

# ValidationError code of idnumber.validate_id_number → reason of the engine.
CODES = {
    "length": {"id_length", "id_missing"},
    "format": {"id_format"},
    "birth_date": {"id_birth_date", "id_birth_impossible"},
    "region": {"id_region"},
    "check_digit": {"id_check_digit"},
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    engine.define_macros(connection)
    return connection


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=10**16, max_value=10**17 - 1))
def test_the_check_digit_agrees_with_stdnum(con: duckdb.DuckDBPyConnection, body: int) -> None:
    (digit,) = con.execute("SELECT gb_check(CAST(? AS BIGINT))", [body]).fetchone()
    assert digit == ric.calc_check_digit(f"{body}0")


def real_numbers() -> st.SearchStrategy[str]:
    codes = st.sampled_from(["340102", "340121", "340100", "110101", "440305", "340104"])
    births = st.dates(datetime.date(1890, 1, 1), datetime.date(2030, 12, 31))
    return st.builds(
        lambda code, birth, seq: idnumber.make_id_number(code, birth, seq),
        codes,
        births,
        st.integers(0, 999),
    )


def spoiled(number: str, how: int, where: int, char: str) -> str:
    """A number with one of the mistakes people make."""
    if how == 0:
        return number
    if how == 1:  # one character changed
        return number[:where] + char + number[where + 1 :]
    if how == 2:  # the old 15-digit form
        return number[:6] + number[8:17]
    if how == 3:  # full-width digits, lower-case x, blanks
        wide = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９ｘ"))
        return f" {wide[:6]} {wide[6:]}\u3000"
    if how == 4:  # a character too many or too few
        return number + char if where % 2 else number[:where]
    return number.lower()


MISTAKES = st.tuples(
    real_numbers(),
    st.integers(0, 5),
    st.integers(0, 17),
    st.sampled_from(list("0123456789Xx a-９")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MISTAKES, min_size=1, max_size=80))
def test_the_sql_rules_agree_with_idnumber(
    tmp_path_factory: pytest.TempPathFactory, cases: list[tuple[str, int, int, str]]
) -> None:
    raws = [spoiled(*case) for case in cases]
    found = run_engine(tmp_path_factory.mktemp("sql"), raws)
    for raw, (reason, tidied) in zip(raws, found, strict=True):
        try:
            info = idnumber.validate_id_number(raw, today=TODAY)
        except ValidationError as exc:
            assert reason in CODES[exc.code or ""], (raw, exc.code, reason)
        else:
            assert (reason, tidied) == (None, info.number), raw


def run_engine(work: Path, raws: list[str]) -> list[tuple[str | None, str]]:
    path = work / "many.csv"
    body = "".join(f'张三,"{raw}"\n' for raw in raws)
    path.write_text("姓名,身份证号\n" + body, encoding="utf-8")
    ref = engine.Reference(today=TODAY, default_organisation=1)
    con = engine.connect(work)
    try:
        engine.reference_tables(con, ref)
        prepared = engine.prepare(path, work)
        found, _ignored = engine.map_headers(prepared.headers, {})
        engine.check(con, prepared, found, ref)
        return con.execute("SELECT reason, id_number FROM checked ORDER BY row_no").fetchall()
    finally:
        con.close()


def test_row_numbers_follow_the_file(tmp_path: Path) -> None:
    """Row numbers as a spreadsheet shows them, in file order, across DuckDB's threads."""
    path = tmp_path / "many.csv"
    good = idnumber.make_id_number("340102", datetime.date(1990, 1, 1), 1)
    lines = [f"张{i},{good if i % 1000 else 'bad' + str(i)}" for i in range(300_000)]
    path.write_text("姓名,身份证号\n" + "\n".join(lines) + "\n", encoding="utf-8")
    con = engine.connect(tmp_path)
    ref = engine.Reference(today=TODAY, default_organisation=1)
    engine.reference_tables(con, ref)
    prepared = engine.prepare(path, tmp_path)
    engine.check(con, prepared, engine.map_headers(prepared.headers, {})[0], ref)
    rows = con.execute(
        "SELECT row_no, name FROM checked WHERE reason = 'id_length' ORDER BY row_no"
    ).fetchall()
    assert rows == [(i + 2, f"张{i}") for i in range(0, 300_000, 1000)]
