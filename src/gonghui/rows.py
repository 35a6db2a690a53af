"""Model instances from SQL written once, for the queries every page view runs.

Django compiles a query each time it runs it: for the session's user with their union
that is 0.5 ms of CPU against 0.09 ms to run the same SQL, on every page; the case page
runs a dozen queries of one shape, and compiling them was a third of its CPU. These
queries keep one shape, so their SQL is compiled once per process by the ORM itself
(:func:`instances`, :func:`compiled`), and the rows become model instances through the
same converters, ``Model.from_db`` and ``select_related`` populators the ORM uses: a
SQLite date comes back as a date, a JSON column as a dict."""

from __future__ import annotations

import datetime
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

from gonghui.plans import stable


@dataclass(frozen=True)
class Shape:
    """The table of ``model`` under the alias ``alias``, and its columns by field name: for
    SQL written by hand from the models' metadata (the work queue's page, the session)."""

    model: type[models.Model]
    alias: str

    def column(self, connection: BaseDatabaseWrapper, name: str) -> str:
        """One column, by field name (``pk`` for the primary key)."""
        meta = self.model._meta
        field = meta.pk if name == "pk" else meta.get_field(name)
        return f"{self.alias}.{connection.ops.quote_name(str(field.column))}"  # type: ignore[union-attr]

    def table(self, connection: BaseDatabaseWrapper) -> str:
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}"


def attach(rows: Iterable[Any], field: str, loaded: Mapping[Any, Any]) -> None:
    """Give each row its ``field`` (a foreign key) from objects already ``loaded``, by
    primary key, so reading ``row.field`` costs no query; rows pointing elsewhere keep the
    ORM's lazy loading."""
    key = f"{field}_id"
    for row in rows:
        pk = getattr(row, key)
        if pk in loaded:
            setattr(row, field, loaded[pk])


# --- SQL the ORM compiles once per process --------------------------------------------------

COMPILED_CACHE_SIZE = 512
_COMPILED: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
# The development server serves each request in a thread of its own: the cache's order
# and size change under this lock (making an entry happens outside it).
_COMPILED_LOCK = threading.Lock()


