"""Fuzzy linkage (issue 4, point 4) on small hand-built data whose right links are known.

The shipped model parameters are used with ``population=1_000_000``: ten hand-made workers
stand for a province's registry, so the prior is that of a real run (with a prior of one in
ten, any two people with the same name would link). Training (EM) is exercised once on
generated data, small enough to stay fast.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import duckdb
import pytest

from gonghui.discovery import linkage

D = datetime.date
POPULATION = 1_000_000


def worker(wid, name, sex, birth, phone, region, id_number=None):
    return {
        "worker_id": wid,
        "id_number": id_number or f"{region}{birth:%Y%m%d}{wid:03d}X",
        "name": name,
        "sex": sex,
        "birth_date": birth,
        "phone": phone,
        "region": region,
    }


REGISTRY = [
    worker(1, "张伟强", "M", D(1985, 3, 12), "13800000001", "340102", "340102198503120011"),
    worker(2, "王芳", "F", D(1990, 7, 5), "13900000002", "340103"),
    worker(3, "陈静", "F", D(1978, 11, 23), "13700000003", "340104"),
    worker(4, "李明", "M", D(1982, 4, 9), "13600000004", "340111"),
    worker(5, "刘洋", "M", D(1995, 6, 18), "13500000005", "340121"),
    worker(6, "赵丽", "F", D(1988, 2, 14), "13400000006", "341002"),
    worker(7, "周建国", "M", D(1970, 1, 20), "13300000007", "340122"),
    worker(8, "孙浩", "M", D(2000, 12, 1), "13200000008", "340123"),
    worker(9, "欧阳娜", "F", D(1992, 5, 30), "13100000009", "340124"),
    worker(10, "黄磊", "M", D(1965, 8, 8), "15000000010", "340181"),
]


def row(no, name, birth=None, phone=None, region=None, id_number=None, sex=None):
    return {
        "row_no": no,
        "id_number": id_number,
        "name": name,
        "birth_date": birth,
        "sex": sex,
        "phone": phone,
        "region": region,
    }


LIST = [
    # A mistyped ID number (one digit), the name in traditional characters, nothing else.
    row(101, "張偉強", id_number="340102198503120071"),
    # No ID number; a homophone surname (汪 for 王: the same pinyin), phone and county agree.
    row(102, "汪芳", D(1990, 7, 5), "13900000002", "340103"),
    # Day and month swapped.
    row(103, "李明", D(1982, 9, 4), "13600000004", "340111"),
    # Another phone, the rest the same.
    row(104, "刘洋", D(1995, 6, 18), "13512345678", "340121"),
    # Another person: the same name and birth date as worker 6, another city, another phone.
    row(105, "赵丽", D(1988, 2, 14), "13011112222", "341502"),
    # Given-name characters swapped.
    row(106, "周国建", D(1970, 1, 20), "13300000007", "340122"),
    # Not in the registry at all.
    row(107, "吴敏", D(1999, 9, 9), "18800000107", "340102"),
    # A blank in the name (full-width), one digit of the birth date wrong.
    row(108, "陈　静", D(1978, 11, 28), "13700000003", "340104"),
    # Full-width digits in the phone, a compound surname.
    row(109, "欧阳娜", D(1992, 5, 30), "１３１０００００００９", None),
]

EXPECTED_LINKS = {101: 1, 102: 2, 103: 4, 104: 5, 106: 7, 108: 3, 109: 9}


def run_link(tmp_path: Path, name: str = "out", **kwargs) -> linkage.Result:
    return linkage.link(REGISTRY, LIST, tmp_path / name, population=POPULATION, seed=7, **kwargs)


def rows_of(path: Path) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
    finally:
        con.close()


def links_of(result: linkage.Result) -> dict[int, int]:
    con = duckdb.connect()
    try:
        return dict(
            con.execute(
                f"SELECT row_no, worker_id FROM read_parquet('{result.links_path}')"
            ).fetchall()
        )
    finally:
        con.close()


def test_features_make_variants_agree():
    con = linkage.connect(threads=1)
    people = [
        {"worker_id": 1, "name": "张伟强"},
        {"worker_id": 2, "name": "章伟强"},  # homophone surname
        {"worker_id": 3, "name": "張偉強"},  # traditional
        {"worker_id": 4, "name": "张 强伟"},  # blank, swapped given name
        {"worker_id": 5, "name": "欧阳娜"},  # compound surname
        {"worker_id": 6, "name": "曾凡"},  # surname read zeng
    ]
    linkage.prepare(con, people, "people", "worker_id")
    got = {
        uid: (name_n, surname, surname_py, name_py, given_key)
        for uid, name_n, surname, surname_py, name_py, given_key in con.execute(
            "SELECT unique_id, name_n, surname, surname_py, name_py, given_key FROM people"
        ).fetchall()
    }
    con.close()
    assert got[1] == ("张伟强", "张", "zhang", "zhang wei qiang", "qiang wei")
    assert got[2][3] == got[1][3]  # same pinyin
    assert got[3][0] == "张伟强"  # traditional made simplified
    assert got[4][0] == "张强伟" and got[4][4] == got[1][4]  # same sorted given name
    assert got[5][1:3] == ("欧阳", "ouyang")
    assert got[6][2] == "zeng"


def test_links_the_right_workers(tmp_path):
    result = run_link(tmp_path)
    assert links_of(result) == EXPECTED_LINKS
    assert result.left_rows == 10 and result.right_rows == 9
    assert result.links == len(EXPECTED_LINKS)


def test_namesake_in_another_city_does_not_link(tmp_path):
    result = run_link(tmp_path)
    assert 105 not in links_of(result)
    review = {r[0]: r for r in rows_of(result.review_path)}
    # Name and birth date agree, county and phone do not: a person must decide.
    assert 105 in review
    pairs = {(r[0], r[1]): r for r in rows_of(result.pairs_path)}  # (row_no, worker_id) → pair
    assert pairs[(105, 6)][3] < linkage.Thresholds().link


def test_agreed_fields_and_levels(tmp_path):
    result = run_link(tmp_path)
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT row_no, agreed, level_name, level_birth_date, level_phone, level_region, "
        f"match_probability FROM read_parquet('{result.links_path}') ORDER BY row_no"
    ).fetchall()
    con.close()
    by_row = {r[0]: r[1:] for r in rows}
    assert by_row[102][1] == "pinyin" and by_row[102][2] == "exact"
    assert by_row[103][2] == "swapped"
    assert by_row[104][3] == "different" and "phone" not in by_row[104][0]
    assert by_row[106][1] == "swapped"
    assert by_row[108][1:3] == ("exact", "one_digit")
    assert set(by_row[101][0]) >= {"name", "id_number"}
    assert all(r[-1] >= linkage.Thresholds().link for r in rows)


def test_no_other_candidates_for_outsider(tmp_path):
    result = run_link(tmp_path)
    assert all(r[0] != 107 for r in rows_of(result.review_path))
    assert 107 not in links_of(result)


def test_same_seed_same_result(tmp_path):
    first = run_link(tmp_path, "a")
    second = run_link(tmp_path, "b")
    assert rows_of(first.pairs_path) == rows_of(second.pairs_path)
    assert first.model == second.model


def test_dedupe_finds_a_worker_registered_twice(tmp_path):
    registry = [
        *REGISTRY,
        # Worker 1 again, with a mistyped ID number and the same phone.
        worker(11, "张伟强", "M", D(1985, 3, 12), "13800000001", "340102", "340102198503120017"),
        # Another 赵丽 born the same day, elsewhere: a namesake, not a duplicate.
        worker(12, "赵丽", "F", D(1988, 2, 14), "13999999999", "341502"),
    ]
    result = linkage.dedupe(registry, tmp_path / "dedupe", population=POPULATION, seed=7)
    links = [(r[0], r[1]) for r in rows_of(result.links_path)]
    assert links == [(1, 11)]
    assert (6, 12) not in links


def test_model_from_a_run_is_reused(tmp_path):
    first = run_link(tmp_path, "a")
    again = linkage.link(REGISTRY, LIST, tmp_path / "b", model=first.model, seed=7)
    assert links_of(again) == EXPECTED_LINKS


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import linkgen

    folder = tmp_path_factory.mktemp("linkgen")
    reg, listing, truth = linkgen.generate(3_000, 600, seed=11)
    linkgen.write(folder, reg, listing, truth)
    return folder


def test_trained_model_is_deterministic_and_accurate(generated, tmp_path):
    def run(name):
        return linkage.link(
            generated / "registry.parquet",
            generated / "list.parquet",
            tmp_path / name,
            train=True,
            seed=3,
            u_pairs=2e5,
            con=linkage.connect(threads=1),
        )

    first, second = run("a"), run("b")
    assert rows_of(first.links_path) == rows_of(second.links_path)
    assert first.model == second.model
    con = duckdb.connect()
    tp, linked, members = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE l.worker_id = t.worker_id), count(l.worker_id),
               count(t.worker_id)
        FROM read_parquet('{generated / "truth.parquet"}') t
        LEFT JOIN read_parquet('{first.links_path}') l USING (row_no)
        """
    ).fetchall()[0]
    con.close()
    assert tp / linked >= 0.95
    assert tp / members >= 0.9
