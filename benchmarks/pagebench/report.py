"""The figures of one run, the human report and the JSON result lines."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from common import latency_summary, percentile, result_line, self_peak_mb, table

from .client import LoadResult, Sample
from .databases import Prepared
from .pages import PAGES, PageRequest

if TYPE_CHECKING:
    from .profile import Profile

BENCH = "pages"
TARGET_P95_MS = 100.0
RATIO_OF = "naive ORM p95 / served p95"
# Other processes using more than this many cores during the load make the figures suspect.
QUIET_CORES = 0.25
SQL_SHOWN = 700
AGGREGATE = re.compile(r"\b(COUNT|SUM|MIN|MAX|AVG)\(")
AGGREGATE_SHOWN = 240
LITERALS = re.compile(r"\b\d+\b|'[^']*'")


@dataclass
class Measured:
    """What the load phase gave."""

    load: LoadResult
    warmup_problems: list[str]
    server_peak_mb: float
    cpu_seconds: dict[str, float]  # during the load: server, client, database, machine


@dataclass
class Results:
    prepared: Prepared
    facts: dict[str, Any]
    measured: Measured
    naive: Sequence[tuple[PageRequest, float]]
    profiles: Sequence[Profile]
    build_peak_mb: float

    @property
    def problems(self) -> list[str]:
        return self.measured.warmup_problems + self.measured.load.problems


# --- figures -----------------------------------------------------------------------------


def page_figures(samples: Sequence[Sample], seconds: float) -> dict[str, Any]:
    summary: dict[str, Any] = latency_summary([sample.millis for sample in samples])
    summary["rps"] = round(len(samples) / seconds, 1) if seconds else 0.0
    return summary


def served_figures(load: LoadResult) -> dict[str, dict[str, Any]]:
    """Per page ("case"), per page and user ("case/leader"), and overall ("all")."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in load.samples:
        groups[sample.page].append(sample)
        groups[f"{sample.page}/{sample.user}"].append(sample)
    figures = {key: page_figures(group, load.seconds) for key, group in groups.items()}
    figures["all"] = page_figures(load.samples, load.seconds)
    return figures


