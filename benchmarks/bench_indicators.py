"""Every indicator for every organisation of the demo province, set-based, against the
naive way (one indicator, a Python loop over the organisations, two ORM counts each).

Target (issue 5): with the demo at 1,000,000 workers and 100,000 files, computing every
indicator of ``gonghui.supervision.indicators`` for every organisation at every level
finishes in ≤ 10 s.

    .venv/bin/python benchmarks/bench_indicators.py                    # 1M demo, cached
    .venv/bin/python benchmarks/bench_indicators.py --any-cache        # accept an older cache
    .venv/bin/python benchmarks/bench_indicators.py --url sqlite:////path/db.sqlite3
    .venv/bin/python benchmarks/bench_indicators.py --size 20000 --files 2000

The demo comes from ``out/cache/`` as ``bench_pages.py --reuse`` leaves it (built with
``gonghui load_demo`` when missing, about 3 minutes at full scale), copied to
``out/indicators/`` so the cache never sees this run's migrations. ``--any-cache`` takes a
cached demo of the same scale built from older demo code (the indicators only read it).
The naive loop runs over a random sample of organisations (``--naive-sample``) and is
extrapolated to all of them, and says so; its values are checked against the set-based
ones on the sample.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "pagebench")]

from common import log, result_line, self_peak_mb, table  # noqa: E402

NAIVE_INDICATOR = "deep_with_living_aid"


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments :func:`prepare` reads: the demo's scale, or a database to use as is."""
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--url", help="a loaded database to use as is")
    parser.add_argument("--any-cache", action="store_true", help="accept an older cached demo")


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    demo_arguments(parser)
    parser.add_argument("--year", type=int, help="the period: this calendar year (default: now)")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=0,
        help="time the naive loop on N organisations and extrapolate (0: all)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="set-based runs; the best counts")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace, work_name: str = "indicators") -> tuple[str, str]:
    """A database URL and how it came to be (a copy under ``out/<work_name>/``)."""
    if args.url:
        return args.url, "given"
    from pagebench import databases

    out = HERE / "out"
    key = databases.demo_key(args.size, args.files)
    cached = out / "cache" / f"{key}.sqlite3"
    how = "cached copy"
    if not cached.exists() and args.any_cache:
        older = sorted(
            (out / "cache").glob(f"demo-{args.size}-{args.files}-*.sqlite3"),
            key=lambda p: p.stat().st_mtime,
        )
        if older:
            cached, how = older[-1], f"cached copy of {older[-1].name} (older demo code)"
    # The demo's list imports keep their rows as Parquet beside the database (the
    # cross-check rate reads them): built into a folder beside the cached copy, and read
    # from there by every run of it.
    data_dir = cached.with_suffix(".data")
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        databases.build_sqlite(cached, data_dir, args.size, args.files)
        how = "built and cached"
    os.environ.setdefault("GONGHUI_DATA_DIR", str(data_dir))
    work = out / work_name / "bench.sqlite3"
    work.parent.mkdir(parents=True, exist_ok=True)
    databases.remove_sqlite(work)
    log(f"copying {cached.name} to {work}")
    shutil.copyfile(cached, work)
    return databases.sqlite_url(work), how


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    os.environ.setdefault("DEBUG", "false")
    import django
    from django.core.management import call_command
    from django.db.utils import OperationalError

    django.setup()
    try:
        call_command("migrate", verbosity=0, interactive=False)
    except OperationalError as error:
        # A demo cached while another branch's migration was applied: the indicators only
        # read the other apps' tables, so bring the supervision app up to date alone.
        log(f"migrate failed ({error}); migrating the supervision app only")
        call_command("migrate", "supervision", verbosity=0, interactive=False)


