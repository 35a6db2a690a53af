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


def search_files(user: User, q: str) -> QuerySet[HardshipFile]:
    files = HardshipFile.objects.with_people().for_user(user)
    raw = clean_query(q)
    if not raw:
        return files
    if FILE_NUMBER_LIKE.match(raw):
        return files.filter(number=raw)
    if is_name(raw) and len(raw) >= NAME_SUBQUERY_FROM:
        # A given name narrows the workers to a handful: find them through the name index
        # first (SQLite otherwise walks every file in scope). A surname alone matches too
        # many workers for that to pay.
        return files.filter(applicant__in=Worker.objects.filter(person_q(raw)).values("pk"))
    return files.filter(person_q(raw, "applicant__"))
