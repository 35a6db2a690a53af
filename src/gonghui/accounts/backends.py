"""Authentication that loads a user's organisation with the user, in SQL written once.

Nearly every request reads ``request.user.organisation`` (scoping, the page header), so the
session's user is fetched with its organisation in one query instead of two; and as every
request runs that query, its SQL is not compiled by the ORM on each of them
(:mod:`gonghui.rows`: 0.58 ms -> 0.15 ms of CPU a request).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router

from gonghui.organisations.models import Organisation
from gonghui.plans import stable
from gonghui.rows import Shape

from .models import User

USER = Shape(User, "u")
ORGANISATION = Shape(Organisation, "o")


@cache
def _user_sql(using: str) -> str:
    connection = connections[using]
    columns = ", ".join(USER.columns(connection) + ORGANISATION.columns(connection))
    return stable(
        f"SELECT {columns} FROM {USER.table(connection)} "
        f"LEFT JOIN {ORGANISATION.table(connection)} "
        f"ON {ORGANISATION.column(connection, 'pk')} = {USER.column(connection, 'organisation')} "
        f"WHERE {USER.column(connection, 'pk')} = %s"
    )


def user_with_organisation(user_id: Any) -> User | None:
    """The user with their organisation (None when they have none), or None."""
    using = router.db_for_read(User)
    connection = connections[using]
    try:
        key = User._meta.pk.to_python(user_id)  # type: ignore[union-attr]
    except ValidationError:  # a tampered session's id finds nobody
        return None
    with connection.cursor() as cursor:
        cursor.execute(_user_sql(using), [key])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(USER.fields)
    user = USER.build(row[:split], connection)
    if row[split] is not None:
        user.organisation = ORGANISATION.build(row[split:], connection)  # type: ignore[attr-defined]
    else:
        User.organisation.field.set_cached_value(user, None)  # type: ignore[attr-defined]
    return user  # type: ignore[return-value]


class OrganisationBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user = user_with_organisation(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
