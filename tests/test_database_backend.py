"""The PostgreSQL backend binds parameters on the server and prepares the statements marked
stable (gonghui/plans.py, gonghui/postgresql/base.py), yet still runs statements with more
parameters than the protocol can carry. On SQLite the same operations run through Django's
own backend."""

from __future__ import annotations

import datetime

import psycopg
import pytest
from django.db import connection

from gonghui.people.choices import Sex
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import Worker
from gonghui.plans import is_stable, stable
from gonghui.postgresql.base import MAX_BOUND_PARAMETERS
from gonghui.rows import children
from tests.factories import Province


def new_workers(province: Province, count: int) -> list[Worker]:
    first = datetime.date(1980, 1, 1)
    births = [first + datetime.timedelta(days=index // 1000) for index in range(count)]
    return [
        Worker(
            id_number=make_id_number(province.yaohai_region.code, born, index),
            birth_date=born,
            sex=Sex.MALE if index % 2 else Sex.FEMALE,
            name=f"工人{index}",
            phone=f"139{index:08d}",
            region=province.yaohai_region,
            organisation=province.yaohai_union,
        )
        for index, born in enumerate(births)
    ]


def test_a_bulk_update_beyond_the_parameter_limit_is_saved_whole(province: Province) -> None:
    # Django sends one UPDATE with a CASE of two parameters per row, and the keys.
    count = MAX_BOUND_PARAMETERS // 2 + 100
    workers = Worker.objects.bulk_create(new_workers(province, count))
    for worker in workers:
        worker.phone = f"138{worker.pk % 10**8:08d}"
    Worker.objects.bulk_update(workers, ["phone"])
    assert not Worker.objects.filter(phone__startswith="139").exists()
    last = workers[-1]
    assert Worker.objects.get(pk=last.pk).phone == f"138{last.pk % 10**8:08d}"


def test_a_long_in_list_finds_its_rows(province: Province) -> None:
    saved = Worker.objects.bulk_create(new_workers(province, 50))
    wanted = [worker.pk for worker in saved[:10]]
    if connection.vendor == "postgresql":  # SQLite refuses 70,000 variables itself
        wanted += list(range(-70_000, 0))  # no worker has a negative key
    assert Worker.objects.filter(pk__in=wanted).count() == 10


def test_values_bound_on_the_client_keep_quotes_and_percent_signs(db: None) -> None:
    if connection.vendor != "postgresql":
        return  # the client-side fallback exists only in the PostgreSQL backend
    values = [f"{index}% o'clock; --" for index in range(MAX_BOUND_PARAMETERS + 1)]
    rows = ", ".join(["(%s)"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(v), max(v) FROM (VALUES {rows}) t (v)", values)
        assert cursor.fetchone() == (len(values), "0% o'clock; --", "9999% o'clock; --")


def _prepared() -> dict[str, tuple[int, int]]:
    """The connection's prepared statements: text -> (generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


def test_a_stable_statement_keeps_one_plan_and_others_are_planned_each_time(
    province: Province,
) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite has no prepared statements to list
    for _ in range(8):
        children(Worker, "organisation", province.yaohai_union.pk)  # marked stable
        list(Worker.objects.filter(name="不存在的人"))  # any other statement
    prepared = _prepared()
    ours = [plans for text, plans in prepared.items() if is_stable(text)]
    assert ours and max(generic for generic, _custom in ours) > 0
    assert not any('"people_worker"."name" = $1' in text for text in prepared)


@pytest.mark.parametrize(("threshold", "prepared"), [(1, 1), (None, 0)])
def test_preparing_can_be_turned_off_for_a_pooler(
    db: None, threshold: int | None, prepared: int
) -> None:
    """GONGHUI_PG_PREPARE_THRESHOLD=0 gives psycopg no threshold: nothing is prepared."""
    if connection.vendor != "postgresql":
        return
    params = {**connection.get_connection_params(), "prepare_threshold": threshold}
    with psycopg.connect(**params) as raw, raw.cursor() as cursor:
        for _ in range(3):
            cursor.execute(stable("SELECT %s::int + 1"), [1])
            cursor.execute("SELECT %s::int + 2", [1])  # never prepared
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (prepared,)
