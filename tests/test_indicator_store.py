"""The indicator value store (supervision/store.py): refresh stores what the library
computes; pages read stored values in a few queries; a run's values are read only once it
is complete; old values are marked stale and a reader may have them recomputed; the daily
job is idempotent; a live competition ranks on stored values and freezing computes live.

The data (as tests/test_competition.py): 4 members in each of 瑶海's and 镜湖's grassroots
unions, two files filed in 2025 under 合肥 and one under 芜湖. By hand: 合肥 2 / 4 × 1000 =
500 files per 1,000 members, 芜湖 1 / 4 × 1000 = 250, 安徽 3 / 8 × 1000 = 375.
"""

from __future__ import annotations

import datetime
import io
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gonghui import scheduling
from gonghui.accounts.choices import Role
from gonghui.assistance import ledger
from gonghui.assistance.choices import LedgerKind
from gonghui.audit.models import AuditEntry
from gonghui.errors import Conflict, NotAllowed
from gonghui.organisations.choices import OrganisationKind
from gonghui.supervision import competition as comp
from gonghui.supervision import indicators as lib
from gonghui.supervision import store
from gonghui.supervision.models import (
    IndicatorRun,
    IndicatorValue,
    RunStatus,
    RunTrigger,
    Snapshot,
)
from gonghui.web.views import supervision as views
from tests.aid import build_money
from tests.cases import filed, move
from tests.factories import Province, members, organisation, user
from tests.locks import held_elsewhere
from tests.web_helpers import logged_in

pytestmark = pytest.mark.django_db

D = datetime.date
Y2025 = lib.Period.year(2025)
CODE = "files_per_1000_members"


@pytest.fixture(autouse=True)
def _quiet(settings: Any) -> None:
    settings.GONGHUI_JOBS_INLINE = True
    settings.GONGHUI_INDICATOR_MAX_AGE = 24 * 3600


@pytest.fixture
def data(province: Province) -> Province:
    p = province
    members(p, p.yaohai_union, 4)
    members(p, p.jinghu_union, 4)
    for days in (10, 40):
        move(filed(p), applied_on=D(2025, 2, 1), filed_on=D(2025, 2, 1) + datetime.timedelta(days))
    move(filed(p), applied_on=D(2025, 2, 1), filed_on=D(2025, 3, 1), organisation=p.jinghu_union)
    return p


def per_1000(stored: store.Stored, org: Any, index: int = -1) -> lib.Value:
    return stored.values[index][CODE][org.pk]


def current_runs() -> list[IndicatorRun]:
    return list(IndicatorRun.objects.filter(status=RunStatus.CURRENT).order_by("period_start"))


def add_hefei_file(p: Province) -> None:
    move(filed(p), applied_on=D(2025, 2, 1), filed_on=D(2025, 6, 1))


# --- refresh stores what compute returns ---------------------------------------------------------


def test_refresh_stores_what_the_library_computes_for_every_organisation(data: Province) -> None:
    p = data
    money = build_money(p)  # 2026: central fund, 1,000,000 yuan at the province
    ledger.post(money.yaohai_budget, LedgerKind.COMMIT, 5_000_000)
    ledger.post(money.yaohai_budget, LedgerKind.PAY, 5_000_000)
    periods = [Y2025, lib.Period.year(2026)]
    done = store.refresh(periods, by=p.leo)
    assert [r.status for r in done.runs] == [RunStatus.CURRENT] * 2
    assert not done.skipped
    live = lib.compute_periods(periods)
    found = store.read(periods)
    assert found.values == live
    # Every indicator for every organisation, per period: the values are all there.
    organisations = p.anhui.__class__.objects.count()
    assert IndicatorValue.objects.count() == 2 * len(lib.LIBRARY) * organisations
    assert all(run.rows == len(lib.LIBRARY) * organisations for run in done.runs)
    # By hand: 3 files on record per 8 members at the province; 合肥 2 / 4; medians of
    # days to filing 10, 40 (合肥) and 28 (芜湖): 合肥 25, the province 28; 50,000 of
    # 1,000,000 yuan paid in 2026: 5 %.
    assert found.values[0][CODE][p.anhui.pk] == lib.Value(Decimal("375.0000"), 3, 8)
    assert found.values[0][CODE][p.hefei.pk] == lib.Value(Decimal("500.0000"), 2, 4)
    assert found.values[0]["days_to_filing"][p.hefei.pk] == lib.Value(Decimal("25"), None, 2)
    assert found.values[0]["days_to_filing"][p.anhui.pk] == lib.Value(Decimal("28"), None, 3)
    assert found.values[1]["fund_execution"][p.anhui.pk].value == Decimal("5")
    # Who started it is kept, and audited: a person replaced what live rankings read.
    assert {r.started_by for r in current_runs()} == {p.leo}
    audited = AuditEntry.objects.filter(model="supervision.indicatorrun")
    assert sorted(audited.values_list("actor__username", flat=True)) == ["leo", "leo"]


