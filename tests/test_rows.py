"""Rows read through SQL compiled once (gonghui/rows.py) are what the ORM reads: the same
values, types and order, for every table the case page reads that way."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from gonghui.audit.models import AuditEntry
from gonghui.hardship import services
from gonghui.hardship.models import HardshipFile
from gonghui.rows import children
from tests.cases import filed
from tests.factories import Province

RELATED = ("incomelines", "expenselines", "attachments", "investigations", "readings")
MORE = ("reviews", "follow_ups", "events")


def _values(rows: list[Model]) -> list[dict[str, object]]:
    return [
        {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}
        for row in rows
    ]


def test_a_files_rows_read_as_the_orm_reads_them(province: Province) -> None:
    file = filed(province)
    for month, income in ((1, "900"), (2, "1100.50"), (3, "1300")):
        services.record_income_reading(
            province.alice, file, datetime.date(2025, month, 1), Decimal(income)
        )
    services.periodic_review(province.rita, HardshipFile.objects.get(pk=file.pk), note="年审")
    for name in (*RELATED, *MORE):
        related = getattr(file, name)
        orm = list(related.all())
        with CaptureQueriesContext(connection) as queries:
            found = children(related.model, related.field.name, file.pk)
        assert len(queries) == 1, name
        assert _values(found) == _values(orm), name
        assert [type(row) for row in found] == [type(row) for row in orm], name
    assert len(list(file.readings.all())) == 3 and len(list(file.events.all())) >= 5


def test_the_first_rows_only_and_a_file_with_none(province: Province) -> None:
    file = filed(province)
    orm = list(AuditEntry.objects.filter(file_id=file.pk)[:2])
    found = children(AuditEntry, "file_id", file.pk, limit=2)
    assert len(found) == 2 and _values(found) == _values(orm)
    assert isinstance(found[0].changes, dict) and found[0].at.tzinfo is not None
    assert children(AuditEntry, "file_id", 10**9) == []
