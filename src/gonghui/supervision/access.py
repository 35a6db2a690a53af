"""Who supervises: one check of the SUPERVISE capability within the user's subtree.

SUPERVISE (assign and close supervision tasks, read the indicators of the subtree) belongs
to leaders and reviewers (administrators hold every capability); see
``gonghui.accounts.choices.ROLE_CAPABILITIES`` and docs/supervision.md for why auditors,
fund officers and case workers do not have it. The pages, the commands and the services
ask :func:`may_supervise` (or :func:`require_supervise`); nobody re-derives it from roles.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability, Role
from gonghui.errors import NotAllowed
from gonghui.organisations.models import Organisation


def _own(user: Any) -> Organisation | None:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    return getattr(user, "organisation", None)


def is_staff_member(user: Any) -> bool:
    """An active account of a union's staff (any role but worker) with an organisation."""
    return _own(user) is not None and user.role != Role.WORKER


def may_supervise(user: Any, organisation: Organisation | None = None) -> bool:
    """The user holds SUPERVISE and, when ``organisation`` is given, it lies in the user's
    subtree (their own organisation or below it)."""
    own = _own(user)
    if own is None or not user.can(Capability.SUPERVISE):
        return False
    return organisation is None or own.contains(organisation)


def require_supervise(user: Any, organisation: Organisation | None = None) -> None:
    """:func:`may_supervise`, or a refusal that says which half failed."""
    if not may_supervise(user):
        raise NotAllowed(_("Your role does not allow this."))
    if organisation is not None and not may_supervise(user, organisation):
        raise NotAllowed(_("This organisation is outside your part of the tree."))
