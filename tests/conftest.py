import os
from pathlib import Path
from collections.abc import Iterator

import pytest
from django.utils import translation

from tests.factories import Province, build_province

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
    # Scheduling and refresh locks are files on SQLite: keep them out of the checkout's var/.
    settings.GONGHUI_LOCK_DIR = Path(tmp_path) / "locks"  # type: ignore[attr-defined]
    # Creating a dozen users with the real hasher would take seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
