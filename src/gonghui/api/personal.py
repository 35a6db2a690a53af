"""The API's one rule for personal data (PIPL, DESIGN §5).

ID numbers and phones are shown in full only in a response about one household (a file,
a household, a worker) and only to a role with ``SEE_PERSONAL``; every list is masked.
A view decides once with :func:`reveals_personal` and passes ``reveal`` in the serializer
context; the fields below read it, so no serializer decides on its own. A date of birth
is hidden whenever the ID number is masked: it is eight of the ten masked digits.
"""

from __future__ import annotations

import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gonghui.people.personal import MASKS, shown
from gonghui.people.personal import may_reveal as reveals_personal

__all__ = ["BirthDateField", "PersonalField", "reveals_personal"]


def _revealed(field: serializers.Field) -> bool:
    return bool(field.context.get("reveal", False))


@extend_schema_field(OpenApiTypes.STR)
class PersonalField(serializers.Field):
    """An ID number (``kind="id"``) or phone (``kind="phone"``), masked unless revealed."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        if kind not in MASKS:
            raise ValueError(kind)
        self.kind = kind
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: str) -> str:
        return shown(value, self.kind, _revealed(self))


class BirthDateField(serializers.DateField):
    """A date of birth, or null while the ID number it comes from is masked."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(read_only=True, allow_null=True)
        super().__init__(**kwargs)

    def to_representation(self, value: datetime.date | None) -> Any:
        if value is None or not _revealed(self):
            return None
        return super().to_representation(value)
