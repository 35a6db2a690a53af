"""The work queue, the file search and the notice list: masked personal data, filters and a
constant number of queries whatever the number of rows."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gonghui.hardship.choices import FileStatus, HardshipCategory
from gonghui.hardship.models import HardshipFile
from gonghui.hardship.search import search_files
from gonghui.people.idnumber import mask_id_number, mask_phone
from tests.factories import Province
from tests.web_helpers import logged_in, open_file, under_notice

# Applied yesterday: still within the days allowed to investigate, whatever today is.
RECENT = timezone.localdate() - datetime.timedelta(days=1)


def _count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def _open_many(p: Province, count: int) -> list[HardshipFile]:
    return [open_file(p, applied=RECENT, name=f"王{index}") for index in range(count)]


@pytest.mark.django_db
def test_the_queue_masks_ids_and_links_each_file(client: Client, province: Province) -> None:
    file = open_file(province)
    page = logged_in(client, province.alice).get(reverse("queue")).content.decode()
    assert file.number in page
    assert mask_id_number(file.applicant.id_number) in page
    assert file.applicant.id_number not in page
    assert reverse("file-detail", args=[file.pk]) in page


@pytest.mark.django_db
def test_the_queue_filters_by_kind_and_swaps_for_htmx(client: Client, province: Province) -> None:
    late = open_file(province)  # applied in 2024, never investigated: overdue
    fresh = open_file(province, applied=RECENT)
    logged_in(client, province.alice)
    page = client.get(reverse("queue"), {"kind": "investigate"}).content.decode()
    assert fresh.number in page
    response = client.get(reverse("queue"), {"kind": "overdue"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert late.number in body and fresh.number not in body
    assert "<html" not in body and 'id="queue-panel"' in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_the_queue_runs_a_constant_number_of_queries(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    _open_many(province, 5)
    logged_in(client, province.alice)
    client.get(reverse("queue"))  # the first page of the day builds the user's digest
    few = _count_queries(client, reverse("queue"))
    _open_many(province, 25)
    with django_assert_num_queries(few):  # type: ignore[operator]
        response = client.get(reverse("queue"))
    assert response.content.decode().count('data-label="File number"') == 30


@pytest.mark.django_db
def test_the_search_runs_a_constant_number_of_queries(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    _open_many(province, 5)
    logged_in(client, province.alice)
    url = reverse("file-list") + "?q=王"
    few = _count_queries(client, url)
    _open_many(province, 25)
    with django_assert_num_queries(few):  # type: ignore[operator]
        response = client.get(url)
    assert response.content.decode().count('data-label="File number"') == 30


@pytest.mark.django_db
def test_the_search_finds_by_name_id_phone_and_number(client: Client, province: Province) -> None:
    file = open_file(province, name="欧阳娜")
    other = open_file(province, name="李强")
    logged_in(client, province.alice)
    applicant = file.applicant
    for q in ["欧阳", applicant.id_number, applicant.phone, file.number]:
        page = client.get(reverse("file-list"), {"q": q}).content.decode()
        assert file.number in page, q
        assert other.number not in page, q
        table = page[page.index("<table") : page.index("</table>")]
        assert mask_phone(applicant.phone) in table
        assert applicant.phone not in table and applicant.id_number not in table
    page = client.get(reverse("file-list"), {"q": "赵"}).content.decode()
    assert "No file matches" in page


@pytest.mark.django_db
def test_the_search_filters_by_status_and_category(client: Client, province: Province) -> None:
    draft = open_file(province, applied=RECENT)
    noticed = under_notice(province, open_file(province, applied=RECENT))
    HardshipFile.objects.filter(pk=draft.pk).update(proposed_category=HardshipCategory.RELATIVE)
    logged_in(client, province.alice)
    page = client.get(reverse("file-list"), {"status": FileStatus.NOTICE}).content.decode()
    assert noticed.number in page and draft.number not in page
    page = client.get(reverse("file-list"), {"category": "relative"}).content.decode()
    assert draft.number in page and noticed.number not in page


@pytest.mark.django_db
def test_the_notice_list_groups_by_union_with_masked_ids(
    client: Client, province: Province
) -> None:
    noticed = under_notice(province, open_file(province, applied=RECENT))
    draft = open_file(province, applied=RECENT)
    page = logged_in(client, province.alice).get(reverse("notice-list")).content.decode()
    assert noticed.number in page and draft.number not in page
    assert mask_id_number(noticed.applicant.id_number) in page
    assert noticed.applicant.id_number not in page
    assert "瑶海区总工会" in page and "@media print" not in page  # print rules live in app.css
    page = logged_in(client, province.charlie).get(reverse("notice-list")).content.decode()
    assert noticed.number not in page


@pytest.mark.django_db
def test_the_stylesheet_hides_navigation_in_print(client: Client) -> None:
    from django.contrib.staticfiles import finders

    path = finders.find("gonghui/app.css")
    assert path is not None
    from pathlib import Path

    css = Path(path).read_text(encoding="utf-8")
    assert "@media print" in css and ".nav" in css


@pytest.mark.django_db
def test_a_surname_alone_is_searched_in_a_county_not_across_the_province(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    file = open_file(province, name="王芳")
    county = logged_in(client, province.alice).get(reverse("file-list"), {"q": "王"})
    assert file.number in county.content.decode()

    logged_in(client, province.leo)
    client.get(reverse("file-list"))  # the session is warm: only its own queries count below
    # Session, and user with organisation: no query over the province's files.
    with django_assert_num_queries(2):  # type: ignore[operator]
        page = client.get(reverse("file-list"), {"q": "王"}).content.decode()
    assert file.number not in page and "alone matches too many files" in page
    assert list(search_files(province.leo, "王")) == []
    for q in ["王芳", file.applicant.id_number, file.number]:
        assert file.number in client.get(reverse("file-list"), {"q": q}).content.decode(), q


@pytest.mark.django_db
def test_a_search_counts_its_matches_in_the_page_query(
    client: Client, province: Province, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.GONGHUI_PAGE_SIZE = 2
    days = [RECENT - datetime.timedelta(days=n) for n in range(5)]
    numbers = [open_file(province, applied=day, name="王芳").number for day in days]
    logged_in(client, province.alice)
    client.get(reverse("file-list"))  # the session is warm: only its own queries count below
    pages = []
    for number in ("1", "3", "99"):  # the last one is past the end: it shows page 3
        with django_assert_num_queries(3 if number != "99" else 5):
            # Session, user with organisation, and the page with its count; past the end,
            # one page query that finds nothing, the count, and the last page.
            response = client.get(reverse("file-list"), {"q": "王芳", "page": number})
        pages.append(response.content.decode())
    assert all("5 files" in page for page in pages)
    assert numbers[0] in pages[0] and numbers[1] in pages[0] and numbers[2] not in pages[0]
    assert numbers[4] in pages[1] and numbers[4] in pages[2] and numbers[3] not in pages[2]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["queue", "file-list"])
def test_the_rows_escape_what_people_typed_and_keep_the_labels(
    client: Client, province: Province, url: str
) -> None:
    file = open_file(province, applied=RECENT, name='<b>{l_union}&"王"</b>')
    query = {"q": file.number} if url == "file-list" else {}
    page = logged_in(client, province.alice).get(reverse(url), query).content.decode()
    assert "&lt;b&gt;{l_union}&amp;&quot;王&quot;&lt;/b&gt;" in page
    assert "<b>{l_union}" not in page
    assert 'data-label="申请人"' in page or 'data-label="Applicant"' in page
