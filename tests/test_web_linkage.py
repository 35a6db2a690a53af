"""The linkage review pages: the queue (scoped, paged, pending first), one pair side by side
with masked ID numbers and phones, and the three decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from gonghui.accounts.choices import Role
from gonghui.discovery import linking
from gonghui.discovery.models import LinkReview, ListRowLink
from gonghui.people.idnumber import mask_id_number, mask_phone
from tests.factories import Province, user
from tests.test_linking import POPULATION, import_list, registry, write_list
from tests.web_helpers import logged_in


@pytest.fixture(autouse=True)
def _work_dir(settings: object, tmp_path: Path) -> None:
    settings.GONGHUI_DISCOVERY_DIR = tmp_path / "discovery"  # type: ignore[attr-defined]


@pytest.fixture
def queued(province: Province, tmp_path: Path) -> LinkReview:
    workers = registry(province)
    imp = import_list(province.adam, write_list(tmp_path / "dibao.csv", workers))
    linking.run_linkage(province.adam, imp, population=POPULATION, seed=7)
    return LinkReview.objects.select_related("worker").get()


def test_the_queue_lists_pending_pairs_in_scope(province: Province, queued: LinkReview) -> None:
    client = Client()
    logged_in(client, province.rita)
    response = client.get(reverse("link-review-list"))
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 1
    text = response.content.decode()
    assert "赵丽" in text and reverse("link-review", args=[queued.pk]) in text
    assert "13011112222" not in text and queued.worker.phone not in text
    logged_in(client, province.charlie)  # Jinghu: not their worker
    response = client.get(reverse("link-review-list"))
    assert response.status_code == 200 and response.context["page"].paginator.count == 0
    assert client.get(reverse("link-review", args=[queued.pk])).status_code == 404
    logged_in(client, province.leo)  # a leader neither runs nor decides
    assert client.get(reverse("link-review-list")).status_code == 403


def test_the_pair_side_by_side_is_masked(province: Province, queued: LinkReview) -> None:
    client = Client()
    logged_in(client, province.rita)  # may see personal data on a household's page
    response = client.get(reverse("link-review", args=[queued.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    worker = queued.worker
    assert worker.id_number not in text and mask_id_number(worker.id_number) in text
    assert worker.phone not in text and mask_phone(worker.phone) in text
    assert "13011112222" not in text and mask_phone("13011112222") in text
    assert "1988-02-14" in text and "340202" in text  # the list row's birth date, region
    assert "Match probability" in text
    levels = {f["field"]: f["level"] for f in response.context["fields"]}
    assert str(levels["name"]) == "the same" and str(levels["region"]) == "different"
    for label in ("Same person", "Different people", "Unsure"):
        assert label in text


def test_a_decision_from_the_page(province: Province, queued: LinkReview) -> None:
    client = Client()
    logged_in(client, province.rita)
    url = reverse("link-review", args=[queued.pk])
    assert client.post(url, {"decision": "maybe"}).status_code == 400
    response = client.post(url, {"decision": "same_person", "note": "电话核实"})
    assert response.status_code == 302 and response["Location"] == reverse("link-review-list")
    queued.refresh_from_db()
    assert (queued.decision, queued.note, queued.decided_by) == (
        "same_person",
        "电话核实",
        province.rita,
    )
    assert ListRowLink.objects.get(row_no=5).method == "reviewed"
    listing = client.get(reverse("link-review-list") + "?show=decided")
    assert listing.context["page"].paginator.count == 1
    # An administrator sees the queue but a county one only their subtree.
    county = user("wuhu_admin", Role.ADMIN, province.jinghu)
    logged_in(client, county)
    assert client.post(url, {"decision": "unsure"}).status_code == 404
    logged_in(client, province.audrey)  # an auditor may not decide
    assert client.post(url, {"decision": "unsure"}).status_code in (403, 404)
