"""The outreach pages: the worklist (scoped, filtered, paged, constant query count), the
candidate page recording outcomes (a refusal shown on its field), the one-click start of
an application, precision per rule and the coverage view with its drill-down."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from gonghui.audit.models import AuditEntry
from gonghui.discovery import screening
from gonghui.discovery.choices import CandidateStatus
from gonghui.discovery.models import Candidate, ScreeningRule, ScreeningRun
from gonghui.people.models import Worker
from tests.factories import Province, worker
from tests.test_discovery_screening import AS_OF, builtin_rule


def client_for(someone: object) -> Client:
    client = Client()
    client.force_login(someone)  # type: ignore[arg-type]
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def run(province: Province) -> ScreeningRun:
    rule = builtin_rule("dibao-no-file")
    return screening.dry_run(province.adam, rule, AS_OF)


def flag(run: ScreeningRun, who: Worker, status: str = CandidateStatus.NEW) -> Candidate:
    return Candidate.objects.create(
        worker=who,
        organisation=who.organisation,
        rule=run.rule,
        rule_version=1,
        status=status,
        reason="x" if status == CandidateStatus.NOT_ELIGIBLE else "",
        found_by=run,
    )


def yaohai(p: Province, name: str = "张伟") -> Worker:
    return worker(p.yaohai_union, p.yaohai_region, name=name)


def test_the_worklist_is_scoped_filtered_and_constant_in_queries(
    province: Province, run: ScreeningRun
) -> None:
    first = flag(run, yaohai(province, "王芳"))
    wuhu = flag(run, worker(province.jinghu_union, province.jinghu_region, name="李娜"))
    alice = client_for(province.alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert alice.get("/outreach/").status_code == 200
        return len(seen)

    few = queries()
    for n in range(6):
        flag(run, yaohai(province, f"工人{n}"), CandidateStatus.CONTACTED)
    assert queries() == few

    page = alice.get("/outreach/")
    assert page.context["page"].paginator.count == 7
    text = page.content.decode()
    assert "王芳" in text and "李娜" not in text
    assert f"/outreach/candidates/{first.pk}/apply/" in text
    assert first.worker.id_number not in text  # a list masks ID numbers
    contacted = alice.get("/outreach/?status=contacted")
    assert contacted.context["page"].paginator.count == 6
    other_rule = ScreeningRule.objects.get(code="medical-out-of-pocket")
    assert alice.get(f"/outreach/?rule={other_rule.pk}").context["page"].paginator.count == 0
    charlie = client_for(province.charlie)
    assert [c.pk for c in charlie.get("/outreach/").context["page"].object_list] == [wuhu.pk]
    # A leader has no queue; an auditor neither.
    assert client_for(province.leo).get("/outreach/").status_code == 403
    assert client_for(province.audrey).get("/outreach/").status_code == 403


def test_recording_outcomes_on_the_candidate_page(province: Province, run: ScreeningRun) -> None:
    candidate = flag(run, yaohai(province))
    alice = client_for(province.alice)
    url = f"/outreach/candidates/{candidate.pk}/"
    page = alice.get(url)
    assert page.status_code == 200
    assert candidate.worker.id_number in page.content.decode()  # one worker's page

    refused = alice.post(url, {"status": "not_eligible", "reason": ""})
    assert refused.status_code == 400
    assert "reason" in refused.context["form"].errors
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.NEW
    no_file = alice.post(url, {"status": "filed"})
    assert no_file.status_code == 400
    assert "status" in no_file.context["form"].errors

    done = alice.post(url, {"status": "not_eligible", "reason": "有营业执照"})
    assert done.status_code == 302
    candidate.refresh_from_db()
    assert (candidate.status, candidate.reason) == (CandidateStatus.NOT_ELIGIBLE, "有营业执照")
    entry = AuditEntry.objects.filter(
        model="discovery.candidate", object_id=str(candidate.pk)
    ).latest("pk")
    assert entry.actor == province.alice and entry.source == "web"

    # The quick buttons of the list come back to the list.
    other = flag(run, yaohai(province))
    back = alice.post(
        f"/outreach/candidates/{other.pk}/", {"status": "unreachable", "next": "/outreach/?page=1"}
    )
    assert back.status_code == 302 and back["Location"] == "/outreach/?page=1"
    # A reviewer records outcomes too; an outsider does not find the candidate.
    assert client_for(province.rita).post(url, {"status": "contacted"}).status_code == 302
    assert client_for(province.charlie).get(url).status_code == 404
    assert client_for(province.charlie).post(url, {"status": "contacted"}).status_code == 404


def test_one_click_start_of_an_application(province: Province, run: ScreeningRun) -> None:
    candidate = flag(run, yaohai(province))
    alice = client_for(province.alice)
    response = alice.get(f"/outreach/candidates/{candidate.pk}/apply/")
    assert response.status_code == 302
    assert response["Location"] == f"/files/new/?id_number={candidate.worker.id_number}"
    form = alice.get(response["Location"])
    assert form.status_code == 200 and form.context["worker"] == candidate.worker
    # A reviewer opens no files.
    assert (
        client_for(province.rita).get(f"/outreach/candidates/{candidate.pk}/apply/").status_code
        == 403
    )


def test_precision_and_coverage_pages(province: Province, run: ScreeningRun) -> None:
    for status in ("filed", "filed", "filed", "not_eligible", "unreachable"):
        flag(run, yaohai(province), status)
    flag(run, worker(province.jinghu_union, province.jinghu_region), "not_eligible")
    alice = client_for(province.alice)
    rules = alice.get("/outreach/rules/")
    assert rules.status_code == 200
    [row] = rules.context["rows"]
    assert (row.candidates, row.filed, row.not_eligible, row.unreachable) == (5, 3, 1, 1)
    assert str(row.precision) == "75.0"
    assert "75.0%" in rules.content.decode()
    adam_row = client_for(province.adam).get("/outreach/rules/").context["rows"][0]
    assert str(adam_row.precision) == "60.0"  # 3 / (3 + 2) with Wuhu's

    coverage = alice.get("/outreach/coverage/")
    assert coverage.status_code == 200
    assert [(r.organisation, r.candidates) for r in coverage.context["rows"]] == [
        (province.yaohai_union, 5)
    ]
    assert coverage.context["total"].candidates == 5
    leo = client_for(province.leo)
    top = leo.get("/outreach/coverage/")
    assert [r.organisation for r in top.context["rows"]] == [province.hefei, province.wuhu]
    assert top.context["total"].candidates == 6
    assert f"/outreach/coverage/{province.hefei.pk}/" in top.content.decode()
    down = leo.get(f"/outreach/coverage/{province.wuhu.pk}/")
    assert [(r.organisation, r.candidates) for r in down.context["rows"]] == [(province.jinghu, 1)]
    assert alice.get(f"/outreach/coverage/{province.jinghu.pk}/").status_code == 404
    assert client_for(province.audrey).get("/outreach/coverage/").status_code == 403
