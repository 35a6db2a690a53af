"""Helpers shared by the web tests (tests/test_web_*.py): files built through the services,
and a tiny PNG for uploads."""

from __future__ import annotations

import datetime
import struct
import zlib
from decimal import Decimal

from django.test import Client

from gonghui.accounts.models import User
from gonghui.hardship import services
from gonghui.hardship.choices import ExpenseKind, HardshipCause, IncomeKind
from gonghui.hardship.models import HardshipFile
from gonghui.hardship.services import Application, Line, Visit
from tests.factories import Province, household, worker

APPLIED = datetime.date(2024, 3, 1)  # Hefei 2024: 低保 620


def open_file(p: Province, applied: datetime.date = APPLIED, name: str = "张伟") -> HardshipFile:
    head = worker(p.yaohai_union, p.yaohai_region, name=name)
    home = household(p.yaohai, p.yaohai_region, head, size=3)
    file = services.open_application(
        p.alice,
        Application(
            household=home,
            applicant=head,
            primary_cause=HardshipCause.MAJOR_ILLNESS,
            secondary_causes=[HardshipCause.CHILDREN_IN_SCHOOL],
            applied_on=applied,
        ),
    )
    return services.set_finances(
        p.alice,
        file,
        incomes=[Line(IncomeKind.WAGES, Decimal("18000"))],
        expenses=[Line(ExpenseKind.ILLNESS, Decimal("1200"))],
    )


def under_notice(p: Province, file: HardshipFile) -> HardshipFile:
    services.record_investigation(p.alice, file, Visit(visited_on=file.applied_on, findings="x"))
    return services.submit_for_notice(p.alice, HardshipFile.objects.get(pk=file.pk))


def end_notice(file: HardshipFile) -> None:
    HardshipFile.objects.filter(pk=file.pk).update(notice_end=datetime.date(2024, 3, 10))


def filed(p: Province) -> HardshipFile:
    file = under_notice(p, open_file(p))
    end_notice(file)
    file = services.review(p.rita, HardshipFile.objects.get(pk=file.pk))
    return services.approve(p.rita, file)


def logged_in(client: Client, user: User, language: str = "en") -> Client:
    """The client as ``user``; English so tests can read the source strings."""
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A valid, tiny grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
