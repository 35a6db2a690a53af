"""Model instances from SQL written once, for the queries every page view runs.

Django compiles a query each time it runs it: for the session's user with their union
that is 0.5 ms of CPU against 0.09 ms to run the same SQL, on every page; the case page
reads ten lists of one file's rows, and compiling them was a fifth of its CPU. These
queries keep one shape, so their SQL is written once per process (from the models'
metadata, or by the ORM itself in :func:`children`), and the rows become model instances
through the same converters and ``Model.from_db`` the ORM uses: a SQLite date comes back
as a date, a JSON column as a dict.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True)
class Shape:
    """Every concrete column of ``model``, read from the table aliased ``alias``."""

    model: type[models.Model]
    alias: str

    @property
    def fields(self) -> Sequence[models.Field[Any, Any]]:
        return self.model._meta.concrete_fields  # type: ignore[return-value]

    def columns(self, connection: BaseDatabaseWrapper) -> list[str]:
        quote = connection.ops.quote_name
        return [f"{self.alias}.{quote(field.column)}" for field in self.fields]

    def column(self, connection: BaseDatabaseWrapper, name: str) -> str:
        """One column, by field name (``pk`` for the primary key)."""
        meta = self.model._meta
        field = meta.pk if name == "pk" else meta.get_field(name)
        return f"{self.alias}.{connection.ops.quote_name(str(field.column))}"  # type: ignore[union-attr]

    def table(self, connection: BaseDatabaseWrapper) -> str:
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}"

    def build(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> models.Model:
        readers = _readers(self, connection)
        converted = []
        for value, (expression, converters) in zip(values, readers, strict=True):
            for converter in converters:
                value = converter(value, expression, connection)
            converted.append(value)
        names = [field.attname for field in self.fields]
        return self.model.from_db(connection.alias, names, converted)


@cache
def _readers(
    shape: Shape, connection: BaseDatabaseWrapper
) -> tuple[tuple[Any, tuple[Converter, ...]], ...]:
    """Per column: the expression the ORM would have read it as, and its converters (bound
    to this thread's connection, hence the connection in the key)."""
    readers = []
    for field in shape.fields:
        expression = field.get_col(shape.model._meta.db_table)
        converters = connection.ops.get_db_converters(expression)
        converters += field.get_db_converters(connection)  # type: ignore[attr-defined]
        readers.append((expression, tuple(converters)))
    return tuple(readers)


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
_COMPILED: OrderedDict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = OrderedDict()


def compiled(
    key: tuple[Any, ...],
    build: Callable[[], models.QuerySet[Any]],
    wrap: Callable[[str], str] = str,
) -> tuple[str, tuple[Any, ...]]:
    """The SQL (passed through ``wrap``) and parameters of the queryset ``build`` makes,
    compiled once per ``key``: for a query whose text depends only on the key. The 512
    most recently used are kept."""
    found = _COMPILED.get(key)
    if found is None:
        sql, params = build().query.sql_with_params()
        found = _COMPILED[key] = (wrap(sql), tuple(params))
        while len(_COMPILED) > COMPILED_CACHE_SIZE:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(key)
    return found


# --- one record's rows of a related table ---------------------------------------------------

# Stands for the looked-up value while the ORM compiles the query; found again in its params.
_PLACEHOLDER = -7_734_001


def children(
    model: type[models.Model], field: str, value: Any, *, limit: int | None = None
) -> list[Any]:
    """``model.objects.filter(field=value)`` in the model's default order (the first
    ``limit``), as model instances, on the ORM's own SQL compiled once: the case page reads
    ten such lists of one file."""
    using = router.db_for_read(model)
    shape = Shape(model, "")

    def build() -> models.QuerySet[Any]:
        rows = model._default_manager.using(using).filter(**{field: _PLACEHOLDER})
        query = rows.values_list(*(f.attname for f in shape.fields))
        return query[:limit] if limit else query

    sql, params = compiled(("children", model, field, limit, using), build)
    bound = list(params)
    bound[params.index(_PLACEHOLDER)] = value
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, bound)
        rows = cursor.fetchall()
    return [shape.build(row, connection) for row in rows]
