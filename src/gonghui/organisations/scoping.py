"""The one scoping mechanism: every read and write goes through ``for_user``.

A scoped model declares ``scope_field``, the lookup from the model to its responsible
:class:`~gonghui.organisations.models.Organisation` (``""`` for Organisation itself).
Views, the API, exports and commands all fetch objects with ``Model.objects.for_user(user)``
or :func:`get_for_user_or_404`, so an object outside the user's subtree simply does not
exist for them: a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.http import Http404

from gonghui.rows import instances

if TYPE_CHECKING:
    from gonghui.accounts.models import User

M = TypeVar("M", bound=models.Model)


class ScopedQuerySet(models.QuerySet[M]):
    def for_user(self, user: User | Any) -> ScopedQuerySet[M]:
        organisation = getattr(user, "organisation", None)
        if not getattr(user, "is_authenticated", False) or organisation is None:
            return self.none()
        field: str = getattr(self.model, "scope_field", "organisation")
        prefix = f"{field}__" if field else ""
        return self.filter(organisation.subtree_q(prefix))


def get_for_user_or_404(
    queryset: models.QuerySet[M] | type[M], user: User | Any, **lookup: Any
) -> M:
    """The object if it lies in the user's subtree; otherwise 404, as if it did not exist."""
    qs = queryset._default_manager.all() if isinstance(queryset, type) else queryset
    if not isinstance(qs, ScopedQuerySet):
        raise TypeError(f"{qs.model.__name__} is not a scoped model")
    try:
        return qs.for_user(user).get(**lookup)
    except qs.model.DoesNotExist:
        raise Http404 from None


def get_for_user_or_404_compiled(
    model: type[M], name: str, queryset: Callable[[], models.QuerySet[M]], user: User | Any, pk: int
) -> M:
    """:func:`get_for_user_or_404` by primary key on SQL compiled once per ``name`` and
    organisation (:func:`gonghui.rows.instances`), for the page every visit opens: the
    query's shape never changes, only the key. ``queryset`` makes the unscoped queryset."""
    organisation = getattr(user, "organisation", None)
    if not getattr(user, "is_authenticated", False) or organisation is None:
        raise Http404

    def build(stand_in: int) -> models.QuerySet[M]:
        qs = queryset()
        if not isinstance(qs, ScopedQuerySet):
            raise TypeError(f"{model.__name__} is not a scoped model")
        return qs.for_user(user).filter(pk=stand_in)

    found = instances(model, (name, organisation.pk, organisation.path), build, int(pk))
    if not found:
        raise Http404
    return found[0]  # type: ignore[no-any-return]


def region_prefix(region: Any) -> str:
    """The code prefix shared by a region and everything under it (GB/T 2260 layout)."""
    from .choices import RegionLevel

    length = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4}.get(region.level, 6)
    return str(region.code[:length])


class RegionScopedQuerySet(ScopedQuerySet[M]):
    """Scope for records keyed by region rather than organisation (policies, standards):
    a user reaches the regions under their organisation's region."""

    def for_user(self, user: User | Any) -> RegionScopedQuerySet[M]:
        organisation = getattr(user, "organisation", None)
        region = getattr(organisation, "region", None)
        if not getattr(user, "is_authenticated", False) or region is None:
            return self.none()
        field: str = getattr(self.model, "scope_field", "region")
        return self.filter(**{f"{field}__code__startswith": region_prefix(region)})
