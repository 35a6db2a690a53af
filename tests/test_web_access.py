"""Every page: 200 for an insider, 404 for an outsider, the login page for the anonymous."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from gonghui.hardship.models import Attachment, HardshipFile
from gonghui.web import urls as web_urls
from tests.factories import Province
from tests.web_helpers import filed, logged_in, open_file, png_bytes

ACTION_URLS = [
    "file-investigate",
    "file-submit",
    "file-review",
    "file-approve",
    "file-reject",
    "file-periodic-review",
    "file-income-reading",
    "file-exit",
    "file-reopen",
]


def _attachment(file: HardshipFile) -> Attachment:
    from django.core.files.base import ContentFile

    item = Attachment(file=file, caption="门口")
    item.upload.save("door.png", ContentFile(png_bytes()), save=True)
    return item


def _pages(file: HardshipFile) -> dict[str, str]:
    member = file.household.members.first()
    assert member is not None
    return {
        "queue": reverse("queue"),
        "file-list": reverse("file-list") + "?q=张",
        "file-new": reverse("file-new"),
        "file-detail": reverse("file-detail", args=[file.pk]),
        "file-finances": reverse("file-finances", args=[file.pk]),
        "household-detail": reverse("household-detail", args=[file.household_id]),
        "member-edit": reverse("member-edit", args=[file.household_id, member.pk]),
        "worker-new": reverse("worker-new"),
        "worker-edit": reverse("worker-edit", args=[file.applicant_id]),
        "notice-list": reverse("notice-list"),
    }


@pytest.mark.django_db
def test_it_shows_every_page_to_an_insider(client: Client, province: Province) -> None:
    file = open_file(province)
    logged_in(client, province.alice)
    for name, url in _pages(file).items():
        response = client.get(url)
        assert response.status_code == 200, name
    assert (
        client.get(reverse("file-new") + "?id_number=" + file.applicant.id_number).status_code
        == 200
    )


@pytest.mark.django_db
def test_admin_and_audit_pages_need_their_capability(client: Client, province: Province) -> None:
    open_file(province)
    logged_in(client, province.adam)
    assert client.get(reverse("policy-list")).status_code == 200
    assert client.get(reverse("policy-edit", args=[province.policy.pk])).status_code == 200
    logged_in(client, province.audrey)
    assert client.get(reverse("audit-list")).status_code == 200
    assert client.get(reverse("policy-list")).status_code == 403
    logged_in(client, province.alice)
    assert client.get(reverse("audit-list")).status_code == 403
    assert client.get(reverse("policy-new")).status_code == 403


@pytest.mark.django_db
def test_the_outsider_gets_404_on_every_object(client: Client, province: Province) -> None:
    file = open_file(province)
    item = _attachment(file)
    logged_in(client, province.charlie)
    pages = _pages(file)
    for name in ["file-detail", "file-finances", "household-detail", "member-edit", "worker-edit"]:
        assert client.get(pages[name]).status_code == 404, name
        assert client.post(pages[name], {}).status_code == 404, name
    assert client.get(reverse("attachment", args=[item.pk])).status_code == 404
    for name in ACTION_URLS:
        response = client.post(reverse(name, args=[file.pk]), {"reason": "x", "note": "x"})
        assert response.status_code == 404, name
    assert client.post(reverse("member-new", args=[file.household_id]), {}).status_code == 404
    assert client.get(reverse("notice-list") + f"?org={province.yaohai.pk}").status_code == 404
    file.refresh_from_db()
    assert file.status == "draft"


@pytest.mark.django_db
def test_the_outsider_does_not_find_the_file(client: Client, province: Province) -> None:
    file = open_file(province)
    logged_in(client, province.charlie)
    response = client.get(reverse("file-list"), {"q": file.applicant.id_number})
    assert file.number not in response.content.decode()
    response = client.get(reverse("file-new"), {"id_number": file.applicant.id_number})
    assert "No worker with this ID number" in response.content.decode()


def _flat(entries: Iterable[URLPattern | URLResolver]) -> Iterator[URLPattern]:
    """Every page, including those of included URL modules."""
    for entry in entries:
        if isinstance(entry, URLResolver):
            yield from _flat(entry.url_patterns)
        else:
            yield entry


def _reversed(pattern: URLPattern) -> str:
    kwargs: dict[str, Any] = dict.fromkeys(pattern.pattern.regex.groupindex, 1)
    return reverse(str(pattern.name), kwargs=kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "pattern",
    [p for p in _flat(web_urls.urlpatterns) if p.name not in {"login", "logout"}],
    ids=lambda p: str(p.name),
)
def test_every_page_requires_login(client: Client, pattern: URLPattern) -> None:
    url = _reversed(pattern)
    for send in (client.get, client.post):
        response = send(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.django_db
def test_login_and_logout(client: Client, province: Province) -> None:
    from tests.factories import PASSWORD

    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("queue")
    page = client.get(reverse("queue")).content.decode()
    assert "alice" in page and "瑶海区总工会" in page  # who, and where
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("queue")).status_code == 302


@pytest.mark.django_db
def test_the_language_switcher_sets_the_language(client: Client, province: Province) -> None:
    logged_in(client, province.alice, language="zh-hans")
    response = client.post(reverse("set_language"), {"language": "en", "next": "/files/"})
    assert response.status_code == 302 and response["Location"] == "/files/"
    assert client.cookies["django_language"].value == "en"


@pytest.mark.django_db
def test_a_leader_reads_but_is_not_offered_actions(client: Client, province: Province) -> None:
    file = filed(province)
    logged_in(client, province.leo)
    page = client.get(reverse("file-detail", args=[file.pk])).content.decode()
    assert (
        f"/files/{file.pk}/exit/" not in page and f"/files/{file.pk}/periodic-review/" not in page
    )
    response = client.post(
        reverse("file-exit", args=[file.pk]),
        {
            "exit_kind": "retirement",
            "exit_on": "2026-01-05",
            "exit_reason": "退休",
        },
    )
    assert response.status_code == 403
    assert "Your role does not allow this." in response.content.decode()
    file.refresh_from_db()
    assert file.status == "filed"
