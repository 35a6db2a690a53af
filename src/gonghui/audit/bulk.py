"""Set-based writing: copy rows with INSERT … SELECT, and audit many rows the same way.

Bulk services (approving a hundred thousand assistance lines, paying a batch) change rows
with one statement; the model signals that audit single saves do not fire, so these write
one audit entry per changed row from the same query, inside the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models
from django.db.models import CharField, F, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast

from .models import AuditEntry

AUDIT_COLUMNS = [
    "at", "actor_id", "source", "action", "model", "object_id", "org_path", "file_id", "changes",
]  # fmt: skip


def insert_select(
    model: type[models.Model], columns: list[str], select: models.QuerySet[Any]
) -> int:
    """INSERT INTO model (columns) SELECT …: copy rows inside the database, no Python loop.

    ``select`` must be a ``values()`` queryset whose fields are in the same order as
    ``columns`` (annotate constants with ``Value``). Returns the rows inserted."""
    sql, params = select.query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {sql}", params)
        return int(cursor.rowcount)


def _expression(value: Any) -> Any:
    return value if isinstance(value, Combinable) else Value(value)


def record_rows(
    rows: models.QuerySet[Any],
    *,
    model: type[models.Model],
    action: str,
    at: Any,
    actor: Any,
    source: Any,
    object_id: str,
    org_path: str,
    file_id: str | None,
    changes: Any,
) -> int:
    """One :class:`AuditEntry` per row of ``rows``, in one INSERT … SELECT.

    ``object_id``, ``org_path`` and ``file_id`` name fields (lookups) of the rows; ``at``,
    ``actor`` and ``source`` are values or expressions; ``changes`` is a JSON expression
    (``JSONObject`` of ``JSONArray`` before/after pairs)."""
    select = rows.annotate(
        a_at=_expression(at),
        a_actor=_expression(actor),
        a_source=_expression(source),
        a_action=Value(action),
        a_model=Value(model._meta.label_lower),
        a_object=Cast(object_id, CharField()),
        a_path=F(org_path),
        a_file=F(file_id) if file_id else Value(None, output_field=models.BigIntegerField()),
        a_changes=changes,
    ).values(
        "a_at", "a_actor", "a_source", "a_action", "a_model", "a_object", "a_path", "a_file",
        "a_changes",
    )  # fmt: skip
    return insert_select(AuditEntry, AUDIT_COLUMNS, select.order_by())
