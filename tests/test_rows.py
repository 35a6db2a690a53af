"""Rows read through SQL compiled once (gonghui/rows.py) are what the ORM reads: the same
values, types and order, for every table the case page reads that way."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Model, QuerySet
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from gonghui import rows as rows_module
from gonghui.accounts.models import User
from gonghui.audit.models import AuditEntry
from gonghui.hardship import services
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.scoping import get_for_user_or_404_compiled
from gonghui.people.models import Worker
from gonghui.rows import children, in_bulk, instances
from tests.cases import filed, move, open_file
from tests.factories import Province, worker

RELATED = ("incomelines", "expenselines", "attachments", "investigations", "readings")
MORE = ("reviews", "follow_ups", "events")


def _values(rows: list[Model]) -> list[dict[str, object]]:
    return [
        {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}
        for row in rows
    ]


def test_a_files_rows_read_as_the_orm_reads_them(province: Province) -> None:
    file = filed(province)
    for month, income in ((1, "900"), (2, "1100.50"), (3, "1300")):
        services.record_income_reading(
            province.alice, file, datetime.date(2025, month, 1), Decimal(income)
        )
    services.periodic_review(province.rita, HardshipFile.objects.get(pk=file.pk), note="年审")
    for name in (*RELATED, *MORE):
        related = getattr(file, name)
        orm = list(related.all())
        with CaptureQueriesContext(connection) as queries:
            found = children(related.model, related.field.name, file.pk)
        assert len(queries) == 1, name
        assert _values(found) == _values(orm), name
        assert [type(row) for row in found] == [type(row) for row in orm], name
    assert len(list(file.readings.all())) == 3 and len(list(file.events.all())) >= 5


def test_the_first_rows_only_and_a_file_with_none(province: Province) -> None:
    file = filed(province)
    orm = list(AuditEntry.objects.filter(file_id=file.pk)[:2])
    found = children(AuditEntry, "file_id", file.pk, limit=2)
    assert len(found) == 2 and _values(found) == _values(orm)
    assert isinstance(found[0].changes, dict) and found[0].at.tzinfo is not None
    assert children(AuditEntry, "file_id", 10**9) == []


# --- instances(): any model queryset, compiled once ------------------------------------------


def _deep(row: Model, *related: str) -> dict[str, object]:
    """A row's columns and those of its select_related objects (``a__b`` paths)."""
    found = {"": _values([row])[0]}
    for path in related:
        target: object = row
        for step in path.split("__"):
            target = getattr(target, step)
        found[path] = _values([target])[0] if isinstance(target, Model) else target
    return found


def test_instances_with_their_related_rows_as_the_orm_reads_them(province: Province) -> None:
    files = [open_file(province, name=name) for name in ("张伟", "李娜", "王芳")]
    related = ("applicant", "organisation", "household", "household__region", "policy")

    def build(pk: int) -> QuerySet[HardshipFile]:
        return HardshipFile.objects.with_people().select_related("policy").filter(pk=pk)

    for file in files:  # the first compiles, the others reuse it with their own key
        with CaptureQueriesContext(connection) as queries:
            (found,) = instances(HardshipFile, ("test-file",), build, file.pk)
        assert len(queries) == 1
        orm = build(file.pk).get()
        assert _deep(found, *related) == _deep(orm, *related)
        for path in ("applicant", "household", "policy"):
            assert getattr(HardshipFile, path).is_cached(found)
        assert found.applicant.name == HardshipFile.objects.get(pk=file.pk).applicant.name
    assert instances(HardshipFile, ("test-file",), build, 10**9) == []


def test_instances_swap_every_value_into_its_place(province: Province) -> None:
    file = open_file(province)
    workers = list(Worker.objects.order_by("pk"))

    def build(name: str, pk: int) -> QuerySet[Worker]:
        return Worker.objects.filter(name=name, pk__gte=pk).exclude(name="无此人").order_by("pk")

    for name, pk in (("张伟", 0), (file.applicant.name, file.applicant_id), ("无此人", 0)):
        found = instances(Worker, ("test-workers",), build, name, pk)
        assert [w.pk for w in found] == [w.pk for w in build(name, pk)]
    assert any(w.name == "张伟" for w in workers)