def test_a_second_refresh_replaces_the_values_and_old_ones_are_pruned(data: Province) -> None:
    p = data
    first = store.refresh([Y2025]).runs[0]
    add_hefei_file(p)
    second = store.refresh([Y2025]).runs[0]
    first.refresh_from_db()
    assert (first.status, second.status) == (RunStatus.SUPERSEDED, RunStatus.CURRENT)
    # 3 files of 合肥 per 4 members now.
    assert per_1000(store.read([Y2025], [p.hefei]), p.hefei) == lib.Value(Decimal("750.0000"), 3, 4)
    # The superseded run's values stay a while (a page may have read the run just before
    # the switch), then go; the run stays as history.
    assert IndicatorValue.objects.filter(run=first).exists()
    IndicatorRun.objects.filter(pk=first.pk).update(
        superseded_at=timezone.now() - store.PRUNE_AFTER - datetime.timedelta(seconds=1)
    )
    assert store.prune() == len(lib.LIBRARY) * p.anhui.__class__.objects.count()
    assert not IndicatorValue.objects.filter(run=first).exists()
    assert IndicatorRun.objects.filter(pk=first.pk).exists()


def test_a_refresh_of_some_codes_keeps_the_others_of_the_older_run(data: Province) -> None:
    p = data
    store.refresh([Y2025])
    add_hefei_file(p)
    store.refresh([Y2025], codes=[CODE])
    found = store.read([Y2025], [p.hefei], [CODE, "days_to_filing"])
    assert per_1000(found, p.hefei).numerator == 3  # from the newer run
    # 合肥's median days to filing still of the two files of the first run (10, 40): 25.
    assert found.now["days_to_filing"][p.hefei.pk] == lib.Value(Decimal("25"), None, 2)
    assert len(current_runs()) == 2  # the older run still holds the other indicators


# --- reading: fallback, atomic switch, failures, two refreshes ------------------------------------


def test_a_period_without_stored_values_is_computed_and_stored_on_first_read(
    data: Province,
) -> None:
    p = data
    assert not IndicatorRun.objects.exists()
    first = store.values(Y2025, [p.anhui, p.hefei], [CODE])
    assert per_1000(first, p.hefei) == lib.Value(Decimal("500.0000"), 2, 4)
    (run,) = current_runs()
    # Every indicator is stored, so the next page (any codes) finds them all.
    assert (run.trigger, run.started_by, set(run.codes)) == (
        RunTrigger.PAGE,
        None,
        set(lib.LIBRARY),
    )
    with CaptureQueriesContext(connection) as queries:
        again = store.values(Y2025, [p.anhui, p.hefei])
    assert len(queries.captured_queries) == 2  # the runs, their values
    assert again.as_of == run.started_at and not again.live


