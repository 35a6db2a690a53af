"""``get_FOO_display()`` from a table made once per field and language.

Django's own builds a dict of the field's choices on every call (21 µs; the case page makes
about forty such calls, the queue's and search's rows more). Our choices are fixed
enumerations (``TextChoices``), so the table of a field's labels, translated, can be kept
per language: the same answer as Django's, a dictionary lookup instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import get_language

_TABLES: dict[tuple[Any, str | None], dict[Any, str]] = {}


def _table(key: Any, choices: Callable[[], Iterable[tuple[Any, Any]]]) -> dict[Any, str]:
    """``choices()`` as value -> label in the active language, made once per key and
    language (``choices`` is called only then: Django builds the list on each access)."""
    language = get_language()
    table = _TABLES.get((key, language))
    if table is None:
        table = _TABLES[(key, language)] = {make_hashable(v): str(text) for v, text in choices()}
    return table


def _look_up(table: dict[Any, str], value: Any) -> Any:
    try:
        found = table.get(value, value)
    except TypeError:  # an unhashable value (a list): as Django compares it
        found = table.get(make_hashable(value), value)
    return force_str(found, strings_only=True)


def label(field: models.Field[Any, Any], value: Any) -> Any:
    """The label of ``value`` among the choices of ``field``, in the active language: what
    ``Model._get_FIELD_display`` gives (the value itself when it is not a choice)."""
    return _look_up(_table(field, lambda: field.flatchoices), value)


def choice_label(choices: type[models.Choices], value: Any) -> Any:
    """The label of ``value`` in an enumeration (``FileStatus``...), in the active language
    (the value itself when it is not one of them)."""
    return _look_up(_table(choices, lambda: choices.choices), value)


class ChoiceLabels(models.Model):
    """Abstract base: the model's ``get_FOO_display()`` read from :func:`label`."""

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field: models.Field[Any, Any]) -> Any:
        return label(field, getattr(self, field.attname))
