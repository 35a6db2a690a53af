"""Django's database sessions, loaded with SQL written once.

Every request loads its session; Django's store compiles that query each time (0.3 ms of
CPU against 0.06 ms to run it). Saving, creating and deleting stay Django's own.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.utils import timezone

from gonghui.plans import stable
from gonghui.rows import Shape

SESSION = Shape(Session, "s")


@cache
def _load_sql(using: str) -> str:
    connection = connections[using]
    data, key, expires = (
        SESSION.column(connection, name) for name in ("session_data", "session_key", "expire_date")
    )
    table = SESSION.table(connection)
    return stable(f"SELECT {data} FROM {table} WHERE {key} = %s AND {expires} > %s")


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        using = router.db_for_read(Session)
        connection = connections[using]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_load_sql(using), [self.session_key, now])
            row = cursor.fetchone()
        if row is None:  # expired or unknown: a new session key will be made on save
            self._session_key = None
            return {}
        return self.decode(row[0])  # type: ignore[no-any-return]