def naive_figures(timings: Sequence[tuple[PageRequest, float]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for request, millis in timings:
        groups[request.page].append(millis)
        groups[f"{request.page}/{request.user}"].append(millis)
        groups["all"].append(millis)
    return {key: dict(latency_summary(values)) for key, values in groups.items()}


def serial_figures(profiles: Sequence[Profile]) -> dict[str, dict[str, Any]]:
    """Per page: one request alone, its largest query count and its SQL time."""
    groups: dict[str, list[Profile]] = defaultdict(list)
    for profile in profiles:
        groups[profile.request.page].append(profile)
    figures = {}
    for page in [page for page in PAGES if page in groups]:
        group = groups[page]
        summary: dict[str, Any] = latency_summary([profile.millis for profile in group])
        summary["queries_max"] = max(profile.queries for profile in group)
        sql = [profile.sql_millis for profile in group]
        summary["sql_p50_ms"] = round(percentile(sql, 50), 2)
        summary["sql_p95_ms"] = round(percentile(sql, 95), 2)
        figures[page] = summary
    return figures


def cpu_figures(measured: Measured) -> dict[str, Any]:
    """Where the CPU went, per request served: the page budget in CPU terms."""
    requests = max(len(measured.load.samples), 1)
    used = dict(measured.cpu_seconds)
    machine = used.pop("machine")
    figures: dict[str, Any] = {
        f"{name}_ms_per_request": round(seconds * 1000 / requests, 2)
        for name, seconds in used.items()
    }
    wall = max(measured.load.seconds, 1e-9)
    figures["cores"] = os.cpu_count()
    figures["cores_busy"] = round(sum(used.values()) / wall, 2)
    # Anything else running on the machine meanwhile (another test run...) skews the figures.
    figures["cores_busy_elsewhere"] = round(max(machine - sum(used.values()), 0) / wall, 2)
    return figures


def shorten(sql: str) -> str:
    """The query with its select list cut: columns say nothing about why it is slow (the
    start of a list of aggregates is kept)."""
    if not sql.startswith("SELECT "):
        return sql
    depth = 0
    for index, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sql.startswith(" FROM ", index):
            return f"{select_head(sql[:index])} ...{sql[index:]}"
    return sql


def select_head(select: str) -> str:
    if AGGREGATE.search(select):
        return select[:AGGREGATE_SHOWN]
    return "SELECT DISTINCT" if select.startswith("SELECT DISTINCT ") else "SELECT"


def slowest_queries(profiles: Sequence[Profile], limit: int = 6) -> list[dict[str, Any]]:
    """The slowest queries seen, one per page and query shape, slowest first."""
    best: dict[tuple[str, str], Profile] = {}
    for profile in profiles:
        key = (profile.request.page, LITERALS.sub("?", profile.slowest_sql))
        if key not in best or profile.slowest_millis > best[key].slowest_millis:
            best[key] = profile
    ranked = sorted(best.values(), key=lambda profile: -profile.slowest_millis)[:limit]
    return [
        {
            "page": profile.request.page,
            "user": profile.request.user,
            "path": profile.request.path,
            "ms": round(profile.slowest_millis, 1),
            "sql": shorten(profile.slowest_sql)[:SQL_SHOWN],
        }
        for profile in ranked
    ]


# --- the human report --------------------------------------------------------------------

LOAD_HEADERS = (
    "page/user",
    "requests",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "req/s",
    "naive n",
    "naive p50",
    "naive p95",
    "x faster",
)
SERIAL_HEADERS = ("page", "requests", "p50 ms", "p95 ms", "queries", "SQL p50 ms", "SQL p95 ms")


def load_row(
    key: str, served: dict[str, dict[str, Any]], naive: dict[str, dict[str, Any]]
) -> list[object]:
    ours, theirs = served[key], naive.get(key, {})
    ratio = theirs.get("p95_ms", math.nan) / ours["p95_ms"] if ours["p95_ms"] else math.nan
    figures = [ours[name] for name in ("requests", "p50_ms", "p95_ms", "p99_ms", "max_ms", "rps")]
    naive_figures = [theirs.get(name, math.nan) for name in ("p50_ms", "p95_ms")]
    return [key, *figures, theirs.get("requests", 0), *naive_figures, ratio]


def print_load(args: argparse.Namespace, results: Results) -> None:
    prepared, facts = results.prepared, results.facts
    print(
        f"\npages on {prepared.engine}: {facts['workers_in_db']:,} workers, "
        f"{facts['files_in_db']:,} files, {facts['db_mb']:,.0f} MB; database {prepared.how} "
        f"in {prepared.seconds:.0f}s; {args.clients} clients"
        + (f" pausing {args.think_ms:.0f} ms" if args.think_ms else "")
        + f", gunicorn -w {args.server_workers}"
    )
    served, naive = served_figures(results.measured.load), naive_figures(results.naive)
    keys = [page for page in PAGES if page in served] + ["all"]
    keys += sorted(key for key in served if "/" in key)
    print(table(LOAD_HEADERS, [load_row(key, served, naive) for key in keys]))


def print_cpu(measured: Measured) -> None:
    cpu = cpu_figures(measured)
    suffix = "_ms_per_request"
    spent = ", ".join(
        f"{key.removesuffix(suffix)} {value:.1f} ms" for key, value in cpu.items() if suffix in key
    )
    print(
        f"CPU per request: {spent}; {cpu['cores_busy']} of {cpu['cores']} cores busy with this "
        f"benchmark, {cpu['cores_busy_elsewhere']} with other processes"
    )
    if cpu["cores_busy_elsewhere"] > QUIET_CORES:
        print("WARNING: other processes competed for the CPU: these latencies are pessimistic")


def print_serial(profiles: Sequence[Profile]) -> None:
    serial = serial_figures(profiles)
    print("\none request at a time, in process (no network, no other clients):")
    columns = ("requests", "p50_ms", "p95_ms", "queries_max", "sql_p50_ms", "sql_p95_ms")
    rows = [[page, *(figures[name] for name in columns)] for page, figures in serial.items()]
    print(table(SERIAL_HEADERS, rows))
    print("slowest queries:")
    for query in slowest_queries(profiles):
        print(f"  {query['ms']:8.1f} ms  {query['page']} as {query['user']} {query['path']}")
        print(f"               {query['sql']}")


def print_report(args: argparse.Namespace, results: Results) -> None:
    print_load(args, results)
    print_cpu(results.measured)
    print_serial(results.profiles)


# --- the JSON lines ----------------------------------------------------------------------


def single_line(args: argparse.Namespace, results: Results) -> str:
    measured = results.measured
    served, naive = served_figures(measured.load), naive_figures(results.naive)
    overall = served["all"]
    errors = len(results.problems)
    bench_peak = self_peak_mb()
    build_seconds = results.prepared.build_seconds
    return result_line(
        BENCH,
        overall["p95_ms"] / 1000,
        naive.get("all", {}).get("p95_ms", math.nan) / 1000,
        ratio_of=RATIO_OF,
        database=results.prepared.engine,
        peak_mb=round(bench_peak + measured.server_peak_mb, 1),
        peak_mb_bench=round(bench_peak, 1),
        peak_mb_server=measured.server_peak_mb,
        build_peak_mb=round(results.build_peak_mb, 1),
        p50_ms=overall["p50_ms"],
        p95_ms=overall["p95_ms"],
        p99_ms=overall["p99_ms"],
        rps=overall["rps"],
        requests=overall["requests"],
        errors=errors,
        clients=args.clients,
        think_ms=args.think_ms,
        server_workers=args.server_workers,
        users=args.users.split(","),
        load_seconds=round(measured.load.seconds, 2),
        cpu=cpu_figures(measured),
        target_p95_ms=TARGET_P95_MS,
        meets_target=overall["p95_ms"] <= TARGET_P95_MS and errors == 0,
        size=None if args.url else args.size,
        files=None if args.url else args.files,
        **results.facts,
        prepared=results.prepared.how,
        prepare_seconds=results.prepared.seconds,
        build_seconds=round(build_seconds, 1) if build_seconds else None,
        pages={page: served[page] for page in PAGES if page in served},
        by_user={key: served[key] for key in sorted(served) if "/" in key},
        baseline={key: value for key, value in naive.items() if "/" not in key},
        serial=serial_figures(results.profiles),
        slowest_queries=slowest_queries(results.profiles),
    )


def combined_line(results: dict[str, dict[str, Any]]) -> str:
    """Both databases in one line: the worst p95 leads, each database's line inside."""
    worst = max(results, key=lambda name: results[name]["p95_ms"])
    figures = results[worst]
    return result_line(
        BENCH,
        figures["seconds"],
        figures["baseline_seconds"],
        ratio_of=RATIO_OF,
        database="both",
        worst_database=worst,
        peak_mb=max(result["peak_mb"] for result in results.values()),
        p50_ms=max(result["p50_ms"] for result in results.values()),
        p95_ms=figures["p95_ms"],
        rps=min(result["rps"] for result in results.values()),
        requests=sum(result["requests"] for result in results.values()),
        errors=sum(result["errors"] for result in results.values()),
        clients=figures["clients"],
        target_p95_ms=TARGET_P95_MS,
        meets_target=all(result["meets_target"] for result in results.values()),
        **results,
    )
