"""Bulk export of hardship files: masked unless the role may see personal data, and logged."""

from __future__ import annotations

import csv
from typing import IO, Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.audit.models import log_export
from gonghui.people.idnumber import mask_id_number, mask_phone

from .models import HardshipFile

CHUNK = 2000


def header() -> list[str]:
    return [
        _("file number"),
        _("applicant"),
        _("ID number"),
        _("phone"),
        _("union responsible"),
        _("status"),
        _("category"),
        _("per-capita monthly net income"),
        _("applied on"),
        _("filed on"),
        _("review due"),
    ]


def export_files(
    user: Any, files: QuerySet[HardshipFile], out: IO[str], filters: dict[str, Any], source: str
) -> int:
    """Write ``files`` (already scoped by the caller) as CSV and log the export."""
    reveal = user.can(Capability.SEE_PERSONAL)
    writer = csv.writer(out)
    writer.writerow(header())
    count = 0
    rows = files.select_related("applicant", "organisation").order_by("id")
    for file in rows.iterator(chunk_size=CHUNK):
        person = file.applicant
        writer.writerow(
            [
                file.number,
                person.name,
                person.id_number if reveal else mask_id_number(person.id_number),
                person.phone if reveal else mask_phone(person.phone),
                file.organisation.name,
                file.get_status_display(),
                file.get_category_display() or file.get_proposed_category_display(),
                file.per_capita_income,
                file.applied_on,
                file.filed_on or "",
                file.review_due or "",
            ]
        )
        count += 1
    log_export(user, "hardship.hardshipfile", count, filters, source)
    return count