def test_values_of_an_unfinished_run_are_never_read(
    data: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = data
    old = store.refresh([Y2025]).runs[0]
    add_hefei_file(p)
    seen: list[tuple[lib.Value, Any, int]] = []
    insert = store._insert

    def insert_and_look(batch: list[tuple[Any, ...]]) -> None:
        insert(batch)
        # Some of the new run's values are written; a page reads now.
        found = store.read([Y2025], [p.hefei], [CODE])
        running = IndicatorRun.objects.filter(status=RunStatus.RUNNING).count()
        seen.append((per_1000(found, p.hefei), found.as_of, running))

    monkeypatch.setattr(store, "BATCH", 7)
    monkeypatch.setattr(store, "_insert", insert_and_look)
    new = store.refresh([Y2025]).runs[0]
    assert len(seen) > 10  # many batches, each followed by a read
    # Every read before the switch: the old run's values, as of the old run.
    assert {value for value, _as_of, _running in seen} == {lib.Value(Decimal("500.0000"), 2, 4)}
    assert {as_of for _value, as_of, _running in seen} == {old.started_at}
    assert {running for _v, _a, running in seen} == {1}
    # After it: the new values, as of the new run.
    after = store.read([Y2025], [p.hefei], [CODE])
    assert per_1000(after, p.hefei) == lib.Value(Decimal("750.0000"), 3, 4)
    assert after.as_of == new.started_at


def test_a_failed_refresh_leaves_the_previous_values(
    data: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = data
    old = store.refresh([Y2025]).runs[0]
    add_hefei_file(p)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(lib, "compute_periods", broken)
    with pytest.raises(RuntimeError):
        store.refresh([Y2025])
    failed = IndicatorRun.objects.get(status=RunStatus.FAILED)
    assert "the database went away" in failed.error
    assert not IndicatorValue.objects.filter(run=failed).exists()
    found = store.read([Y2025], [p.hefei], [CODE])
    assert per_1000(found, p.hefei).numerator == 2 and found.runs == [old]


def test_a_run_whose_process_died_is_failed_by_the_next_refresh(data: Province) -> None:
    dead = IndicatorRun.objects.create(
        period_start=Y2025.start, period_end=Y2025.end, trigger=RunTrigger.SCHEDULE, codes=[CODE]
    )
    assert dead.status == RunStatus.RUNNING
    store.refresh([Y2025])
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and dead.error


def test_two_refreshes_of_a_period_do_not_run_at_once(data: Province) -> None:
    p = data
    y2024 = lib.Period.year(2024)
    with held_elsewhere(store._lock_name(Y2025)):
        done = store.refresh([y2024, Y2025])
        # The period another refresh works on is skipped, the other one is done.
        assert done.skipped == [Y2025]
        assert [(r.period_start, r.status) for r in done.runs] == [(y2024.start, "current")]
        # "Recompute now" is refused meanwhile.
        with pytest.raises(Conflict):
            store.start_refresh(p.leo, p.anhui, [Y2025])
        # A page of that period computes live for itself and stores nothing.
        found = store.values(Y2025, [p.hefei], [CODE])
        assert found.live and found.as_of is None
        assert per_1000(found, p.hefei) == lib.Value(Decimal("500.0000"), 2, 4)
        assert not IndicatorRun.objects.filter(period_start=Y2025.start).exists()
    assert store.refresh([Y2025]).runs


def test_an_organisation_created_after_the_run_reads_as_without_records(data: Province) -> None:
    p = data
    store.refresh([Y2025])
    newer = organisation("新区工会", OrganisationKind.COUNTY, p.hefei, None)
    found = store.read([Y2025], [newer], [CODE, "days_to_filing"])
    assert found.now[CODE][newer.pk] == lib.Value(None, 0, 0)
    assert found.now["days_to_filing"][newer.pk] == lib.Value(None, None, 0)


# --- pages ----------------------------------------------------------------------------------------


def page_queries(client: Client, url: str) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response, [q["sql"] for q in context.captured_queries]


def test_pages_read_stored_values_in_the_same_few_queries_whatever_the_size(
    client: Client, data: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = data
    logged_in(client, p.leo)
    url = reverse("indicators") + "?year=2025"
    dashboard = reverse("dashboard") + "?year=2025"
    store.refresh(store.trend_periods(Y2025, 6))
    monkeypatch.setattr(views, "TREND_YEARS", 1)
    _small, small_sql = page_queries(client, url)
    _dash, dash_sql = page_queries(client, dashboard)
    # More organisations on every level and a longer trend: the same queries.
    for index in range(3):
        city = organisation(f"城市{index}", OrganisationKind.CITY, p.anhui, None)
        county = organisation(f"区县{index}", OrganisationKind.COUNTY, city, None)
        members(p, organisation(f"工会{index}", OrganisationKind.GRASSROOTS, county, None), 2)
    store.refresh(store.trend_periods(Y2025, 6))
    monkeypatch.setattr(views, "TREND_YEARS", 6)
    big, big_sql = page_queries(client, url)
    assert len(big.context["child_rows"]) == 5 and len(big.context["trend_periods"]) == 7
    assert len(big_sql) == len(small_sql) <= 8
    assert len(page_queries(client, dashboard)[1]) == len(dash_sql) <= 9
    # The values come from the store: no query reads the files or the memberships.
    for sql in big_sql + dash_sql:
        assert "hardship_hardshipfile" not in sql and "people_membership" not in sql
    # The second refresh counted the new unions' 6 members: 3 files per 14 members.
    row = next(r for r in big.context["rows"] if r["cell"].indicator.code == CODE)
    assert row["cell"].value == lib.Value(Decimal("214.2857"), 3, 14)


def test_the_page_says_as_of_when_and_marks_old_values_stale(
    client: Client, data: Province, settings: Any
) -> None:
    p = data
    settings.GONGHUI_INDICATOR_MAX_AGE = 3600
    store.refresh(store.trend_periods(Y2025), by=p.leo)
    logged_in(client, p.leo)
    url = reverse("indicators") + "?year=2025"
    response = client.get(url)
    page = response.content.decode()
    assert not response.context["stored"].stale
    assert "Values as of" in page and 'id="stale"' not in page
    assert 'id="refresh-form"' in page
    # Two hours later, the values are older than the maximum age (one hour): still shown,
    # marked stale.
    earlier = timezone.now() - datetime.timedelta(hours=2)
    IndicatorRun.objects.update(started_at=earlier)
    response = client.get(url)
    stored = response.context["stored"]
    assert stored.stale and stored.as_of == earlier
    assert 'id="stale"' in response.content.decode()
    row = next(r for r in response.context["rows"] if r["cell"].indicator.code == CODE)
    assert row["cell"].value.value == Decimal("375.0000")
    # The dashboard says the same.
    assert 'id="stale"' in client.get(reverse("dashboard") + "?year=2025").content.decode()


def test_recompute_now_needs_supervise_in_the_subtree(client: Client, data: Province) -> None:
    p = data
    store.refresh([Y2025])
    before = IndicatorRun.objects.count()
    refresh_url = reverse("indicator-refresh")
    # A case worker does not supervise: refused.
    alice = logged_in(Client(), p.alice)
    assert alice.post(refresh_url, {"org": p.yaohai.pk, "year": "2025"}).status_code == 403
    # 合肥's reviewer: 芜湖 is outside his subtree (it does not exist for him).
    carl = logged_in(Client(), p.carl)
    assert carl.post(refresh_url, {"org": p.wuhu.pk, "year": "2025"}).status_code == 404
    assert carl.get(refresh_url + f"?org={p.hefei.pk}&year=2025").status_code == 405
    assert IndicatorRun.objects.count() == before
    with pytest.raises(NotAllowed):
        store.start_refresh(p.alice, p.yaohai, [Y2025])
    with pytest.raises(NotAllowed):
        store.start_refresh(p.carl, p.wuhu, [Y2025])
    # In his subtree: the page's period and its trend are recomputed, as him.
    add_hefei_file(p)
    response = carl.post(refresh_url, {"org": p.hefei.pk, "year": "2025", "page": "indicators"})
    assert response.status_code == 302
    assert response["Location"] == reverse("indicators") + f"?org={p.hefei.pk}&year=2025"
    runs = current_runs()
    assert [r.period_start.year for r in runs] == [2022, 2023, 2024, 2025]
    assert {(r.trigger, r.started_by) for r in runs} == {(RunTrigger.USER, p.carl)}
    page = carl.get(reverse("indicators") + f"?org={p.hefei.pk}&year=2025")
    row = next(r for r in page.context["rows"] if r["cell"].indicator.code == CODE)
    assert row["cell"].value.numerator == 3


def test_recompute_now_starts_a_detached_command(
    data: Province, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    p = data
    settings.GONGHUI_JOBS_INLINE = False
    settings.DATA_DIR = tmp_path
    started: list[dict[str, Any]] = []

    class Process:
        pid = 4242

        def __init__(self, argv: list[str], **kwargs: Any) -> None:
            started.append({"argv": argv, **kwargs})

    monkeypatch.setattr(subprocess, "Popen", Process)
    store.start_refresh(p.leo, p.hefei, [lib.Period.year(2024), Y2025])
    (call,) = started
    assert call["argv"][1:] == [
        *("-m", "gonghui", "indicators", "refresh", "--as", "leo"),
        *("--period", "2024-01-01:2024-12-31", "--period", "2025-01-01:2025-12-31"),
    ]
    assert call["start_new_session"] is True  # detached: a web worker's end does not end it
    assert (tmp_path / "indicators" / "refresh.log").exists()
    assert not IndicatorRun.objects.exists()  # the command does the work
    # What it runs: the same refresh, as leo.
    out = io.StringIO()
    call_command("indicators", "refresh", *call["argv"][5:], stdout=out)
    assert "2025-01-01 – 2025-12-31:" in out.getvalue()
    assert {(r.trigger, r.started_by) for r in current_runs()} == {(RunTrigger.USER, p.leo)}


def test_the_command_refuses_a_user_who_does_not_supervise(data: Province) -> None:
    with pytest.raises(CommandError, match="Your role does not allow this"):
        call_command("indicators", "refresh", "--as", "alice", "--year", "2025")
    out = io.StringIO()
    call_command("indicators", "refresh", "--year", "2025", "--trend", "0", stdout=out)
    (run,) = current_runs()
    assert (run.period_start, run.trigger, run.started_by) == (Y2025.start, "command", None)
    listing = io.StringIO()
    call_command("indicators", "runs", stdout=listing)
    assert "2025-01-01:2025-12-31\tcurrent" in listing.getvalue()


def test_the_records_page_notes_when_the_stored_value_is_older_than_the_records(
    client: Client, data: Province
) -> None:
    p = data
    store.refresh([Y2025])
    logged_in(client, p.leo)
    url = reverse("indicator-records") + f"?code={CODE}&org={p.hefei.pk}&year=2025&part=numerator"
    assert 'id="stored-note"' not in client.get(url).content.decode()
    add_hefei_file(p)
    response = client.get(url)
    # Live: 3 files now; the pages still show the stored 2 / 4 = 500.
    assert response.context["value"].numerator == 3
    assert response.context["page"].paginator.count == 3
    assert response.context["stored_value"] == lib.Value(Decimal("500.0000"), 2, 4)
    page = response.content.decode()
    assert 'id="stored-note"' in page and "500.00" in page


# --- the daily job -------------------------------------------------------------------------------


def test_the_daily_job_stores_the_year_and_its_trend_once_a_day(data: Province) -> None:
    day = D(2026, 3, 10)
    out = io.StringIO()
    call_command("schedule", "--date", day.isoformat(), stdout=out)
    assert "indicators: indicators of 4 periods computed and stored for 2026-03-10" in (
        out.getvalue()
    )
    runs = current_runs()
    assert [(r.period_start, r.period_end) for r in runs] == [
        (D(year, 1, 1), D(year, 12, 31)) for year in (2023, 2024, 2025, 2026)
    ]
    assert {r.trigger for r in runs} == {RunTrigger.SCHEDULE}
    # The timer fires again the same day: nothing is computed again.
    again = io.StringIO()
    call_command("schedule", "--date", day.isoformat(), stdout=again)
    assert "indicators: indicators of 0 periods computed" in again.getvalue()
    assert IndicatorRun.objects.count() == 4 and current_runs() == runs
    # A "recompute now" of one year that day does not make the job redo the others.
    store.refresh([Y2025], by=data.leo)
    assert not store.refresh_daily(day).runs
    assert "indicators" in [job.name for job in scheduling.daily_jobs()]


# --- competitions: the live ranking reads the store, freezing computes --------------------------


@pytest.fixture
def competition(data: Province) -> Any:
    p = data
    return comp.define_competition(
        p.leo,
        name="2025年度找得更全帮得更好劳动竞赛",
        period=Y2025,
        tiers=[comp.TierSpec("市级", comp.organisations_of_kind(p.leo, OrganisationKind.CITY))],
        indicators=[comp.IndicatorSpec(CODE, Decimal("80"))],
        innovation_weight=Decimal("20"),
        judges=[user("judy", Role.REVIEWER, p.anhui)],
    )


def hefei_part(result: comp.Ranking, p: Province) -> comp.Part:
    row = next(r for t in result.tiers for r in t.rows if r.organisation_id == p.hefei.pk)
    return row.parts[0]


def test_a_live_ranking_reads_fresh_stored_values_and_freezing_computes_them(
    client: Client, data: Province, competition: Any, settings: Any
) -> None:
    p = data
    run = store.refresh([Y2025]).runs[0]
    add_hefei_file(p)  # 合肥: 3 files per 4 members now (750); the store says 500
    live = comp.ranking(competition)
    assert (hefei_part(live, p).value, hefei_part(live, p).numerator) == (Decimal("500.0000"), 2)
    assert live.values_as_of == run.started_at
    page = logged_in(client, p.leo).get(reverse("competition-detail", args=[competition.pk]))
    assert 'id="values-as-of"' in page.content.decode()
    # Judges' scores are always live: 60 from one judge → 60 × 20 / 100 = 12 points.
    comp.score_innovation(competition.judges.get(), competition, p.hefei, Decimal("60"), "")
    row = next(
        r for r in comp.ranking(competition).tiers[0].rows if r.organisation_id == p.hefei.pk
    )
    assert row.innovation_points == Decimal("12.00")
    # Stale values are not used: the ranking computes from the records.
    settings.GONGHUI_INDICATOR_MAX_AGE = 60
    IndicatorRun.objects.update(started_at=timezone.now() - datetime.timedelta(minutes=5))
    stale = comp.ranking(competition)
    assert hefei_part(stale, p).numerator == 3 and stale.values_as_of is None
    settings.GONGHUI_INDICATOR_MAX_AGE = 24 * 3600
    assert hefei_part(comp.ranking(competition), p).numerator == 2  # fresh again: stored
    # Freezing computes from the records, whatever the store says: exact at the freeze.
    comp.freeze(p.leo, competition)
    snapshot = Snapshot.objects.get(competition=competition)
    frozen = comp.ranking(competition)
    assert (hefei_part(frozen, p).value, hefei_part(frozen, p).numerator) == (
        Decimal("750.0000"),
        3,
    )
    assert "values_as_of" not in snapshot.data["inputs"] and frozen.values_as_of is None


def test_a_live_ranking_with_an_indicator_not_stored_computes_live(
    data: Province, competition: Any
) -> None:
    p = data
    store.refresh([Y2025], codes=["compliance"])
    add_hefei_file(p)
    result = comp.ranking(competition)
    assert hefei_part(result, p).numerator == 3 and result.values_as_of is None
