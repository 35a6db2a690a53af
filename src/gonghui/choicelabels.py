"""``get_FOO_display()`` from a table made once per field and language.

Django's own builds a dict of the field's choices on every call (21 µs; the case page makes
about forty such calls, the queue's and search's rows more). Our choices are fixed
enumerations (``TextChoices``), so the table of a field's labels, translated, can be kept
per language: the same answer as Django's, a dictionary lookup instead.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import get_language

_TABLES: dict[tuple[models.Field[Any, Any], str | None], dict[Any, str]] = {}


def label(field: models.Field[Any, Any], value: Any) -> Any:
    """The label of ``value`` among the choices of ``field``, in the active language: what
    ``Model._get_FIELD_display`` gives (the value itself when it is not a choice)."""
    key = (field, get_language())
    table = _TABLES.get(key)
    if table is None:
        table = _TABLES[key] = {make_hashable(v): str(text) for v, text in field.flatchoices}
    try:
        found = table.get(value, value)
    except TypeError:  # an unhashable value (a list): as Django compares it
        found = table.get(make_hashable(value), value)
    return force_str(found, strings_only=True)


class ChoiceLabels(models.Model):
    """Abstract base: the model's ``get_FOO_display()`` read from :func:`label`."""

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field: models.Field[Any, Any]) -> Any:
        return label(field, getattr(self, field.attname))