def test_instances_refuse_what_cannot_be_swapped(province: Province) -> None:
    with pytest.raises(ValueError, match="as it is"):  # a LIKE pattern, not the value
        instances(
            Worker, ("test-like",), lambda name: Worker.objects.filter(name__startswith=name), "张"
        )
    with pytest.raises(ValueError, match="depend on the values"):  # a list as long as pk % 3
        instances(
            Worker, ("test-shape",), lambda pk: Worker.objects.filter(pk__in=range(pk % 3)), 0
        )
    with pytest.raises(TypeError):
        instances(
            Worker,
            ("test-moment",),
            lambda at: Worker.objects.filter(created_at=at),
            datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
        )
    with pytest.raises(ValueError, match="model's manager"):
        instances(Worker, ("test-values",), lambda pk: Worker.objects.filter(pk=pk).values("pk"), 1)


def test_the_compiled_scoped_get_keeps_each_union_in_its_subtree(province: Province) -> None:
    ours = open_file(province)
    theirs = move(open_file(province, name="李娜"), organisation=province.jinghu_union)

    def files() -> QuerySet[HardshipFile]:
        return HardshipFile.objects.with_people()

    def get(user: object, pk: int) -> HardshipFile:
        return get_for_user_or_404_compiled(HardshipFile, "test-case", files, user, pk)

    assert get(province.alice, ours.pk).pk == ours.pk
    assert get(province.charlie, theirs.pk).pk == theirs.pk
    assert get(province.leo, theirs.pk).organisation.name == province.jinghu_union.name
    for user, pk in ((province.alice, theirs.pk), (province.charlie, ours.pk)):
        with pytest.raises(Http404):
            get(user, pk)
    province.alice.organisation = None
    with pytest.raises(Http404):
        get(province.alice, ours.pk)


def test_in_bulk_pads_to_a_power_of_two_and_finds_each_key(province: Province) -> None:
    users = list(User.objects.order_by("pk"))
    assert len(users) >= 9

    def build(pks: list[int]) -> QuerySet[User]:
        return User.objects.only("username").filter(pk__in=pks)

    for count in (1, 2, 3, 5, 8, 9):
        wanted = [user.pk for user in users[:count]] + [10**9]  # one key matches nothing
        with CaptureQueriesContext(connection) as queries:
            found = in_bulk(User, ("test-users",), build, wanted)
        assert len(queries) == 1
        assert {pk: u.username for pk, u in found.items()} == {
            u.pk: u.username for u in users[:count]
        }
    plans = [key for key in rows_module._COMPILED if "test-users" in key]
    assert sorted(key[-1] for key in plans) == [2, 4, 8, 16]  # 1+1 -> 2, 3+1 -> 4, ...
    assert in_bulk(User, ("test-users",), build, []) == {}


def test_a_date_is_swapped_in_as_the_database_takes_it(province: Province) -> None:
    born = [datetime.date(1970, 1, 2), datetime.date(1985, 5, 17), datetime.date(2001, 12, 31)]
    made = [worker(province.yaohai_union, province.yaohai_region, born=day) for day in born]

    def build(day: datetime.date, pk: int) -> QuerySet[Worker]:
        return Worker.objects.filter(birth_date__gte=day, pk__gte=pk).order_by("pk")

    first = min(w.pk for w in made)
    for day in born:
        found = instances(Worker, ("test-born",), build, day, first)
        assert [w.pk for w in found] == [w.pk for w in build(day, first)]
        assert {w.birth_date for w in found} == {d for d in born if d >= day}


def test_the_compiled_cache_keeps_the_most_recently_used() -> None:
    size = rows_module.COMPILED_CACHE_SIZE
    made: list[int] = []

    def make(n: int) -> int:
        made.append(n)
        return n

    first = ("test-lru", -1)
    rows_module._remembered(first, lambda: make(-1))
    for n in range(size + 10):
        rows_module._remembered(("test-lru", n), lambda n=n: make(n))  # type: ignore[misc]
        rows_module._remembered(first, lambda: make(-1))  # used again: kept
    assert len(rows_module._COMPILED) == size
    assert made.count(-1) == 1 and first in rows_module._COMPILED
    assert ("test-lru", 0) not in rows_module._COMPILED  # the least recently used went
    assert rows_module._remembered(("test-lru", size + 9), lambda: make(10**6)) == size + 9
