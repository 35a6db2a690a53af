"""Page benchmark: the work queue, file search and the case page under 10 concurrent clients.

Target (issue): with the demo at 1,000,000 workers and 100,000 files, every page answers
with p95 <= 100 ms on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/bench_pages.py                        # full scale, both databases
    .venv/bin/python benchmarks/bench_pages.py --size 20000 --files 2000 --database sqlite
    .venv/bin/python benchmarks/bench_pages.py --reuse                # keep the built demo

What it does, per database: builds the demo (or reuses it), starts gunicorn with four sync
workers and DEBUG off, logs in one session per client, draws a request mix from the
database (queue tabs, searches by surname, whole name, ID number and phone of people who
have files, case pages of random files in the user's scope), warms up, then runs the
clients in a closed loop and checks every answer: status 200 and the content expected
(the first file of the tab or search, the person's masked number, the applicant on the case
page, and no unmasked ID number where the role may not see it). Any wrong answer fails the
benchmark. The baseline is the naive ORM version of the same questions (pagebench/naive.py)
on a sample of the same requests, run in this process against the same data.

Output: a table per page and per user, then one JSON line per database; with
``--database both`` a final JSON line combines them (``p95_ms`` is the worst of the two).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    children_peak_mb,
    cpu_seconds,
    log,
    machine_cpu_seconds,
    parent_pid,
    process_name,
    progress,
    self_cpu_seconds,
)
from pagebench.client import Client, Session, run_load
from pagebench.databases import PROJECT, Prepared, postgres_server, prepare_postgres, prepare_sqlite
from pagebench.pages import PageRequest
from pagebench.report import (
    QUIET_CORES,
    Measured,
    Results,
    combined_line,
    print_report,
    single_line,
)
from pagebench.server import HOST, Server, gunicorn

DEFAULT_USERS = "yaohai_caseworker,leader"
DATABASES = ("sqlite", "postgres")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=[*DATABASES, "both"], default="both")
    parser.add_argument("--size", type=int, default=1_000_000, help="workers in the demo")
    parser.add_argument("--files", type=int, default=100_000, help="hardship files in the demo")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests, in all")
    parser.add_argument("--max-seconds", type=float, default=600, help="cap on the load phase")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests per client")
    parser.add_argument("--server-workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="pause of each client between an answer and its next request (default 0: "
        "a closed loop, the server always busy)",
    )
    parser.add_argument(
        "--users",
        default=DEFAULT_USERS,
        help="demo logins the clients take in turn (default: the county case worker and the "
        "province leader; add admin for a work queue that spans the whole province)",
    )
    parser.add_argument("--password", default="gonghui-demo")
    parser.add_argument("--baseline-requests", type=int, default=200)
    parser.add_argument("--baseline-seconds", type=float, default=180)
    parser.add_argument(
        "--profile-requests",
        type=int,
        default=100,
        help="requests replayed one at a time in process, with every query timed",
    )
    parser.add_argument("--profile-seconds", type=float, default=120)
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before the load, wait up to this long for other processes to leave the CPU",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data-dir", type=Path, default=PROJECT / "benchmarks" / "out", help="work files"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the built demo in DATA_DIR/cache (SQLite file, PostgreSQL dump) and reuse it",
    )
    parser.add_argument(
        "--url",
        default="",
        help="benchmark this database as it is, already loaded (sqlite:///path or "
        "postgres://...); nothing is built, --database follows from the URL",
    )
    args = parser.parse_args(argv)
    if args.url:
        args.database = engine_of(args.url)
    return args


def engine_of(url: str) -> str:
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        return "sqlite"
    if scheme in {"postgres", "postgresql"}:
        return "postgres"
    raise SystemExit(f"bench_pages: unsupported database URL {url!r}")


# --- both databases: one child process each ----------------------------------------------


def child_argv(argv: Sequence[str], database: str) -> list[str]:
    """This script again with the same options, for one database (argparse takes the last
    ``--database``)."""
    return [sys.executable, __file__, *argv, "--database", database]


def run_child(argv: list[str]) -> tuple[int, dict[str, Any] | None]:
    """Run one database's benchmark, echoing its output; its last line is its result."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    assert process.stdout is not None
    last = ""
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        last = line.strip() or last
    returncode = process.wait()
    try:
        return returncode, json.loads(last)
    except json.JSONDecodeError:
        return returncode or 1, None


