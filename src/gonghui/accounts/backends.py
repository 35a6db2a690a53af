"""Authentication that loads a user's organisation with the user, on SQL compiled once.

Nearly every request reads ``request.user.organisation`` (scoping, the page header), so the
session's user is fetched with its organisation in one query instead of two; and as every
request runs that query, the ORM compiles it once per process (:func:`gonghui.rows.instances`:
0.58 ms -> 0.15 ms of CPU a request).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from gonghui.rows import instances

from .models import User


def _with_organisation(pk: int) -> QuerySet[User]:
    return User.objects.select_related("organisation").filter(pk=pk)


def user_with_organisation(user_id: Any) -> User | None:
    """The user with their organisation (None when they have none), or None."""
    try:
        key = User._meta.pk.to_python(user_id)  # type: ignore[union-attr]
    except ValidationError:  # a tampered session's id finds nobody
        return None
    found = instances(User, ("session-user",), _with_organisation, key)
    return found[0] if found else None


class OrganisationBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user = user_with_organisation(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
