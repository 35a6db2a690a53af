"""What the browser tests share: logging in and out through the pages, submitting a form and
getting the response it navigated to, and the page's language.

Elements are found by stable attributes only (form field names, URLs, ids in the templates),
never by their text, so the tests pass whatever language the interface speaks. Where a test
compares a message, it asks the code for that message in the language of the page
(``<html lang>``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.utils import translation

from gonghui.accounts.models import User
from tests.factories import PASSWORD

T = TypeVar("T")


def path_of(page: Any) -> str:
    return urlsplit(page.url).path


def submit(page: Any, selector: str) -> Any:
    """Click the submit button ``selector`` and return the response of the page it leads to
    (after any redirect)."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    assert response is not None, f"no response after clicking {selector}"
    return response


def log_in(page: Any, base_url: str, user: User, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("form[action='/login/'] input[name=username]", user.get_username())
    page.fill("form[action='/login/'] input[name=password]", password)
    response = submit(page, "form[action='/login/'] button[type=submit]")
    assert response.status == 200
    assert path_of(page) == "/", f"login as {user} did not reach the work queue: {page.url}"


def log_out(page: Any) -> None:
    response = submit(page, "form[action='/logout/'] button[type=submit]")
    assert response.status == 200
    assert path_of(page) == "/login/"


def language(page: Any) -> str:
    """The language the server rendered the current page in."""
    code = page.locator("html").get_attribute("lang")
    assert code, "the page has no lang attribute"
    return str(code)


def in_language(page: Any, produce: Callable[[], T]) -> T:
    """``produce()`` with the page's language active: the text a message has on that page."""
    with translation.override(language(page)):
        return produce()


def open_action(page: Any, name: str) -> str:
    """Unfold the action ``name`` on the case page (``<details id="act-…">``) and return a
    selector for it."""
    selector = f"details#act-{name}"
    details = page.locator(selector)
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    assert details.get_attribute("open") is not None
    return selector
