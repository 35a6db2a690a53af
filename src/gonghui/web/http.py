"""Typed requests and the small helpers every view shares."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails

from gonghui.accounts.models import User
from gonghui.errors import Conflict, DomainError, NotAllowed


class AuthedRequest(HttpRequest):
    """A request behind ``login_required``: ``user`` is a real :class:`User`."""

    user: User
    htmx: HtmxDetails


def require_capability(request: AuthedRequest, capability: str) -> None:
    """Pages an account's role has no use for are refused outright (403)."""
    if not request.user.can(capability):
        raise PermissionDenied


def paginate(request: HttpRequest, queryset: QuerySet, per_page: int) -> Page:
    """One page of ``queryset``; a page number out of range shows the last page."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def error_status(exc: DomainError) -> int:
    """The HTTP status a page answers with when a service refuses an action."""
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, Conflict):
        return 409
    return 400


def attach_error(request: HttpRequest, form: BaseForm, exc: DomainError) -> None:
    """Show a service's refusal next to the field it names, or above the form."""
    if exc.field and exc.field in form.fields:
        form.add_error(exc.field, str(exc))
    else:
        form.add_error(None, str(exc))
        messages.error(request, str(exc))


def wants_partial(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page (not a history restore, which needs the
    whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request  # type: ignore[union-attr]


def render_page(
    request: HttpRequest, page: str, partial: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """The whole page, or only its swappable part for htmx; caches keep them apart."""
    response = render(request, partial if wants_partial(request) else page, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
