"""Finding a file by the applicant's name, ID number or phone, or by the file number."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from gonghui.accounts.models import User
from gonghui.people.models import Worker
from gonghui.people.search import clean_query, is_name, person_q

from .models import HardshipFile

FILE_NUMBER_LIKE = re.compile(r"^\d{6}-\d{4}-\d{1,6}$")
NAME_SUBQUERY_FROM = 2  # characters
# A surname alone is searched from a city federation down (organisation depth 1 and more).
SURNAME_ALONE_FROM_DEPTH = 1


def surname_too_broad(user: User, q: str) -> bool:
    """A surname alone across the whole province: not searched.

    One applicant in ten is a Wang or a Li: across a province a surname alone matches
    thousands of files, which nobody reads, and costs a walk over every file in the
    province (half a second at 100,000 files). Within a city or a county it is a short
    list, and a quick one. Anyone else adds the given name, or searches by ID number,
    phone or file number.
    """
    raw = clean_query(q)
    organisation = getattr(user, "organisation", None)
    return (
        is_name(raw)
        and len(raw) < NAME_SUBQUERY_FROM
        and organisation is not None
        and organisation.depth < SURNAME_ALONE_FROM_DEPTH
    )


def search_files(user: User, q: str) -> QuerySet[HardshipFile]:
    files = HardshipFile.objects.with_people().for_user(user)
    raw = clean_query(q)
    if not raw:
        return files
    if FILE_NUMBER_LIKE.match(raw):
        return files.filter(number=raw)
    if surname_too_broad(user, raw):
        return files.none()
    if is_name(raw) and len(raw) >= NAME_SUBQUERY_FROM:
        # A given name narrows the workers to a handful: find them through the name index
        # first (SQLite otherwise walks every file in scope). A surname alone matches too
        # many workers for that to pay.
        return files.filter(applicant__in=Worker.objects.filter(person_q(raw)).values("pk"))
    return files.filter(person_q(raw, "applicant__"))
