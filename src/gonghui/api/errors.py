"""Every error of the API in one shape, decided in one place.

The services raise typed domain errors (:mod:`gonghui.errors`), models raise Django's
``ValidationError`` from ``full_clean`` and serializers raise DRF's. The handler below turns
each into one body::

    {"detail": "<the first message>", "field": "<the input at fault, or null>",
     "errors": {"<field>": ["<message>", ...]}}

Nested inputs are named by dotted paths (``incomes.0.amount``). Messages are already
translated: they are made under the language LocaleMiddleware activated for the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from gonghui.errors import Conflict, DomainError, NotAllowed

Errors = dict[str, list[str]]


def body(detail: str, field: str | None, errors: Errors | None = None) -> dict[str, Any]:
    return {"detail": detail, "field": field, "errors": errors or {}}


def body_from_errors(errors: Errors) -> dict[str, Any]:
    """The first field and message lead; every message stays in ``errors``."""
    if not errors:
        return body(str(exceptions.ValidationError.default_detail), None)
    field, messages = next(iter(errors.items()))
    first = messages[0] if messages else str(exceptions.ValidationError.default_detail)
    return body(first, None if field == api_settings.NON_FIELD_ERRORS_KEY else field, errors)


def _path(prefix: str, key: object) -> str:
    name = api_settings.NON_FIELD_ERRORS_KEY if key == NON_FIELD_ERRORS else str(key)
    return f"{prefix}.{name}" if prefix else name


def flatten(detail: Any, prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """DRF's nested error detail as ``(dotted path, messages)`` pairs."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from flatten(value, _path(prefix, key))
    elif isinstance(detail, list):
        messages = [str(item) for item in detail if isinstance(item, str)]
        if messages:
            yield prefix or api_settings.NON_FIELD_ERRORS_KEY, messages
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):  # one entry per row of a many=True serializer
                yield from flatten(item, _path(prefix, index))
    else:
        yield prefix or api_settings.NON_FIELD_ERRORS_KEY, [str(detail)]


def django_errors(exc: DjangoValidationError) -> Errors:
    if hasattr(exc, "error_dict"):
        return {_path("", key): list(messages) for key, messages in exc.message_dict.items()}
    return {api_settings.NON_FIELD_ERRORS_KEY: list(exc.messages)}


def domain_status(exc: DomainError) -> int:
    if isinstance(exc, NotAllowed):
        return status.HTTP_403_FORBIDDEN
    if isinstance(exc, Conflict):
        return status.HTTP_409_CONFLICT
    return status.HTTP_400_BAD_REQUEST


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The API's exception handler (set per view; see ``GonghuiAPIView``)."""
    if isinstance(exc, DomainError):
        set_rollback()
        errors = {exc.field or api_settings.NON_FIELD_ERRORS_KEY: [str(exc)]}
        return Response(body(str(exc), exc.field, errors), status=domain_status(exc))
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return Response(body_from_errors(django_errors(exc)), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: let Django answer 500 and log it
    if isinstance(exc, exceptions.ValidationError):
        response.data = body_from_errors(dict(flatten(exc.detail)))
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = body(str(response.data["detail"]), None)
    return response
