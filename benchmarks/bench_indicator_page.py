"""The province's indicator page served from the indicator store, against the same page
computed live (the baseline, as it was before the store); the refresh that stores the
4-year trend; the dashboard and a live competition ranking, both ways.

Target: pages answer in well under a second with the demo at 1,000,000 workers (2,402
organisations), where computing the page's trend live takes ~7 s.

    .venv/bin/python benchmarks/bench_indicator_page.py --any-cache    # 1M demo, cached
    .venv/bin/python benchmarks/bench_indicator_page.py --size 20000 --files 2000

The demo comes from ``out/cache/`` as for ``bench_indicators.py`` (copied to
``out/indicator_page/``, so the cache never sees this run's migrations). Pages are
requested in process with Django's test client as the province's leader (``leader``): the
whole view with its template, no HTTP server. "Live" replaces the store's read with the
computation the page made before (``compute_periods`` for the page's organisation and one
level down); everything else is the same code.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "pagebench")]

from bench_indicators import demo_arguments, prepare, setup  # noqa: E402
from common import log, result_line, self_peak_mb, table  # noqa: E402


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    demo_arguments(parser)
    parser.add_argument("--year", type=int, help="the page's year (default: this year)")
    parser.add_argument("--repeat", type=int, default=2, help="live page views; the best counts")
    parser.add_argument("--views", type=int, default=20, help="page views from the store")
    return parser.parse_args(argv)


def timed(action: Callable[[], Any], times: int) -> tuple[list[float], int, Any]:
    """Seconds of each run, the queries of the last one, and its result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seconds: list[float] = []
    result: Any = None
    queries = 0
    for _ in range(max(1, times)):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = action()
            seconds.append(time.perf_counter() - started)
        queries = len(captured.captured_queries)
    return seconds, queries, result


def get(client: Any, url: str) -> Callable[[], Any]:
    def action() -> Any:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        return response

    return action


def live_values(
    periods: Sequence[Any], organisations: Iterable[Any] | None = None, codes: Any = None
) -> Any:
    """What the pages did before the store: compute for the page's organisation (the first
    given) and those one level down, every period in one pass, nothing stored."""
    from gonghui.supervision import indicators as lib
    from gonghui.supervision import store

    chosen = list(organisations or [])
    root = chosen[0] if chosen else None
    ids = [o.pk for o in chosen] if chosen else None
    computed = lib.compute_periods(periods, codes, root=root, only=ids)
    return store.Stored(list(periods), computed, live=True)


