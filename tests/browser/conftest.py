"""Browser tests: the real pages in Debian's Chromium, driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium, which
`scripts/chromium.sh` installs. Outside CI a missing Chromium skips these tests; in CI
(CI=true) it fails them, because no tier may silently skip. Each module here sets
``pytestmark = pytest.mark.browser`` so that `make test-browser` selects exactly these.

When a test fails, the page as it was is saved to the test's ``tmp_path`` (failure.png,
failure.html) and the paths are printed in the failure report, under "browser".
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        message = f"Chromium not found at {CHROMIUM}: run scripts/chromium.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    # tmp_path is requested so that a failure can be saved there (see the hook below).
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failed test, save a screenshot and the HTML of the page while it is still open."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    page, tmp_path = funcargs.get("page"), funcargs.get("tmp_path")
    if report.when == "call" and report.failed and page is not None and tmp_path is not None:
        try:
            if page.is_closed():
                raise RuntimeError("the page is closed")
            shot, html = tmp_path / "failure.png", tmp_path / "failure.html"
            page.screenshot(path=str(shot), full_page=True)
            html.write_text(page.content(), encoding="utf-8")
            text = f"url: {page.url}\nscreenshot: {shot}\nhtml: {html}"
        except Exception as exc:  # the report matters more than the screenshot
            text = f"no screenshot: {exc!r}"
        report.sections.append(("browser", text))
    return report
