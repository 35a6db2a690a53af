"""Helpers shared by the web tests (tests/test_web_*.py): files built through the services,
and a tiny PNG for uploads."""

from __future__ import annotations

import datetime
import struct
import zlib

from django.test import Client

from gonghui.accounts.models import User
from gonghui.hardship.models import HardshipFile
from tests import cases
from tests.cases import APPLIED, end_notice, filed, under_notice
from tests.factories import Province

__all__ = ["APPLIED", "end_notice", "filed", "logged_in", "open_file", "png_bytes", "under_notice"]


def open_file(p: Province, applied: datetime.date = APPLIED, name: str = "张伟") -> HardshipFile:
    """The web tests' file: a county-level household with 1,200 of illness costs."""
    return cases.open_file(p, applied=applied, name=name, illness="1200", union=p.yaohai)


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
