"""Finding a person by ID number, phone or name: one parser for every search box.

Every branch is an equality or a prefix range on an indexed column, so search stays fast
at a million workers; names match from the first character (surname first), the way
Chinese names are looked up at a service desk.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import Q, QuerySet

from .idnumber import normalise, upgrade_15
from .models import Worker

ID_LIKE = re.compile(r"^\d{15}$|^\d{17}[\dX]$")
PHONE_LIKE = re.compile(r"^1\d{10}$|^0\d{9,11}$")
# The highest code point sorts after every character a name can continue with.
PREFIX_END = "\U0010ffff"


def prefix(field: str, text: str) -> Q:
    """``field`` starts with ``text``, as an index-friendly range."""
    return Q(**{f"{field}__gte": text, f"{field}__lt": text + PREFIX_END})


def clean_query(q: str | None) -> str:
    return unicodedata.normalize("NFKC", q or "").strip()


def is_name(q: str) -> bool:
    text = normalise(clean_query(q))
    return bool(text) and not ID_LIKE.match(text) and not PHONE_LIKE.match(text)


def person_q(q: str, path: str = "") -> Q:
    """A filter for the person ``q`` names; ``path`` leads from the model to the Worker."""
    raw = clean_query(q)
    text = normalise(raw)
    if ID_LIKE.match(text):
        return Q(**{f"{path}id_number": upgrade_15(text) if len(text) == 15 else text})
    if PHONE_LIKE.match(text):
        return Q(**{f"{path}phone": text})
    return prefix(f"{path}name", raw)


def search_workers(user: Any, q: str) -> QuerySet[Worker]:
    workers = Worker.objects.for_user(user).select_related("organisation", "region")
    return workers.filter(person_q(q)) if clean_query(q) else workers