def _remembered(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """What ``make`` gives for ``key``, made once: the 512 most recently used are kept."""
    with _COMPILED_LOCK:
        found = _COMPILED.get(key)
        if found is not None:
            _COMPILED.move_to_end(key)
            return found
    made = make()
    with _COMPILED_LOCK:
        found = _COMPILED.setdefault(key, made)
        while len(_COMPILED) > COMPILED_CACHE_SIZE:
            _COMPILED.popitem(last=False)
    return found


def compiled(
    key: tuple[Any, ...],
    build: Callable[[], models.QuerySet[Any]],
    wrap: Callable[[str], str] = str,
) -> tuple[str, tuple[Any, ...]]:
    """The SQL (passed through ``wrap``) and parameters of the queryset ``build`` makes,
    compiled once per ``key``: for a query whose text depends only on the key."""

    def make() -> tuple[str, tuple[Any, ...]]:
        sql, params = build().query.sql_with_params()
        return wrap(sql), tuple(params)

    return _remembered(("sql", *key), make)  # type: ignore[no-any-return]


# --- model instances from a queryset compiled once -------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """A model queryset's SQL and what turns its rows into instances, as the ORM's
    ``ModelIterable`` does: the model's columns, the converters, the select_related
    populators and the annotations."""

    sql: str
    params: tuple[Any, ...]
    # (position in params, position in values, how the ORM passes the value, None: as is)
    slots: tuple[tuple[int, int, Callable[[Any], Any] | None], ...]
    compiler: Any
    converters: dict[int, Any]
    model: type[models.Model]
    names: tuple[str, ...]
    span: slice
    populators: tuple[Any, ...]
    annotations: tuple[tuple[str, int], ...]


def _stand_in(round_: int, position: int, value: Any) -> Any:
    """A value of the type of ``value`` for compiling the query, different in each round.
    Ints stay small and positive: the ORM turns a lookup with a value outside the column's
    range (a negative year) into no SQL at all."""
    if type(value) is int:
        return 30_001 + 100 * round_ + position
    if type(value) is str:
        return f"\x1fgonghui-stand-in-{round_}-{position}\x1f"
    if type(value) is datetime.date:
        return datetime.date(1901 + round_, 1, 1) + datetime.timedelta(days=position)
    raise TypeError(f"instances(): values must be int, str or date, not {type(value).__name__}")


def _plan(build: Callable[..., models.QuerySet[Any]], values: Sequence[Any], using: str) -> _Plan:
    from django.db.models.query import (  # type: ignore[attr-defined]
        ModelIterable,
        get_related_populators,
    )

    rounds = []
    for round_ in (0, 1):
        stand_ins = [_stand_in(round_, i, value) for i, value in enumerate(values)]
        queryset = build(*stand_ins)
        if (
            queryset._iterable_class is not ModelIterable
            or queryset._prefetch_related_lookups  # type: ignore[attr-defined]
            or queryset._known_related_objects  # type: ignore[attr-defined]
        ):
            # What the ORM adds after the SQL (prefetches, a related manager's instance)
            # is not in the plan: the caller attaches such objects itself (see attach()).
            raise ValueError("instances(): a model queryset from the model's manager only")
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()  # fills compiler.select, klass_info...
        rounds.append((stand_ins, sql, tuple(params)))
    slots = _slots(rounds, (None, connections[using].ops.adapt_datefield_value))
    _stand_ins, sql, params = rounds[1]
    select, info = compiler.select, compiler.klass_info
    fields = info["select_fields"]
    span = slice(fields[0], fields[-1] + 1)
    return _Plan(
        sql=stable(sql),  # a key swapped in: one plan serves every value
        params=tuple(params),
        slots=slots,
        compiler=compiler,
        converters=compiler.get_converters([column[0] for column in select[: compiler.col_count]]),
        model=info["model"],
        names=tuple(column[0].target.attname for column in select[span]),
        span=span,
        populators=tuple(get_related_populators(info, select, using)),
        annotations=tuple(compiler.annotation_col_map.items()),
    )


Round = tuple[list[Any], str, tuple[Any, ...]]
Form = Callable[[Any], Any] | None


def _slots(rounds: list[Round], forms: Sequence[Form]) -> tuple[tuple[int, int, Form], ...]:
    """Where each value goes among the parameters: the positions that differ between two
    compilations with different stand-ins, and hold those stand-ins as they are, or in
    one of ``forms`` (a date as the database takes it: a string for SQLite)."""
    (first, sql_a, params_a), (second, sql_b, params_b) = rounds
    if sql_a != sql_b or len(params_a) != len(params_b):
        raise ValueError("instances(): the SQL must not depend on the values")
    slots = []
    for at, (a, b) in enumerate(zip(params_a, params_b, strict=True)):
        if a != b:
            slots.append((at, *_source(a, b, first, second, forms)))
    if {value_at for _at, value_at, _form in slots} != set(range(len(first))):
        raise ValueError("instances(): every value must reach the SQL")
    return tuple(slots)


def _source(
    a: Any, b: Any, first: list[Any], second: list[Any], forms: Sequence[Form]
) -> tuple[int, Form]:
    """Which value (and in which form) gave the parameters ``a`` and ``b`` of the rounds."""
    for value_at, (one, other) in enumerate(zip(first, second, strict=True)):
        for form in forms:
            if type(one) is datetime.date or form is None:
                shaped = (one, other) if form is None else (form(one), form(other))
                if shaped == (a, b):
                    return value_at, form
    # The ORM rewrote a value (a LIKE pattern...): it cannot be swapped in.
    raise ValueError("instances(): every value must reach the SQL as it is")


def instances(
    model: type[models.Model],
    key: tuple[Any, ...],
    build: Callable[..., models.QuerySet[Any]],
    *values: Any,
) -> list[Any]:
    """``list(build(*values))``: instances of ``model`` with their ``select_related``
    objects, on SQL the ORM compiles once per ``key`` (and thread's connection).

    ``build`` is called once, with stand-ins for ``values`` (ints, strings and dates the query
    uses as they are, as in ``filter(pk=...)``); later calls swap the values into the
    compiled parameters. ``key`` names everything else the SQL depends on: which query
    it is and, for a scoped one, the user's organisation.

    The SQL is marked stable (gonghui/plans.py): PostgreSQL may plan it once for every
    value. That is right for rows found by key (a file, its children, a household's
    members); a list whose size depends on the values (a union's files) does not belong
    here.
    """
    using = router.db_for_read(model)
    connection = connections[using]
    plan: _Plan = _remembered(
        ("instances", model, connection, *key), lambda: _plan(build, values, using)
    )
    params = list(plan.params)
    for at, value_at, form in plan.slots:
        params[at] = values[value_at] if form is None else form(values[value_at])
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        rows: Iterable[Any] = cursor.fetchall()
    if plan.converters:
        rows = plan.compiler.apply_converters(rows, plan.converters)
    return [_instance(plan, row, using) for row in rows]


def in_bulk(
    model: type[models.Model],
    key: tuple[Any, ...],
    build: Callable[[list[Any]], models.QuerySet[Any]],
    pks: Iterable[Any],
) -> dict[Any, Any]:
    """``{pk: instance}`` of ``build(pks)`` (a ``filter(pk__in=pks)``), on SQL compiled once
    per power of two of the number of keys: the list is padded with its last key, so that
    the lists of 3 and of 4 keys share one plan."""
    wanted = sorted(set(pks))
    if not wanted:
        return {}
    size = 1 << (len(wanted) - 1).bit_length()
    padded = wanted + [wanted[-1]] * (size - len(wanted))
    found = instances(model, (*key, size), lambda *stand_ins: build(list(stand_ins)), *padded)
    return {row.pk: row for row in found}


def _instance(plan: _Plan, row: Sequence[Any], using: str) -> models.Model:
    found = plan.model.from_db(using, plan.names, row[plan.span])
    for populator in plan.populators:
        populator.populate(row, found)
    for name, at in plan.annotations:
        setattr(found, name, row[at])
    return found


# --- one record's rows of a related table ---------------------------------------------------


def children(
    model: type[models.Model], field: str, value: Any, *, limit: int | None = None
) -> list[Any]:
    """``model.objects.filter(field=value)`` in the model's default order (the first
    ``limit``), on SQL compiled once: the case page reads ten such lists of one file."""

    def build(stand_in: Any) -> models.QuerySet[Any]:
        rows = model._default_manager.filter(**{field: stand_in})
        return rows[:limit] if limit else rows

    return instances(model, ("children", field, limit), build, value)
