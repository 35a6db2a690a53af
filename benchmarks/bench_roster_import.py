"""Roster import: validation and dedupe into the analytical store, then the bulk load.

    .venv/bin/python benchmarks/bench_roster_import.py                   # 5,000,000 rows
    .venv/bin/python benchmarks/bench_roster_import.py --rows 200000 --database sqlite

Target (issue 4): ≥ 500,000 rows/s at 5,000,000 rows on this 2-core machine for reading the
CSV, checking every row (GB 11643 ID numbers, dates, region codes, phones), finding the
duplicates inside the file and against the registry, and writing the accepted rows to
Parquet and the refused ones with their reasons. Baseline, same run, same file: a
straightforward pandas implementation of the same step (``pandas_stage``), checked to
reach the same counts.

Then the accepted rows (``--load-rows`` of them) are loaded into a fresh Django database by
the import's own loader (COPY on PostgreSQL, executemany + INSERT … SELECT on SQLite), in
chunks of 100,000 rows, each in one transaction; rows/s is reported per database.

The roster comes from ``benchmarks/rostergen.py`` (cached in ``benchmarks/out/roster/``).
The registry holds every 50th worker of the roster already, so "already registered" is
exercised too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
OUT = HERE / "out" / "roster"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(PROJECT / "src"))

from common import log, machine_cpu_seconds, result_line, table, vm_hwm_mb  # noqa: E402

TODAY = datetime.date(2026, 1, 1)
REGISTERED_EVERY = 50


def setup_django(data_dir: Path, url: str | None = None) -> None:
    os.environ["GONGHUI_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    if url:
        os.environ["DATABASE_URL"] = url
    import django

    django.setup()


def roster_file(rows: int, seed: int) -> tuple[Path, dict[str, Any]]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"roster-{rows}-{seed}.csv"
    truth_path = path.with_suffix(".json")
    if not (path.exists() and truth_path.exists()):
        log(f"generating {rows:,} rows → {path}")
        import rostergen

        columns, truth = rostergen.generate(rows, seed)
        rostergen.write_csv(columns, path)
        truth_path.write_text(
            json.dumps({"rows": truth.rows, "rejected": truth.rejected, "mistakes": truth.mistakes})
        )
    return path, json.loads(truth_path.read_text())


def registry_file(roster: Path, target: Path) -> Path:
    """Every 50th worker of the roster, as the registry already knows them."""
    import duckdb

    duckdb.sql(
        f"COPY (SELECT 身份证号 FROM read_csv('{roster}', all_varchar=true) "
        f"WHERE length(身份证号) = 18 AND hash(身份证号) % {REGISTERED_EVERY} = 0) "
        f"TO '{target}' (HEADER false)"
    )
    return target


def reference(registry: Path) -> Any:
    from gonghui.discovery import engine
    from gonghui.organisations.regions import current_divisions

    return engine.Reference(
        today=TODAY,
        default_organisation=1,
        regions=[d.code for d in current_divisions("34")],
        registry_ids=registry,
    )


# --- the baseline -------------------------------------------------------------------------


def pandas_stage(roster: Path, work: Path, ref: Any) -> dict[str, int]:
    """The same step written the way one would in pandas: read, tidy with the str methods,
    check with vectorised arithmetic, dedupe with ``duplicated``, write Parquet."""
    import numpy as np
    import pandas as pd

    from gonghui.discovery.engine import birth_place_years
    from gonghui.people import idnumber

    df = pd.read_csv(roster, dtype=str, keep_default_na=False)
    df.columns = ["name", "id_raw", "phone_raw", "region", "employer", "since_raw", "form_raw"]
    df["row_no"] = np.arange(len(df)) + 2
    clean = df["id_raw"].str.fullmatch(r"[0-9]{17}[0-9X]")
    ids = df["id_raw"].where(clean, df["id_raw"][~clean].map(idnumber.tidy))
    df["id_number"] = ids
    shape = ids.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False)
    digits = np.zeros((len(df), 17), dtype=np.int64)
    body = ids.where(shape, "0" * 18)
    for i in range(17):
        digits[:, i] = body.str[i].astype(np.int64)
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    expected = np.array(list("10X98765432"))[(digits * weights).sum(axis=1) % 11]
    birth = pd.to_datetime(body.str[6:14], format="%Y%m%d", errors="coerce")
    year = birth.dt.year
    places = pd.DataFrame(birth_place_years(TODAY.year), columns=["code", "a1", "b1", "a2", "b2"])
    spans = pd.DataFrame({"code": body.str[:6].astype(np.int64)}).merge(
        places, on="code", how="left"
    )
    in_use = year.between(spans["a1"], spans["b1"]) | year.between(spans["a2"], spans["b2"])
    phone_ok = df["phone_raw"].str.fullmatch(r"1[3-9][0-9]{9}")
    phone_fix = df["phone_raw"][~phone_ok].map(lambda p: idnumber.normalise(p).lstrip("+"))
    phone_ok[~phone_ok] = phone_fix.str.fullmatch(idnumber.PHONE_RE.pattern[1:-1]) | (
        phone_fix == ""
    )
    since = pd.to_datetime(df["since_raw"], format="%Y-%m-%d", errors="coerce")
    regions = set(ref.regions)
    valid = (
        shape
        & birth.notna()
        & (birth <= pd.Timestamp(TODAY))
        & in_use
        & (ids.str[17] == expected)
        & (df["name"].str.strip() != "")
        & phone_ok
        & (df["region"].isin(regions) | (df["region"] == ""))
        & (since.notna() | (df["since_raw"] == ""))
    )
    duplicate = (
        valid & df["id_number"].where(valid).duplicated(keep="first") & df["id_number"].notna()
    )
    registry = set(pd.read_csv(ref.registry_ids, header=None, dtype=str)[0])
    existing = valid & ~duplicate & df["id_number"].isin(registry)
    accepted = valid & ~duplicate & ~existing
    df["birth_date"] = birth
    df[accepted].drop(columns=["id_raw", "phone_raw"]).to_parquet(work / "pandas-accepted.parquet")
    df[~valid | duplicate].to_parquet(work / "pandas-rejected.parquet")
    return {
        "rows_read": len(df),
        "rows_accepted": int(accepted.sum()),
        "rows_rejected": int((~valid).sum()),
        "rows_duplicate": int(duplicate.sum()),
        "rows_existing": int(existing.sum()),
    }


# --- the bulk load ------------------------------------------------------------------------


def load_child(args: argparse.Namespace) -> None:
    """In a fresh process on ``--url``: migrate, then load the accepted rows, timed."""
    setup_django(Path(args.work) / "data", args.url)
    from django.core.management import call_command
    from django.db import connection

    from gonghui.accounts.choices import Role
    from gonghui.accounts.models import User
    from gonghui.discovery import engine, loader
    from gonghui.discovery.models import RosterImport, RosterSource
    from gonghui.organisations.choices import OrganisationKind
    from gonghui.organisations.models import Organisation
    from gonghui.organisations.regions import load_regions

    call_command("migrate", "--noinput", verbosity=0)
    load_regions("34")
    org = Organisation.objects.create(
        name="安徽省总工会", kind=OrganisationKind.PROVINCE, region_id="340000"
    )
    user = User.objects.create(username="bench", role=Role.ADMIN, organisation=org)
    source = RosterSource.objects.create(organisation=org, name="bench")
    imp = RosterImport.objects.create(
        source=source, organisation=org, created_by=user, file_name="bench", sha256="0" * 64,
        size_bytes=0, file_format="csv",
    )  # fmt: skip
    work = Path(args.work)
    chunks = iter(engine.iter_chunks(work, 100_000))
    loaded = rows = 0
    read_seconds = load_seconds = 0.0
    started = time.monotonic()
    while rows < args.load_rows:
        tick = time.monotonic()
        found = next(chunks, None)
        if found is None:
            break
        number, batch = found
        batch = [(r[0], *r[1:7], org.pk, *r[8:]) for r in batch[: args.load_rows - rows]]
        read_seconds += time.monotonic() - tick
        tick = time.monotonic()
        loaded += loader.load_chunk(imp, number, batch).loaded
        load_seconds += time.monotonic() - tick
        rows += len(batch)
    total = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM people_worker")
        workers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM people_membership")
        memberships = cursor.fetchone()[0]
    print(
        json.dumps(
            {
                "database": connection.vendor,
                "rows": rows,
                "loaded": loaded,
                "workers": workers,
                "memberships": memberships,
                "seconds": total,
                "load_seconds": load_seconds,
                "read_seconds": read_seconds,
                "rows_per_s": rows / load_seconds if load_seconds else 0,
                # VmHWM: ru_maxrss would carry the parent's peak across exec.
                "peak_mb": vm_hwm_mb(os.getpid()),
            }
        )
    )


def run_load(database: str, work: Path, load_rows: int) -> dict[str, Any]:
    def child(url: str) -> dict[str, Any]:
        command = [
            sys.executable, __file__, "--load-child", "--url", url, "--work", str(work),
            "--load-rows", str(load_rows),
        ]  # fmt: skip
        done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=PROJECT)
        return json.loads(done.stdout.strip().splitlines()[-1])

    if database == "sqlite":
        path = work / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return child(f"sqlite:///{path}")
    from pagebench.databases import postgres_server

    with postgres_server(OUT) as url:
        return child(url)


# --- main ---------------------------------------------------------------------------------


def timed(function: Any, *args: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds the rest of the machine used meanwhile)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime
    machine = machine_cpu_seconds()
    started = time.monotonic()
    result = function(*args)
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    others = machine_cpu_seconds() - machine - (usage.ru_utime + usage.ru_stime - own)
    return result, seconds, max(0.0, others)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--database", default="sqlite,postgres", help="sqlite,postgres or none")
    parser.add_argument("--load-rows", type=int, default=1_000_000, help="rows to bulk-load")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--load-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_child:
        load_child(args)
        return

    work = OUT / f"work-{args.rows}"
    work.mkdir(parents=True, exist_ok=True)
    setup_django(work / "data")
    from gonghui.discovery import engine

    roster, truth = roster_file(args.rows, args.seed)
    registry = registry_file(roster, work / "registry.txt")
    ref = reference(registry)
    engine.birth_place_years(TODAY.year)  # the code table is read once per process

    log("DuckDB: read, check, dedupe, write Parquet")
    result, seconds, others = timed(engine.stage, roster, work, {}, ref)
    peak_mb = vm_hwm_mb(os.getpid())  # before the baseline, which needs far more
    figures = {
        "rows_read": result.rows_read,
        "rows_accepted": result.rows_accepted,
        "rows_rejected": result.rows_rejected,
        "rows_duplicate": result.rows_duplicate,
        "rows_existing": result.rows_existing,
    }
    baseline_seconds, base_others, base_figures = float("nan"), 0.0, {}
    if not args.no_baseline:
        log("pandas: the same step")
        base_figures, baseline_seconds, base_others = timed(pandas_stage, roster, work, ref)
    rows_per_s = args.rows / seconds
    print(f"roster: {roster.name}, {roster.stat().st_size / 1e6:,.0f} MB, truth {truth}")
    print(
        table(
            [
                "step",
                "seconds",
                "rows/s",
                "accepted",
                "rejected",
                "duplicate",
                "existing",
                "other CPU-s",
            ],
            [
                ["DuckDB", seconds, rows_per_s, *list(figures.values())[1:], others],
                [
                    "pandas",
                    baseline_seconds,
                    args.rows / baseline_seconds,
                    *[base_figures.get(k, "-") for k in list(figures)[1:]],
                    base_others,
                ],
            ],
        )
    )
    same = all(base_figures.get(k) == v for k, v in figures.items()) if base_figures else None
    print(f"same counts as the baseline: {same}")

    loads: dict[str, Any] = {}
    for database in [d for d in args.database.split(",") if d and d != "none"]:
        log(f"bulk load into {database}")
        loads[database] = run_load(database, work, args.load_rows)
        found = loads[database]
        print(
            f"load {database}: {found['rows']:,} rows in {found['load_seconds']:.1f} s = "
            f"{found['rows_per_s']:,.0f} rows/s (workers {found['workers']:,}, memberships "
            f"{found['memberships']:,}); reading the Parquet chunks {found['read_seconds']:.1f} s"
        )
    print(
        result_line(
            "roster_import",
            seconds,
            baseline_seconds,
            rows=args.rows,
            rows_per_s=round(rows_per_s),
            baseline_rows_per_s=round(args.rows / baseline_seconds) if base_figures else None,
            target_rows_per_s=500_000,
            same_counts_as_baseline=same,
            other_cpu_seconds=round(others, 1),
            peak_mb=round(peak_mb, 1),
            baseline_peak_mb=round(vm_hwm_mb(os.getpid()), 1) if base_figures else None,
            **figures,
            load={
                db: {k: (round(v, 1) if isinstance(v, float) else v) for k, v in found.items()}
                for db, found in loads.items()
            },
            cores=os.cpu_count(),
        )
    )


if __name__ == "__main__":
    main()
