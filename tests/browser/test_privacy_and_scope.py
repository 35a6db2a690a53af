"""Personal data and the organisation tree, as a browser sees them: masked ID numbers in lists,
the full number only on a case page for a role that may see it, a 404 for an outsider that
says nothing about the household, and the login page for the anonymous."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gonghui.people.idnumber import mask_id_number, mask_phone
from tests.factories import Province
from tests.web_helpers import open_file

from .helpers import log_in, path_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lists_mask_the_id_number_and_the_case_page_shows_it_to_the_case_worker(
    page: Any, live_server: Any, province: Province
) -> None:
    luo = open_file(province, name="罗秀英").applicant
    zhang = open_file(province, name="张伟").applicant
    base = live_server.url

    log_in(page, base, province.leo)
    response = page.goto(f"{base}/files/")
    assert response is not None and response.status == 200
    html = response.text()
    for person in (luo, zhang):
        masked = mask_id_number(person.id_number)
        assert masked == person.id_number[:6] + "*" * 8 + person.id_number[-4:]
        assert page.locator("#results td.mono", has_text=masked).count() == 1
        assert person.id_number not in html and person.id_number not in page.content()
        assert person.phone not in html and mask_phone(person.phone) in html

    # Searching by name swaps the results in place (htmx); they are masked too. (A
    # province-wide account searches a whole name: a surname alone is too broad there.)
    with page.expect_response(lambda r: "/files/?" in r.url and "q=" in r.url) as searched:
        page.fill("input[name=q]", "罗秀英")
    assert searched.value.status == 200
    assert luo.id_number not in searched.value.text()
    page.wait_for_selector(f"#results a[href='/files/{zhang.files.get().pk}/']", state="detached")
    assert page.locator("#results tbody tr").count() == 1
    row = page.locator("#results tbody tr")
    assert row.locator("td.mono", has_text=mask_id_number(luo.id_number)).count() == 1
    assert luo.id_number not in page.content()

    # The leader has no right to personal data, even on the case page.
    file = luo.files.get()
    response = page.goto(f"{base}/files/{file.pk}/")
    assert response is not None and response.status == 200
    assert luo.id_number not in response.text()
    assert mask_id_number(luo.id_number) in response.text()

    # The case worker sees the whole number on the case page of one household.
    page.context.clear_cookies()
    log_in(page, base, province.alice)
    response = page.goto(f"{base}/files/{file.pk}/")
    assert response is not None and response.status == 200
    assert page.locator("dd.mono", has_text=luo.id_number).count() == 1
    # ... and still only the masked one in the list.
    response = page.goto(f"{base}/files/")
    assert response is not None and luo.id_number not in response.text()


def test_an_outsider_gets_a_plain_404(page: Any, live_server: Any, province: Province) -> None:
    file = open_file(province, name="罗秀英")
    base = live_server.url
    log_in(page, base, province.charlie)
    for url in (
        f"/files/{file.pk}/",
        f"/files/{file.pk}/finances/",
        f"/households/{file.household_id}/",
    ):
        response = page.goto(f"{base}{url}")
        assert response is not None and response.status == 404, url
        html = page.content()
        assert "罗秀英" not in html, url
        assert (
            file.applicant.id_number not in html
            and mask_id_number(file.applicant.id_number) not in html
        ), url
        assert file.number not in html, url
        # The ordinary page around it: charlie is still logged in and can go back.
        assert page.locator("form[action='/logout/']").count() == 1
        assert page.locator("main a[href='/']").count() == 1


def test_an_anonymous_visitor_is_sent_to_the_login_page(
    page: Any, live_server: Any, province: Province
) -> None:
    file = open_file(province, name="罗秀英")
    base = live_server.url
    for url in ("/", "/files/", f"/files/{file.pk}/", f"/households/{file.household_id}/"):
        response = page.goto(f"{base}{url}")
        assert response is not None and response.status == 200, url
        redirect = response.request.redirected_from
        assert redirect is not None and redirect.url == f"{base}{url}", url
        assert path_of(page) == "/login/", url
        assert parse_qs(urlsplit(page.url).query)["next"] == [url]
        assert page.locator("form[action='/login/'] input[name=password]").count() == 1
        assert "罗秀英" not in page.content()
