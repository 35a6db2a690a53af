"""Screening: the five built-in rules over the registry and five external lists.

    .venv/bin/python benchmarks/bench_screening.py                       # 5,000,000 members
    .venv/bin/python benchmarks/bench_screening.py --members 20000000 --no-baseline

Targets (issue 4): 5,000,000 members against five lists of 500,000 rows in ≤ 10 s including
reading the inputs, ≤ 2 GB peak memory; the same at 20,000,000 members completes with
DuckDB's memory limit at 2 GB. The timed step is what a screening run does on DuckDB: every
rule compiled from its definition, run over the Parquet files, the evidence grouped per
worker (``screening.find``). Baseline, same run, same files: a straightforward pandas
implementation of the same five rules, checked to find the same candidates. Each engine
runs in its own process, so each peak memory is its own.

The data come from ``benchmarks/rostergen.py`` (``screening_data``), cached in
``benchmarks/out/screening/``.
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
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from common import log, result_line, self_peak_mb, table  # noqa: E402

AS_OF = datetime.date(2025, 6, 15)
OUT = HERE / "out" / "screening"


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    os.environ.setdefault("GONGHUI_DATA_DIR", str(OUT / "var"))
    import django

    django.setup()


def data(members: int, rows: int) -> dict[str, list[Path]]:
    import rostergen

    folder = OUT / f"{members}-{rows}"
    done = folder / "done"
    if not done.exists():
        log(f"generating {members:,} members and five lists of {rows:,} rows → {folder}")
        rostergen.screening_data(members, rows, folder, AS_OF)
        done.touch()
    from gonghui.discovery import rules

    return {name: [folder / f"{name}.parquet"] for name in rules.TABLES}


def run_duckdb(tables: dict[str, list[Path]], memory_limit: str) -> dict[str, Any]:
    from django.test import override_settings

    from gonghui.discovery import rules, screening

    counts = {}
    with override_settings(GONGHUI_DISCOVERY_DIR=OUT / "work"):
        engine = screening.DuckDBEngine(memory_limit=memory_limit)
        start = time.perf_counter()
        for spec in rules.BUILTINS:
            found = screening.find(spec, AS_OF, engine, tables)
            counts[spec["code"]] = (len(found), sum(len(ev) for _o, ev in found.values()))
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "counts": counts, "peak_mb": self_peak_mb()}


def run_pandas(tables: dict[str, list[Path]]) -> dict[str, Any]:
    """The same five rules, written the straightforward way in pandas."""
    import pandas as pd

    start = time.perf_counter()
    read = {name: pd.read_parquet(paths[0]) for name, paths in tables.items()}
    members, hm, files = read["members"], read["household_members"], read["files"]
    open_status = ["draft", "investigated", "notice", "reviewed", "filed"]
    open_files = files[files.status.isin(open_status)]
    covered = set(open_files.applicant_id) | set(
        hm.merge(open_files, on="household_id").worker_id.dropna().astype("int64")
    )
    day = pd.Timestamp(AS_OF)
    counts: dict[str, tuple[int, int]] = {}

    def done(code: str, hits: pd.DataFrame) -> None:
        hits = hits.drop_duplicates()
        counts[code] = (hits.worker_id.nunique(), len(hits))

    dibao = read["list_minimum_living"]
    now = dibao[
        (dibao.start_on.isna() | (pd.to_datetime(dibao.start_on) <= day))
        & (dibao.end_on.isna() | (pd.to_datetime(dibao.end_on) >= day))
    ]
    own = members.merge(now, on="id_number")[["worker_id", "row_no"]]
    via = members.dropna(subset=["household_id"]).merge(
        hm[["household_id", "id_number"]].dropna(), on="household_id", suffixes=("", "_h")
    )
    via = via.merge(now, left_on="id_number_h", right_on="id_number")[["worker_id", "row_no"]]
    hits = pd.concat([own, via])
    done("dibao-no-file", hits[~hits.worker_id.isin(covered)])

    med = read["list_medical"]
    paid = pd.to_datetime(med.paid_on)
    recent = med[(paid > day - pd.DateOffset(months=12)) & (paid <= day) & med.id_number.notna()]
    sums = recent.groupby("id_number").out_of_pocket_fen.sum()
    heavy = recent[recent.id_number.isin(sums[sums > 2_000_000].index)]
    hits = members.merge(heavy, on="id_number")[["worker_id", "row_no"]]
    done("medical-out-of-pocket", hits[~hits.worker_id.isin(covered)])

    jobs = read["list_unemployment"]
    active = jobs[
        (pd.to_datetime(jobs.registered_on) <= day)
        & (jobs.ended_on.isna() | (pd.to_datetime(jobs.ended_on) > day))
    ]
    school = ["primary", "junior", "senior", "vocational", "university", "graduate"]
    kids = set(hm[(hm.relation == "child") & hm.schooling.isin(school)].household_id)
    hits = members[members.household_id.isin(kids)].merge(active, on="id_number")
    done(
        "unemployed-children-in-school",
        hits[~hits.worker_id.isin(covered)][["worker_id", "row_no"]],
    )

    filed = files[files.status == "filed"].merge(hm.dropna(subset=["id_number"]), on="household_id")
    people = filed[["applicant_id", "id_number"]]
    homes = people.merge(read["list_property"], on="id_number")
    many = homes.groupby("applicant_id").size()
    homes = homes[homes.applicant_id.isin(many[many >= 2].index)]
    cars = people.merge(read["list_vehicle"], on="id_number")
    cars = cars[~cars.disability_aid.fillna(False).astype(bool)]
    both = pd.concat([homes.assign(s="p"), cars.assign(s="v")])
    done(
        "filed-home-or-car",
        both.rename(columns={"applicant_id": "worker_id"})[["worker_id", "s", "row_no"]],
    )

    readings = read["income_readings"]
    month = pd.Timestamp(AS_OF.replace(day=1))
    m = pd.to_datetime(readings.month)
    window = readings[(m >= month - pd.DateOffset(months=6)) & (m < month)]
    above = window[window.per_capita_fen > window.standard_fen].groupby("file_id").size()
    keep = window[window.file_id.isin(above[above >= 6].index)]
    hits = files[files.status == "filed"].merge(keep, on="file_id")
    done(
        "filed-income-above-standard",
        hits.rename(columns={"applicant_id": "worker_id", "reading_id": "row_no"})[
            ["worker_id", "row_no"]
        ],
    )
    return {"seconds": time.perf_counter() - start, "counts": counts, "peak_mb": self_peak_mb()}


def phase(args: argparse.Namespace) -> None:
    setup()
    tables = data(args.members, args.rows)
    result = run_duckdb(tables, args.memory_limit) if args.phase == "duckdb" else run_pandas(tables)
    print(json.dumps(result))


def child(args: argparse.Namespace, which: str) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--phase", which, "--members", str(args.members),
               "--rows", str(args.rows), "--memory-limit", args.memory_limit]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        log(
            f"{which} failed: "
            + (done.stderr.strip().splitlines()[-1] if done.stderr else str(done.returncode))
        )
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5_000_000)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--phase", choices=["duckdb", "pandas"])
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return
    setup()
    data(args.members, args.rows)  # generated outside the timed runs
    duck = child(args, "duckdb")
    if duck is None:
        raise SystemExit("the DuckDB screening failed")
    pandas = None if args.no_baseline else child(args, "pandas")
    rows = [["duckdb", f"{duck['seconds']:.2f}", f"{duck['peak_mb']:,.0f}"]]
    if pandas:
        rows.append(["pandas", f"{pandas['seconds']:.2f}", f"{pandas['peak_mb']:,.0f}"])
        same = {k: list(v) for k, v in duck["counts"].items()} == {
            k: list(v) for k, v in pandas["counts"].items()
        }
        log(f"pandas finds the same candidates and evidence: {same}")
        if not same:
            log(json.dumps({"duckdb": duck["counts"], "pandas": pandas["counts"]}))
    print(table(["engine", "seconds", "peak MB"], rows))
    print(
        table(["rule", "candidates", "evidence rows"], [[k, *v] for k, v in duck["counts"].items()])
    )
    inputs = args.members + 5 * args.rows
    print(
        result_line(
            "screening",
            duck["seconds"],
            pandas["seconds"] if pandas else float("nan"),
            members=args.members,
            list_rows=args.rows,
            memory_limit=args.memory_limit,
            peak_mb=round(duck["peak_mb"], 1),
            baseline_peak_mb=round(pandas["peak_mb"], 1) if pandas else None,
            rows_per_s=round(inputs / duck["seconds"]),
            candidates={k: v[0] for k, v in duck["counts"].items()},
            same_as_baseline=(
                {k: list(v) for k, v in duck["counts"].items()}
                == {k: list(v) for k, v in pandas["counts"].items()}
            )
            if pandas
            else None,
        )
    )


if __name__ == "__main__":
    main()
