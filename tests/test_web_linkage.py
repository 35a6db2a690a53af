"""The linkage review pages: the queue (scoped, paged, pending first), one pair side by side
with masked ID numbers and phones, and the three decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.accounts.choices import Role
from gonghui.discovery import linking
from gonghui.discovery.models import LinkReview, ListRowLink
from gonghui.people import merge
from gonghui.people.idnumber import mask_id_number, mask_phone
from gonghui.people.models import Worker
from tests.factories import Province, user, worker
from tests.test_linking import POPULATION, import_list, registry, write_list
from tests.test_merge_workers import pair_review, twins
from tests.web_helpers import logged_in


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


def test_a_pair_decided_same_person_is_merged_from_the_page(province: Province) -> None:
    t = twins(province)  # decided "same person" by Rita
    s, d = t.survivor, t.duplicate
    url = reverse("link-review", args=[t.review.pk])
    merge_url = reverse("link-review-merge", args=[t.review.pk])
    client = Client()
    logged_in(client, province.rita)  # a reviewer decides but does not edit people
    page = client.get(url)
    assert "A colleague who edits workers merges the two records." in page.content.decode()
    assert "merge_form" not in page.context
    assert client.post(merge_url, {"survivor": s.pk}).status_code == 403

    logged_in(client, province.alice)
    waiting = client.get(reverse("link-review-list") + "?show=to_merge")
    assert [r.pk for r, _row in waiting.context["items"]] == [t.review.pk]
    page = client.get(url)
    assert page.status_code == 200
    holdings = {label: (a, b) for label, a, b in page.context["holdings"]}
    # other_worker (the duplicate) first, as in the side-by-side table.
    assert holdings["bank accounts"] == (2, 1) and holdings["hardship files"] == (1, 1)
    assert page.context["suggested"] == d  # more history: 10 records against 5
    assert "four_eyes" in page.context and not page.context["four_eyes"]
    assert client.post(merge_url, {"survivor": 999}).status_code == 400
    response = client.post(merge_url, {"survivor": s.pk})
    assert response.status_code == 302 and response["Location"] == url
    d.refresh_from_db()
    assert d.merged_into_id == s.pk
    page = client.get(url)
    text = page.content.decode()
    assert f"Worker {d.pk} was merged into worker {s.pk}" in text
    assert "Your decision" not in text  # a merged pair's decision no longer changes
    # A double click: nothing more happens, and the page says so.
    again = client.post(merge_url, {"survivor": s.pk}, follow=True)
    assert f"Worker {d.pk} was already merged into {s.pk}." in again.content.decode()
    assert (
        client.get(reverse("link-review-list") + "?show=to_merge").context["page"].paginator.count
        == 0
    )
    # An old link to the merged record leads to the survivor.
    old = client.get(reverse("worker-edit", args=[d.pk]))
    assert old.status_code == 302 and old["Location"] == reverse("worker-edit", args=[s.pk])

    logged_in(client, province.charlie)  # an outsider: the pair does not exist
    assert client.post(merge_url, {"survivor": s.pk}).status_code == 404
    assert client.get(reverse("worker-edit", args=[d.pk])).status_code == 404


def test_the_decider_needs_a_colleague_when_money_moves(province: Province) -> None:
    t = twins(province)
    client = Client()
    logged_in(client, province.alice)
    url = reverse("link-review", args=[t.review.pk])
    response = client.post(url, {"decision": "same_person"})  # Alice decides herself
    assert response.status_code == 302 and response["Location"] == url  # on to the merge
    page = client.get(url)
    assert page.context["four_eyes"] and 'id="four-eyes"' in page.content.decode()
    merge_url = reverse("link-review-merge", args=[t.review.pk])
    refused = client.post(merge_url, {"survivor": t.survivor.pk})
    assert refused.status_code == 403
    assert "a colleague other than the one who decided" in refused.content.decode()
    assert Worker.objects.get(pk=t.duplicate.pk).merged_into_id is None
    logged_in(client, province.bob)
    assert client.post(merge_url, {"survivor": t.survivor.pk}).status_code == 302
    assert Worker.objects.get(pk=t.duplicate.pk).merged_into_id == t.survivor.pk


def test_the_merge_list_and_page_queries_are_bounded(province: Province) -> None:
    client = Client()
    logged_in(client, province.alice)
    listing = reverse("link-review-list") + "?show=to_merge&kind=dedupe"

    def add_pair(name: str) -> LinkReview:
        a, b = (worker(province.yaohai_union, province.yaohai_region, name=name) for _ in "ab")
        review = pair_review(province, a, b)
        linking.decide(province.rita, review, "same_person")
        return review

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first = add_pair("王芳")
    one = queries(listing)
    add_pair("李娜")
    add_pair("周强")
    assert queries(listing) == one  # not one more query per pair
    # The pair's page: one grouped count per relation to Worker, not one per worker.
    relations = len(merge.relations())
    assert queries(reverse("link-review", args=[first.pk])) <= relations + 6  # 16 today