def main(argv: list[str]) -> int:
    args = arguments(argv)
    url, how = prepare(args, "indicator_page")
    setup(url)
    from decimal import Decimal

    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from django.utils import timezone

    from gonghui.accounts.models import User
    from gonghui.organisations.choices import OrganisationKind
    from gonghui.organisations.models import Organisation
    from gonghui.supervision import competition as comp
    from gonghui.supervision import indicators as lib
    from gonghui.supervision import store
    from gonghui.supervision.models import IndicatorValue

    year = args.year or timezone.localdate().year
    period = lib.Period.year(year)
    trend = store.trend_periods(period)
    organisations = Organisation.objects.count()
    leader = User.objects.select_related("organisation").get(username="leader")
    root = leader.organisation
    assert root is not None
    log(f"{connection.vendor}: {organisations} organisations, page of {root.name}, {year}")
    setup_test_environment()  # responses carry their template context
    client = Client()
    client.force_login(leader)
    page_url = reverse("indicators") + f"?year={year}"
    dashboard_url = reverse("dashboard") + f"?year={year}"

    # The baseline: the same pages computing their values live.
    real_values_periods = store.values_periods
    real_values = store.values
    store.values_periods = live_values  # type: ignore[assignment]
    store.values = lambda period, organisations=None, codes=None: live_values(  # type: ignore[assignment]
        [period], organisations, codes
    )
    log("the indicator page, computed live (baseline)")
    live_page, live_page_queries, live_response = timed(get(client, page_url), args.repeat)
    log("the dashboard, computed live")
    live_dash, live_dash_queries, _ = timed(get(client, dashboard_url), args.repeat)
    store.values_periods = real_values_periods  # type: ignore[assignment]
    store.values = real_values  # type: ignore[assignment]

    # The refresh the daily job makes: the page's year and its trend, every organisation.
    log(f"refresh: {len(trend)} periods, every indicator, every organisation")
    refresh_seconds, refresh_queries, refreshed = timed(lambda: store.refresh(trend), 1)
    rows = refreshed.rows
    assert not refreshed.skipped
    stored_rows = IndicatorValue.objects.count()

    log("the indicator page, from the store")
    store_page, store_page_queries, store_response = timed(get(client, page_url), args.views)
    log("the dashboard, from the store")
    store_dash, store_dash_queries, _ = timed(get(client, dashboard_url), args.views)
    same = _same_rows(live_response, store_response)

    # A live competition: every city federation on every indicator.
    cities = comp.organisations_of_kind(leader, OrganisationKind.CITY)
    competition = comp.define_competition(
        leader,
        name="bench",
        period=period,
        tiers=[comp.TierSpec("cities", cities)],
        indicators=[comp.IndicatorSpec(code, Decimal(1)) for code in lib.LIBRARY],
    )
    log("the live ranking, indicators computed (as freezing does)")
    ranking_live, _, live_ranking = timed(
        lambda: comp.score(comp.gather(competition, live=True)), args.repeat
    )
    log("the live ranking, indicators from the store")
    ranking_store, ranking_queries, stored_ranking = timed(
        lambda: comp.ranking(competition), args.views
    )
    assert stored_ranking.values_as_of is not None
    ranking_same = [r.total for t in live_ranking.tiers for r in t.rows] == [
        r.total for t in stored_ranking.tiers for r in t.rows
    ]

    page = statistics.median(store_page)
    rows_out = [
        ("indicator page", f"{min(live_page):.3f}", live_page_queries, f"{page:.3f}",
         f"{max(store_page):.3f}", store_page_queries),
        ("dashboard", f"{min(live_dash):.3f}", live_dash_queries,
         f"{statistics.median(store_dash):.3f}", f"{max(store_dash):.3f}", store_dash_queries),
        ("live ranking", f"{min(ranking_live):.3f}", "", f"{statistics.median(ranking_store):.3f}",
         f"{max(ranking_store):.3f}", ranking_queries),
    ]  # fmt: skip
    print(f"database: {connection.vendor} ({how})")
    print(f"organisations: {organisations}, indicators: {len(lib.LIBRARY)}, trend {len(trend)}")
    print(
        table(
            ["page", "live best s", "live queries", "store median s", "store max s", "queries"],
            rows_out,
        )
    )
    print(
        f"refresh of the {len(trend)}-year trend: {refresh_seconds[0]:.2f} s, {rows:,} values "
        f"stored ({stored_rows:,} rows), {refresh_queries} queries"
    )
    print(f"values on the page the same both ways: {same}; rankings the same: {ranking_same}")
    print(
        result_line(
            "indicator_page",
            page,
            min(live_page),
            peak_mb=round(self_peak_mb(), 1),
            database=connection.vendor,
            prepared=how,
            organisations=organisations,
            indicators=len(lib.LIBRARY),
            period=year,
            trend_periods=len(trend),
            page_store_median_seconds=round(page, 4),
            page_store_max_seconds=round(max(store_page), 4),
            page_store_queries=store_page_queries,
            page_live_seconds=round(min(live_page), 3),
            page_live_queries=live_page_queries,
            dashboard_store_median_seconds=round(statistics.median(store_dash), 4),
            dashboard_store_queries=store_dash_queries,
            dashboard_live_seconds=round(min(live_dash), 3),
            ranking_store_median_seconds=round(statistics.median(ranking_store), 4),
            ranking_store_queries=ranking_queries,
            ranking_live_seconds=round(min(ranking_live), 3),
            refresh_seconds=round(refresh_seconds[0], 3),
            refresh_queries=refresh_queries,
            refresh_values=rows,
            views=args.views,
            same_values=same,
            same_ranking=ranking_same,
        )
    )
    return 0 if same and ranking_same else 1


def _same_rows(live: Any, stored: Any) -> bool:
    """The page shows the same values both ways (the data did not change in between)."""

    def values(response: Any) -> list[Any]:
        rows = [(r["cell"].indicator.code, r["cell"].value) for r in response.context["rows"]]
        children = [
            (c["organisation"].pk, [cell.value for cell in c["cells"]])
            for c in response.context["child_rows"]
        ]
        return [rows, children]

    return values(live) == values(stored)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