def run_both(argv: Sequence[str]) -> int:
    results: dict[str, dict[str, Any]] = {}
    failed = False
    for database in DATABASES:
        returncode, result = run_child(child_argv(argv, database))
        failed |= returncode != 0
        if result is not None:
            results[database] = result
    if len(results) != len(DATABASES):
        log("bench_pages: a database run gave no result")
        return 1
    print(combined_line(results))
    return 1 if failed else 0


# --- one database ------------------------------------------------------------------------


@contextmanager
def prepared_database(args: argparse.Namespace, out: Path, data_dir: Path) -> Iterator[Prepared]:
    if args.url:
        yield Prepared(args.database, args.url, "given", 0.0, None)
        return
    if args.database == "sqlite":
        yield prepare_sqlite(out, data_dir, args.size, args.files, args.reuse)
        return
    with postgres_server(out) as url:
        yield prepare_postgres(url, out, data_dir, args.size, args.files, args.reuse)


def setup_django(url: str, data_dir: Path) -> None:
    os.environ.update(
        {
            "DATABASE_URL": url,
            "GONGHUI_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "gonghui.settings",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "testserver",  # the in-process replay (pagebench/profile.py)
        }
    )
    import django

    django.setup()


def database_facts(engine: str) -> dict[str, Any]:
    from django.db import connection

    from gonghui.hardship.models import HardshipFile
    from gonghui.people.models import Worker

    with connection.cursor() as cursor:
        if engine == "postgres":
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
        else:
            cursor.execute("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
            size = cursor.fetchone()[0]
    return {
        "workers_in_db": Worker.objects.count(),
        "files_in_db": HardshipFile.objects.count(),
        "db_mb": round(size / 2**20, 1),
    }


@dataclass
class Plan:
    """Each user's requests, and which user each client is."""

    by_user: dict[str, list[PageRequest]]
    client_users: list[str]


def build_plan(args: argparse.Namespace) -> Plan:
    from pagebench.mix import MixBuilder

    users = [name.strip() for name in args.users.split(",") if name.strip()]
    client_users = [users[index % len(users)] for index in range(args.clients)]
    rng = random.Random(args.seed)
    by_user: dict[str, list[PageRequest]] = {}
    for username in progress(users, desc="request mix", unit="user"):
        clients = client_users.count(username)
        count = math.ceil(args.requests * clients / args.clients) + args.warmup * clients
        by_user[username] = MixBuilder(username, rng).build(max(count, 1))
    return Plan(by_user, client_users)


def login_clients(server: Server, plan: Plan, password: str) -> list[Client]:
    """One logged-in session per client; clients of one user take alternate requests."""
    clients = []
    for index, username in enumerate(plan.client_users):
        session = Session(HOST, server.port)
        session.login(username, password)
        same = [i for i, name in enumerate(plan.client_users) if name == username]
        share = plan.by_user[username][same.index(index) :: len(same)]
        clients.append(Client(session, username, share or plan.by_user[username]))
    log(f"logged in {len(clients)} clients as {', '.join(sorted(set(plan.client_users)))}")
    return clients


def database_pid() -> int | None:
    """PostgreSQL's postmaster when it runs on this machine: the parent of our backend."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None  # SQLite works inside the server's processes
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    if not process_name(backend).startswith("postgres"):
        return None  # a server elsewhere
    return parent_pid(backend)


def cpu_readings(server: Server, db_pid: int | None) -> dict[str, float]:
    readings = {"server": cpu_seconds(server.pid), "client": self_cpu_seconds()}
    if db_pid:
        readings["database"] = cpu_seconds(db_pid)
    readings["machine"] = machine_cpu_seconds()
    return readings


def measure(args: argparse.Namespace, prepared: Prepared, plan: Plan, out: Path) -> Measured:
    data_dir = out / "data"
    log_path = out / "logs" / f"gunicorn-{prepared.engine}.log"
    db_pid = database_pid()
    with gunicorn(prepared.url, data_dir, log_path, args.server_workers) as server:
        clients = login_clients(server, plan, args.password)
        warm = run_load(clients, args.warmup * len(clients), args.max_seconds, "warm-up")
        wait_quiet(args.wait_quiet, lambda: cpu_readings(server, db_pid))
        before = cpu_readings(server, db_pid)
        load = run_load(clients, args.requests, args.max_seconds, "load", args.think_ms / 1000)
        after = cpu_readings(server, db_pid)
        peak = server.peak_mb()
        for client in clients:
            client.session.close()
    used = {name: after[name] - before[name] for name in before}
    return Measured(load, warm.problems, peak, used)


def busy_elsewhere(own: Callable[[], dict[str, float]], seconds: float = 3.0) -> float:
    """Cores kept busy by processes other than this benchmark's (``own`` reads its CPU)."""
    before = own()
    time.sleep(seconds)
    after = own()
    used = {name: after[name] - before[name] for name in before}
    theirs = used.pop("machine") - sum(used.values())
    return max(theirs, 0.0) / seconds


def wait_quiet(limit: float, own: Callable[[], dict[str, float]]) -> None:
    """Give a shared machine's other work (a test run...) time to finish first."""
    deadline = time.monotonic() + limit
    while limit > 0:
        busy = busy_elsewhere(own)
        if busy < QUIET_CORES:
            return
        if time.monotonic() >= deadline:
            log(f"still {busy:.2f} cores busy elsewhere; measuring anyway")
            return
        log(f"{busy:.2f} cores busy elsewhere: waiting for a quiet machine")
        time.sleep(10)


def baseline_sample(plan: Plan, count: int) -> list[PageRequest]:
    from pagebench.mix import interleave

    return interleave(list(plan.by_user.values()))[:count]


def run_serial(args: argparse.Namespace, plan: Plan) -> list[Any]:
    from pagebench.profile import run_profile

    sample = baseline_sample(plan, args.profile_requests)
    bar = progress(total=len(sample), desc="one at a time", unit="req")
    profiles = run_profile(sample, args.profile_seconds, bar.update)
    bar.close()
    return profiles


def run_naive(args: argparse.Namespace, plan: Plan) -> list[tuple[PageRequest, float]]:
    from pagebench.naive import run_baseline

    sample = baseline_sample(plan, args.baseline_requests)
    bar = progress(total=len(sample), desc="naive baseline", unit="req")
    timings = run_baseline(sample, args.baseline_seconds, bar.update)
    bar.close()
    return timings


def close_connections() -> None:
    """Before a throwaway PostgreSQL stops under this process's open connection."""
    from django.db import connections

    connections.close_all()


def run_single(args: argparse.Namespace) -> int:
    out = args.data_dir.resolve()
    started = time.monotonic()
    with prepared_database(args, out, out / "data") as prepared:
        build_peak = children_peak_mb()
        setup_django(prepared.url, out / "data")
        facts = database_facts(prepared.engine)
        plan = build_plan(args)
        measured = measure(args, prepared, plan, out)
        profiles = run_serial(args, plan)
        naive = run_naive(args, plan)
        close_connections()
    results = Results(prepared, facts, measured, naive, profiles, build_peak)
    print_report(args, results)
    for problem in results.problems[:20]:
        log(f"wrong answer: {problem}")
    errors = len(results.problems)
    log(f"{prepared.engine}: done in {time.monotonic() - started:.0f}s, {errors} errors")
    print(single_line(args, results), flush=True)
    return 1 if errors else 0


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.database == "both":
        return run_both(argv)
    return run_single(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
