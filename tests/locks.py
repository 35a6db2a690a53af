"""A scheduling lock (gonghui/scheduling.py) held by someone else, for the tests of work that
must not run twice at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from gonghui import scheduling


@contextmanager
def held_elsewhere(name: str) -> Iterator[None]:
    """The lock ``name``, held by another thread (its own database connection, as another
    process would be) for the length of the block."""
    taken, release = threading.Event(), threading.Event()
    got: list[bool] = []

    def hold() -> None:
        try:
            with scheduling.exclusive(name) as held:
                got.append(held)
                taken.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(30)
    try:
        assert got == [True]
        yield
    finally:
        release.set()
        thread.join(30)
