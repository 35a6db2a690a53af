"""Every URL that names an object answers 404 to an outsider, for every view there is.

The test walks the URL configuration itself, so a view added tomorrow is covered without
anyone remembering to: if its URL names an object of a kind this test does not know, the
test fails and asks for the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from gonghui.accounts.choices import Role
from gonghui.hardship import services
from gonghui.hardship.models import Attachment, LivingStandard
from tests.cases import open_file
from tests.factories import Province, user

PARAM = re.compile(r"<(?:int:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def patterns(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from patterns(entry, route)
        elif isinstance(entry, URLPattern) and PARAM.search(route):
            yield route


def fill(route: str, ids: dict[str, int]) -> str:
    """Put the ids of Alice's objects into a route; the kind follows from the segment."""
    route = route.replace("^", "").replace("$", "").replace("\\.(?P<format>[a-z0-9]+)/?", "")
    if "format" in route:
        return ""
    parts = route.split("/")
    out = []
    for index, part in enumerate(parts):
        match = PARAM.fullmatch(part)
        if not match:
            out.append(part)
            continue
        name = match.group(1) or match.group(2)
        kind = "member" if name == "member_pk" else parts[index - 1]
        if kind not in ids:
            pytest.fail(f"No object of kind {kind!r} for {route}: add it to the test")
        out.append(str(ids[kind]))
    return "/" + "/".join(out)


@pytest.fixture
def alices_objects(province: Province) -> dict[str, int]:
    file = open_file(province)
    visit = services.Visit(
        visited_on=file.applied_on,
        findings="x",
        uploads=[(SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n", "image/png"), "")],
    )
    services.record_investigation(province.alice, file, visit)
    member = file.household.members.last()
    assert member is not None
    standard = LivingStandard.objects.get(region_id="340100", valid_from__year=2024)
    return {
        "files": file.pk,
        "households": file.household_id,
        "workers": file.applicant_id,
        "member": member.pk,
        "attachments": Attachment.objects.get(file=file).pk,
        "policies": province.policy.pk,
        "standards": standard.pk,
    }


def test_every_object_url_is_404_for_an_outsider(
    province: Province, alices_objects: dict[str, int]
) -> None:
    # An administrator of a Wuhu county: every capability, so only scope can refuse.
    wuhu_admin = user("wuhu_admin", Role.ADMIN, province.jinghu)
    outsider, insider = Client(), Client()
    outsider.force_login(wuhu_admin)
    insider.force_login(province.adam)  # the province administrator may reach everything
    checked = []
    for route in patterns(get_resolver()):
        url = fill(route, alices_objects)
        if not url:
            continue
        statuses = {outsider.get(url).status_code, outsider.post(url, {}).status_code}
        assert statuses <= {404, 405}, (url, statuses)
        assert 404 in statuses, url
        assert insider.get(url).status_code != 404, url
        checked.append(url)
    assert len(checked) >= 25  # web pages and API endpoints that name an object


def test_the_outsider_still_sees_their_own(province: Province) -> None:
    client = Client()
    client.force_login(province.charlie)
    assert client.get("/").status_code == 200
    response = client.get("/files/")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0  # nothing of Alice's
