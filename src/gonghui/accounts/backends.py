"""Authentication that loads a user's organisation with the user.

Nearly every request reads ``request.user.organisation`` (scoping, the page header), so the
session's user is fetched with its organisation in one query instead of two.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class OrganisationBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        users = get_user_model()._default_manager.select_related("organisation")
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
