"""The grouped main navigation: what each role sees, which page is current, its language."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from gonghui.accounts.choices import Role
from gonghui.web import nav
from tests.factories import Province
from tests.web_helpers import logged_in


def _menu(html: str) -> dict[str, list[str]]:
    """Group label → the link labels in it; a single link stands for a group of its own."""
    nav_html = html[html.index('<nav class="nav"') : html.index("</nav>")]
    groups: dict[str, list[str]] = {}
    for match in re.finditer(
        r'<details class="nav-group"><summary[^>]*>([^<]+)</summary>(.*?)</details>'
        r'|<a href="[^"]+"[^>]*>([^<]+)</a>',
        nav_html.split(">", 1)[1],
        flags=re.S,
    ):
        if match.group(1):
            links = re.findall(r">([^<]+)</a>", match.group(2))
            groups[match.group(1)] = [htmllib.unescape(link) for link in links]
        else:
            groups[match.group(3)] = [htmllib.unescape(match.group(3))]
    return groups


def _current(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page">', html)


@pytest.mark.django_db
def test_a_case_worker_sees_casework_and_discovery_not_money_or_administration(
    client: Client, province: Province
) -> None:
    page = logged_in(client, province.alice).get(reverse("queue")).content.decode()
    menu = _menu(page)
    assert list(menu) == ["Casework", "Discovery", "Assistance and funds", "Supervision"]
    # Published rankings are read by every union that competes; no indicators without
    # the supervising capability.
    assert menu["Supervision"] == ["Competitions", "Supervision tasks"]
    assert menu["Casework"] == [
        "Work queue",
        "Files",
        "New application",
        "Public notices",
        "Follow-ups",
        "Today's digest",
    ]
    assert menu["Discovery"] == ["Outreach", "Coverage", "Linkage review"]
    # Planning aid: campaigns and the failed-payment queue, but not funds or approvals.
    assert menu["Assistance and funds"] == ["Holiday-visit campaigns", "Failed payments"]
    assert "Audit log" not in page and "Policies" not in page


@pytest.mark.django_db
def test_an_administrator_sees_every_page_once(client: Client, province: Province) -> None:
    page = logged_in(client, province.adam).get(reverse("queue")).content.decode()
    menu = _menu(page)
    every = [item for group in nav.NAV for item in group.items]
    assert sum(len(links) for links in menu.values()) == len(every)
    assert menu["Administration"] == ["Policies", "Audit log"]


@pytest.mark.django_db
def test_an_auditor_with_one_administration_page_gets_a_plain_link(
    client: Client, province: Province
) -> None:
    page = logged_in(client, province.audrey).get(reverse("queue")).content.decode()
    menu = _menu(page)
    assert menu["Audit log"] == ["Audit log"]
    assert "Administration" not in menu


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "/"),
        ("/files/", "/files/"),
        ("/files/17/", "/files/"),
        ("/files/new/", "/files/new/"),
        ("/outreach/coverage/", "/outreach/coverage/"),
        ("/outreach/5/", "/outreach/"),
        ("/linkage/reviews/3/", "/linkage/reviews/"),
        ("/imports/lists/", "/imports/rosters/"),
        ("/budgets/4/", "/funds/"),
        ("/no-such-page/", ""),
    ],
)
def test_the_current_page_is_the_longest_matching_prefix_and_the_queue_only_exactly(
    path: str, current: str
) -> None:
    assert nav.current_url(Role.ADMIN, path) == current


@pytest.mark.django_db
def test_the_current_page_and_its_group_are_marked(client: Client, province: Province) -> None:
    page = logged_in(client, province.alice).get(reverse("file-new")).content.decode()
    assert _current(page) == ["/files/new/"]
    assert '<summary aria-current="true">Casework</summary>' in page


@pytest.mark.django_db
def test_the_navigation_follows_the_language(client: Client, province: Province) -> None:
    logged_in(client, province.alice, language="zh-hans")
    with translation.override("zh-hans"):
        page = client.get(reverse("queue")).content.decode()
    assert "待办事项" in page and "Work queue" not in page
    logged_in(client, province.alice, language="en")
    assert "Work queue" in client.get(reverse("queue")).content.decode()


@pytest.mark.django_db
def test_a_page_loads_the_user_with_the_organisation_in_one_query(
    client: Client, province: Province
) -> None:
    logged_in(client, province.alice)
    client.get(reverse("notice-list"))
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("notice-list"))
    sql = [query["sql"] for query in captured.captured_queries]
    user_queries = [q for q in sql if 'FROM "accounts_user"' in q]
    assert len(user_queries) == 1 and 'JOIN "organisations_organisation"' in user_queries[0]
    assert not [q for q in sql if 'FROM "organisations_organisation"' in q]
