"""Finding a file by the applicant's name, ID number or phone, or by the file number.

Every branch is an equality or a prefix range on an indexed column, so search stays
fast at a million workers; names match from the first character (surname first), the
way Chinese names are searched at a service desk.
"""

from __future__ import annotations

import re
import unicodedata

from django.db.models import Q, QuerySet

from gonghui.accounts.models import User
from gonghui.people.idnumber import normalise, upgrade_15

from .models import HardshipFile

ID_LIKE = re.compile(r"^\d{15}$|^\d{17}[\dX]$")
PHONE_LIKE = re.compile(r"^1\d{10}$|^0\d{9,11}$")
FILE_NUMBER_LIKE = re.compile(r"^\d{6}-\d{4}-\d{1,6}$")
# The highest code point sorts after every character a name can continue with.
PREFIX_END = "\U0010ffff"


def prefix(field: str, text: str) -> Q:
    """``field`` starts with ``text``, as an index-friendly range."""
    return Q(**{f"{field}__gte": text, f"{field}__lt": text + PREFIX_END})


def search_files(user: User, q: str) -> QuerySet[HardshipFile]:
    files = HardshipFile.objects.with_people().for_user(user)
    raw = unicodedata.normalize("NFKC", q or "").strip()
    if FILE_NUMBER_LIKE.match(raw):  # before normalise(), which drops the dashes
        return files.filter(number=raw)
    text = normalise(raw)
    if not text:
        return files
    if ID_LIKE.match(text):
        number = upgrade_15(text) if len(text) == 15 else text
        return files.filter(applicant__id_number=number)
    if PHONE_LIKE.match(text):
        return files.filter(applicant__phone=text)
    return files.filter(prefix("applicant__name", raw))
