"""The screening-rule pages: the list, one rule (parameters, dry run, switch, run, history),
the background jobs that do dry runs and runs, one run's table per union, who may do what,
and the start of the linkage of a list. The data is the small hand-built world of
``tests/test_discovery_screening.py``. Jobs run inline (``GONGHUI_JOBS_INLINE``) unless a
test says otherwise."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui import background
from gonghui.discovery import jobs, screening, snapshots
from gonghui.discovery.choices import JobStatus, RuleStatus
from gonghui.discovery.models import Candidate, ScreeningJob, ScreeningRule, ScreeningRun
from gonghui.people.models import HouseholdMember
from tests.factories import Province, user
from tests.test_discovery_screening import AS_OF, ID_SPOUSE, World, builtin_rule
from tests.web_helpers import logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]


def post(client: Client, found: ScreeningRule, action: str, **data: Any) -> Any:
    return client.post(reverse("rule-detail", args=[found.pk]), {"action": action, **data})


def test_pages_are_for_administrators_only(client: Client, province: Province) -> None:
    found = builtin_rule("dibao-no-file")
    logged_in(client, province.alice)  # a caseworker
    assert client.get(reverse("rule-list")).status_code == 403
    assert client.get(reverse("rule-detail", args=[found.pk])).status_code == 403
    assert post(client, found, "switch", status="on").status_code == 403
    assert ScreeningRule.objects.get(pk=found.pk).status == RuleStatus.DRAFT
    logged_in(client, province.adam)
    assert client.get(reverse("rule-list")).status_code == 200


def test_the_list_shows_each_rule_in_constant_queries(
    client: Client, province: Province, world: World
) -> None:
    logged_in(client, province.adam)
    screening.dry_run(province.adam, builtin_rule("unemployed-children-in-school"), AS_OF)
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("rule-list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "On the minimum-living list, no file" in page and "medical-out-of-pocket" in page
    assert "Threshold (yuan): 20,000.00" in page and "Draft" in page
    found = screening.change_rule(
        province.adam, builtin_rule("dibao-no-file"), status=RuleStatus.ON
    )
    screening.run_rule(province.adam, found, AS_OF)
    for code in ("medical-out-of-pocket", "filed-home-or-car"):
        screening.dry_run(province.adam, builtin_rule(code), AS_OF)
    with CaptureQueriesContext(connection) as more:
        response = client.get(reverse("rule-list"))
    assert len(more) == len(few)
    rows = {r["rule"].code: r for r in response.context["rows"]}
    assert rows["dibao-no-file"]["candidates"] == 2
    assert rows["dibao-no-file"]["last_run"].kind == "run"
    assert rows["medical-out-of-pocket"]["last_run"].kind == "dry_run"
    assert rows["filed-income-above-standard"]["last_run"] is None


def table_of(response: Any) -> dict[int, tuple[int, int, int, int]]:
    return {r["organisation"]: (r["add"], r["drop"], r["change"], r["keep"])
            for r in response.context["rows"]}  # fmt: skip


def test_dry_run_table_then_switch_on_and_run(
    client: Client, province: Province, world: World
) -> None:
    found = builtin_rule("dibao-no-file")
    logged_in(client, province.adam)
    page = client.get(reverse("rule-detail", args=[found.pk])).content.decode()
    assert "<pre" in page and "list_minimum_living" in page and 'id="run-form"' not in page

    # The run is refused while the rule is a draft: no job is queued.
    response = post(client, found, "run", **{"run-as_of": AS_OF.isoformat()})
    assert response.status_code == 409 and Candidate.objects.count() == 0
    assert not ScreeningJob.objects.exists()

    response = post(client, found, "dry_run", **{"dry-as_of": AS_OF.isoformat()})
    job = ScreeningJob.objects.get(kind="dry_run")
    assert response["Location"] == reverse("rule-job", args=[job.pk])
    response = client.get(response["Location"])
    dry = ScreeningRun.objects.get(kind="dry_run")
    assert (job.status, dry.job, response.context["single"]) == ("done", job, dry)
    assert table_of(response) == {
        province.yaohai_union.pk: (1, 0, 0, 0),
        province.jinghu_union.pk: (1, 0, 0, 0),
    }
    assert response.context["totals"] == {"add": 2, "drop": 0, "change": 0, "keep": 0}
    page = response.content.decode()
    assert province.yaohai_union.name in page and "hx-trigger" not in page
    assert Candidate.objects.count() == 0
    response = client.get(reverse("rule-run", args=[dry.pk]))
    assert table_of(response) == {
        province.yaohai_union.pk: (1, 0, 0, 0),
        province.jinghu_union.pk: (1, 0, 0, 0),
    }
    assert dry.snapshot in response.content.decode()

    assert post(client, found, "switch", status="on").status_code == 302
    assert ScreeningRule.objects.get(pk=found.pk).status == RuleStatus.ON
    response = post(client, found, "run", **{"run-as_of": AS_OF.isoformat()})
    job = ScreeningJob.objects.get(kind="run")
    assert response["Location"] == reverse("rule-job", args=[job.pk])
    assert ScreeningRun.objects.get(kind="run").job == job
    assert sorted(Candidate.objects.values_list("worker_id", flat=True)) == sorted(
        [world.dibao.pk, world.dibao_spouse.pk]
    )

    # The spouse's allowance ends: the next dry run shows the drop in Jinghu.
    HouseholdMember.objects.filter(id_number=ID_SPOUSE).delete()
    post(client, found, "dry_run", **{"dry-as_of": AS_OF.isoformat()})
    latest = ScreeningRun.objects.filter(kind="dry_run").first()
    assert latest is not None
    response = client.get(reverse("rule-run", args=[latest.pk]))
    assert table_of(response) == {
        province.yaohai_union.pk: (0, 0, 0, 1),
        province.jinghu_union.pk: (0, 1, 0, 0),
    }
    history = client.get(reverse("rule-detail", args=[found.pk])).context["page"]
    assert history.paginator.count == 3

    assert post(client, found, "switch", status="off").status_code == 302
    assert ScreeningRule.objects.get(pk=found.pk).status == RuleStatus.OFF


def test_the_page_returns_at_once_and_shows_the_job_running_then_done(
    client: Client,
    province: Province,
    world: World,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without inline jobs the page starts a detached ``gonghui screen … resume`` process
    and redirects to the job, which is queued; the page polls while the process lives."""
    settings.GONGHUI_JOBS_INLINE = False
    started: list[list[str]] = []

    class Started:
        pid = os.getpid()  # a process that is alive

        def __init__(self, argv: list[str], **kwargs: Any) -> None:
            started.append(argv)

    monkeypatch.setattr(background.subprocess, "Popen", Started)
    found = screening.change_rule(province.adam, builtin_rule("dibao-no-file"), status="on")
    logged_in(client, province.adam)
    response = post(client, found, "run", **{"run-as_of": AS_OF.isoformat()})
    job = ScreeningJob.objects.get()
    assert response["Location"] == reverse("rule-job", args=[job.pk])
    assert started == [
        [sys.executable, "-m", "gonghui", "screen", "--as", "adam", "resume", str(job.pk)]
    ]
    assert (job.status, ScreeningRun.objects.count(), Candidate.objects.count()) == (
        "queued", 0, 0
    )  # fmt: skip
    page = client.get(response["Location"])
    assert page.context["state"] == "running" and 'hx-trigger="every 1s"' in page.content.decode()
    # Starting the same run again while it is queued does not queue a second job.
    post(client, found, "run", **{"run-as_of": AS_OF.isoformat()})
    assert ScreeningJob.objects.count() == 1 and len(started) == 1

    # The process does the work.
    jobs.run(jobs.SCREEN, job.pk)
    partial = client.get(response["Location"], headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert text.startswith("<section") and "hx-trigger" not in text
    assert partial.context["job"].status == JobStatus.DONE
    assert table_of(partial) == {
        province.yaohai_union.pk: (1, 0, 0, 0),
        province.jinghu_union.pk: (1, 0, 0, 0),
    }
    assert Candidate.objects.count() == 2


def test_a_failed_job_shows_its_message_and_starts_again(
    client: Client, province: Province, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = [screening.change_rule(province.adam, builtin_rule(c), status="on")
          for c in ("dibao-no-file", "medical-out-of-pocket")]  # fmt: skip
    real = screening._job_rule

    def breaks_on_medical(job: Any, found: ScreeningRule, snap: Any) -> None:
        if found.code == "medical-out-of-pocket":
            raise screening.DomainError("the disk is full")
        real(job, found, snap)

    monkeypatch.setattr(screening, "_job_rule", breaks_on_medical)
    logged_in(client, province.adam)
    response = client.post(
        reverse("rule-all"), {"kind": "run", "all-as_of": AS_OF.isoformat()}, follow=True
    )
    job = ScreeningJob.objects.get()
    assert (job.rule, job.rule_ids) == (None, [on[0].pk, on[1].pk])
    assert response.context["job"].status == JobStatus.FAILED
    page = response.content.decode()
    assert "the disk is full" in page and 'id="job-resume"' in page
    assert Candidate.objects.filter(rule=on[0]).count() == 2  # the first rule is applied

    monkeypatch.setattr(screening, "_job_rule", real)
    response = client.post(reverse("rule-job-resume", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and not job.error
    assert sorted(r.rule.code for r in response.context["runs"]) == [
        "dibao-no-file", "medical-out-of-pocket",
    ]  # fmt: skip
    assert ScreeningRun.objects.filter(job=job, rule=on[0]).count() == 1  # not done twice
    assert Candidate.objects.filter(rule=on[1]).get().worker == world.sick
    assert not snapshots.exists(job.snapshot)  # the job is done: its snapshot is gone
    # A finished job has nothing to start.
    client.post(reverse("rule-job-resume", args=[job.pk]))
    assert ScreeningRun.objects.filter(job=job).count() == 2


def test_a_county_administrator_dry_runs_but_does_not_change_or_run(
    client: Client, province: Province, world: World
) -> None:
    found = screening.change_rule(province.adam, builtin_rule("medical-out-of-pocket"), status="on")
    county = user("yadmin", "admin", province.yaohai)
    logged_in(client, county)
    listing = client.get(reverse("rule-list"))
    assert listing.status_code == 200 and 'id="rule-scope"' in listing.content.decode()
    assert listing.context["may_run"] is False and "Run them all" not in listing.content.decode()
    page = client.get(reverse("rule-detail", args=[found.pk])).content.decode()
    assert 'id="dry-run-form"' in page and 'id="rule-scope"' in page
    for absent in ('id="parameters-form"', 'id="switch-form"', 'id="run-form"'):
        assert absent not in page
    assert "20,000.00" in page  # the parameter is shown, not editable

    # The service refuses what the page does not offer.
    assert post(client, found, "switch", status="off").status_code == 403
    assert post(client, found, "parameters", **{"p-threshold_fen": "1"}).status_code == 403
    assert post(client, found, "run", **{"run-as_of": AS_OF.isoformat()}).status_code == 403
    response = client.post(reverse("rule-all"), {"kind": "run", "all-as_of": "2025-06-15"})
    assert response.status_code == 302 and not ScreeningJob.objects.exists()
    found.refresh_from_db()
    assert (found.status, found.version) == (RuleStatus.ON, 1)
    assert Candidate.objects.count() == 0

    response = post(client, found, "dry_run", **{"dry-as_of": AS_OF.isoformat()})
    response = client.get(response["Location"])
    job = ScreeningJob.objects.get()
    assert (job.organisation, job.status) == (province.yaohai, JobStatus.DONE)
    assert table_of(response) == {province.yaohai_union.pk: (1, 0, 0, 0)}
    # The province's own job is not the county's to see.
    theirs = screening.start_job(province.adam, "dry_run", found, AS_OF)
    assert client.get(reverse("rule-job", args=[theirs.pk])).status_code == 404


def test_parameters_make_a_new_version_and_a_bad_one_is_refused_on_its_field(
    client: Client, province: Province, world: World
) -> None:
    found = builtin_rule("medical-out-of-pocket")
    logged_in(client, province.adam)
    response = post(client, found, "parameters", **{"p-threshold_fen": "14,000"})
    assert response.status_code == 302
    found.refresh_from_db()
    assert (found.version, found.parameters) == (2, {"threshold_fen": 1_400_000})

    response = post(client, found, "parameters", **{"p-threshold_fen": "lots"})
    assert response.status_code == 400
    assert response.context["parameters_form"].errors["threshold_fen"]
    found.refresh_from_db()
    assert found.version == 2

    homes = builtin_rule("filed-home-or-car")
    response = post(client, homes, "parameters", **{"p-min_homes": "-1"})
    assert response.status_code == 400
    errors = response.context["parameters_form"].errors["min_homes"]
    assert "min_homes" in errors[0]
    homes.refresh_from_db()
    assert (homes.version, homes.parameters) == (1, {})


def test_linkage_start_needs_a_finished_list(client: Client, province: Province) -> None:
    from tests.test_scope_views import import_objects

    ids = import_objects(province)
    logged_in(client, province.adam)
    url = reverse("rule-linkage-start", args=[ids["external-lists"]])
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("list-import", args=[ids["external-lists"]])
    assert "Only a finished import of a list can be linked." in response.content.decode()
    logged_in(client, province.alice)
    assert client.post(url).status_code == 403


def test_linkage_start_links_and_shows_the_review_queue(
    client: Client, province: Province, world: World
) -> None:
    imp = world.imports["dibao"]
    logged_in(client, province.adam)
    response = client.post(reverse("rule-linkage-start", args=[imp.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("link-review-list") + f"?list={imp.pk}"
