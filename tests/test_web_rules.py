"""The screening-rule pages: the list, one rule (parameters, dry run, switch, run, history),
one run's table per union, and the start of the linkage of a list. The data is the small
hand-built world of ``tests/test_discovery_screening.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.discovery import screening
from gonghui.discovery.choices import RuleStatus
from gonghui.discovery.models import Candidate, ScreeningRule, ScreeningRun
from gonghui.people.models import HouseholdMember
from tests.factories import Province
from tests.test_discovery_screening import AS_OF, ID_SPOUSE, World
from tests.web_helpers import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _work_dir(settings: Any, tmp_path: Path) -> None:
    settings.GONGHUI_DISCOVERY_DIR = tmp_path / "discovery"


@pytest.fixture
def world(province: Province, tmp_path: Path) -> World:
    return World(province, tmp_path)


def rule(code: str) -> ScreeningRule:
    return {r.code: r for r in screening.install_builtin_rules()}[code]


def post(client: Client, found: ScreeningRule, action: str, **data: Any) -> Any:
    return client.post(reverse("rule-detail", args=[found.pk]), {"action": action, **data})


def test_pages_are_for_administrators_only(client: Client, province: Province) -> None:
    found = rule("dibao-no-file")
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
    screening.dry_run(province.adam, rule("unemployed-children-in-school"), AS_OF)
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("rule-list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "On the minimum-living list, no file" in page and "medical-out-of-pocket" in page
    assert "Threshold (yuan): 20,000.00" in page and "Draft" in page
    found = screening.change_rule(province.adam, rule("dibao-no-file"), status=RuleStatus.ON)
    screening.run_rule(province.adam, found, AS_OF)
    for code in ("medical-out-of-pocket", "filed-home-or-car"):
        screening.dry_run(province.adam, rule(code), AS_OF)
    with CaptureQueriesContext(connection) as more:
        response = client.get(reverse("rule-list"))
    assert len(more) == len(few)
    rows = {r["rule"].code: r for r in response.context["rows"]}
    assert rows["dibao-no-file"]["candidates"] == 2
    assert rows["dibao-no-file"]["last_run"].kind == "run"
    assert rows["medical-out-of-pocket"]["last_run"].kind == "dry_run"
    assert rows["filed-income-above-standard"]["last_run"] is None


def test_dry_run_table_then_switch_on_and_run(
    client: Client, province: Province, world: World
) -> None:
    found = rule("dibao-no-file")
    logged_in(client, province.adam)
    page = client.get(reverse("rule-detail", args=[found.pk])).content.decode()
    assert "<pre" in page and "list_minimum_living" in page and 'id="run-form"' not in page

    # The run is refused while the rule is a draft.
    response = post(client, found, "run", **{"run-as_of": AS_OF.isoformat()})
    assert response.status_code == 409 and Candidate.objects.count() == 0

    response = post(client, found, "dry_run", **{"dry-as_of": AS_OF.isoformat()})
    dry = ScreeningRun.objects.get(kind="dry_run")
    assert response["Location"] == reverse("rule-run", args=[dry.pk])
    response = client.get(response["Location"])
    table = {r["organisation"]: (r["add"], r["drop"], r["change"], r["keep"])
             for r in response.context["rows"]}  # fmt: skip
    assert table == {
        province.yaohai_union.pk: (1, 0, 0, 0),
        province.jinghu_union.pk: (1, 0, 0, 0),
    }
    assert response.context["totals"] == {"add": 2, "drop": 0, "change": 0, "keep": 0}
    assert province.yaohai_union.name in response.content.decode()
    assert Candidate.objects.count() == 0

    assert post(client, found, "switch", status="on").status_code == 302
    assert ScreeningRule.objects.get(pk=found.pk).status == RuleStatus.ON
    response = post(client, found, "run", **{"run-as_of": AS_OF.isoformat()})
    run = ScreeningRun.objects.get(kind="run")
    assert response["Location"] == reverse("rule-run", args=[run.pk])
    assert sorted(Candidate.objects.values_list("worker_id", flat=True)) == sorted(
        [world.dibao.pk, world.dibao_spouse.pk]
    )

    # The spouse's allowance ends: the next dry run shows the drop in Jinghu.
    HouseholdMember.objects.filter(id_number=ID_SPOUSE).delete()
    post(client, found, "dry_run", **{"dry-as_of": AS_OF.isoformat()})
    latest = ScreeningRun.objects.filter(kind="dry_run").first()
    assert latest is not None
    response = client.get(reverse("rule-run", args=[latest.pk]))
    table = {r["organisation"]: (r["add"], r["drop"], r["change"], r["keep"])
             for r in response.context["rows"]}  # fmt: skip
    assert table == {
        province.yaohai_union.pk: (0, 0, 0, 1),
        province.jinghu_union.pk: (0, 1, 0, 0),
    }
    history = client.get(reverse("rule-detail", args=[found.pk])).context["page"]
    assert history.paginator.count == 3

    assert post(client, found, "switch", status="off").status_code == 302
    assert ScreeningRule.objects.get(pk=found.pk).status == RuleStatus.OFF


def test_parameters_make_a_new_version_and_a_bad_one_is_refused_on_its_field(
    client: Client, province: Province, world: World
) -> None:
    found = rule("medical-out-of-pocket")
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

    homes = rule("filed-home-or-car")
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