def main(argv: list[str]) -> int:
    args = arguments(argv)
    url, how = prepare(args)
    setup(url)
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from gonghui.organisations.models import Organisation
    from gonghui.supervision import indicators as lib

    year = args.year or timezone.localdate().year
    period = lib.Period.year(year)
    organisations = list(Organisation.objects.order_by("path"))
    log(f"{connection.vendor}: {len(organisations)} organisations, period {year}")

    # Set-based: every indicator for every organisation. Each indicator is timed on its own
    # inside the run; the best of --repeat whole runs counts (the first warms the cache).
    runs: list[float] = []
    per_indicator: dict[str, float] = {}
    results: dict[str, dict[int, lib.Value]] = {}
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        tree = lib.Tree()
        for code, indicator in lib.LIBRARY.items():
            t0 = time.perf_counter()
            results[code] = indicator.compute(period, tree)
            spent = time.perf_counter() - t0
            per_indicator[code] = min(per_indicator.get(code, spent), spent)
        runs.append(time.perf_counter() - started)
    seconds = min(runs)

    # The indicator page's trend: the period and the three years before, every indicator
    # for every organisation, in one pass (lib.compute_periods: the queries of one period).
    trend = [
        lib.Period(period.start.replace(year=earlier), period.end.replace(year=earlier))
        for earlier in range(year - 3, year + 1)
    ]
    reset_queries()
    trend_runs: list[float] = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            lib.compute_periods(trend)
        trend_runs.append(time.perf_counter() - started)
    trend_seconds = min(trend_runs)
    trend_queries = len(captured.captured_queries)

    # Naive: one indicator, organisation by organisation, two counts each.
    sample = organisations
    if 0 < args.naive_sample < len(organisations):
        sample = random.Random(5).sample(organisations, args.naive_sample)
    mismatches = 0
    reset_queries()
    started = time.perf_counter()
    for organisation in sample:
        num = lib.records(NAIVE_INDICATOR, organisation, period, "numerator").count()
        den = lib.records(NAIVE_INDICATOR, organisation, period, "denominator").count()
        value = lib.ratio(num, den, lib.PERCENT)
        if value != results[NAIVE_INDICATOR][organisation.pk].value:
            mismatches += 1
    naive_sample_seconds = time.perf_counter() - started
    extrapolated = len(sample) < len(organisations)
    naive_seconds = naive_sample_seconds * len(organisations) / len(sample)
    one_indicator = per_indicator[NAIVE_INDICATOR]

    root = organisations[0]
    rows = [
        (code, f"{per_indicator[code] * 1000:,.0f}", _show(results[code][root.pk]))
        for code in lib.LIBRARY
    ]
    print(f"database: {connection.vendor} ({how})")
    print(f"organisations: {len(organisations)}, indicators: {len(lib.LIBRARY)}, period {year}")
    print(table(["indicator", "ms (all organisations)", f"value at {root.name}"], rows))
    print(
        f"set-based, every indicator for every organisation: {seconds:.2f} s "
        f"(runs: {', '.join(f'{r:.2f}' for r in runs)}; target ≤ 10 s)"
    )
    print(
        f"set-based, every indicator for every organisation over a {len(trend)}-year trend "
        f"in one pass: {trend_seconds:.2f} s, {trend_queries} queries"
    )
    print(f"set-based, {NAIVE_INDICATOR} alone: {one_indicator:.3f} s")
    note = (
        f"extrapolated from {len(sample)} organisations timed ({naive_sample_seconds:.2f} s)"
        if extrapolated
        else "every organisation timed"
    )
    print(f"naive ORM loop, {NAIVE_INDICATOR} alone: {naive_seconds:.2f} s ({note})")
    print(f"naive values that differ from the set-based ones: {mismatches} of {len(sample)}")
    print(
        result_line(
            "indicators",
            seconds,
            naive_seconds,
            peak_mb=round(self_peak_mb(), 1),
            database=connection.vendor,
            prepared=how,
            organisations=len(organisations),
            indicators=len(lib.LIBRARY),
            period=year,
            set_based_one_indicator_seconds=round(one_indicator, 4),
            trend_periods=len(trend),
            trend_seconds=round(trend_seconds, 3),
            trend_queries=trend_queries,
            naive_indicator=NAIVE_INDICATOR,
            naive_extrapolated=extrapolated,
            naive_sample=len(sample),
            naive_sample_seconds=round(naive_sample_seconds, 3),
            naive_ratio_same_indicator=round(naive_seconds / one_indicator, 1),
            naive_mismatches=mismatches,
            target_seconds=10,
            within_target=seconds <= 10,
        )
    )
    return 1 if mismatches else 0


def _show(value: object) -> str:
    from gonghui.supervision.indicators import Value

    assert isinstance(value, Value)
    if value.value is None:
        return "no data"
    return f"{value.value} ({value.numerator}/{value.denominator})"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
