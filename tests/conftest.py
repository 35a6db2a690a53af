from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import translation

from tests.factories import Province, build_province

if TYPE_CHECKING:
    from tests.test_discovery_screening import World

# Playwright's sync API runs an event loop in the test thread; the ORM calls that browser
# tests make around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def province(db: None) -> Province:
    return build_province()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Domain messages in English unless a test asks for another language: the language a
    previous test's request left active must not decide what this test reads."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media_root(settings: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")  # type: ignore[attr-defined]
    # Scheduling and refresh locks are files on SQLite: keep them out of the checkout's var/,
    # and so the imported lists, snapshots and linkage files of discovery.
    settings.GONGHUI_LOCK_DIR = Path(tmp_path) / "locks"  # type: ignore[attr-defined]
    settings.GONGHUI_DISCOVERY_DIR = Path(tmp_path) / "discovery"  # type: ignore[attr-defined]
    # Creating a dozen users with the real hasher would take seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def inline_jobs(settings: Any) -> None:
    """Background work (imports, screening jobs, indicator refreshes) runs in the test's own
    process, so the test sees it finished; a module asks for it with ``usefixtures``."""
    settings.GONGHUI_JOBS_INLINE = True


@pytest.fixture
def world(province: Province, tmp_path: Path) -> World:
    """The small hand-built discovery world of tests/test_discovery_screening.py (a module
    that builds a world of its own defines its own ``world``)."""
    from tests.test_discovery_screening import World

    return World(province, tmp_path)
