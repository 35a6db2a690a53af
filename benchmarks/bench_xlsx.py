"""Reading an XLSX roster: the import's reader against openpyxl's read-only mode.

    .venv/bin/python benchmarks/bench_xlsx.py                  # 500,000 rows
    .venv/bin/python benchmarks/bench_xlsx.py --rows 1048575   # a full Excel sheet

An XLSX roster is first turned into a UTF-8 CSV (discovery/engine.py ``_from_xlsx``), then
checked like any CSV (bench_roster_import.py measures that part). This measures the first
step: the import's reader (python-calamine) against the straightforward reader the
project used before, openpyxl in read-only mode, over the same workbook in the same run;
both must produce the same CSV. The workbook comes from ``benchmarks/rostergen.py`` and is
cached in ``benchmarks/out/xlsx/``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
OUT = HERE / "out" / "xlsx"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(PROJECT / "src"))

from common import log, result_line, self_peak_mb, table  # noqa: E402


def workbook(rows: int, seed: int) -> Path:
    """A roster of ``rows`` people as XLSX, written once (openpyxl's write-only mode)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"roster-{rows}-{seed}.xlsx"
    if path.exists():
        return path
    import rostergen
    from openpyxl import Workbook

    log(f"generating {rows:,} rows → {path}")
    columns, _truth = rostergen.generate(rows, seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(rostergen.HEADERS_ZH))
    for row in zip(*columns, strict=True):
        sheet.append(list(row))
    building = path.with_suffix(".building")
    book.save(building)
    building.rename(path)
    return path


def openpyxl_csv(path: Path, target: Path) -> int:
    """The baseline: openpyxl read-only, cell by cell, with the import's own cell rule."""
    from openpyxl import load_workbook

    from gonghui.discovery.engine import _cell

    book = load_workbook(path, read_only=True, data_only=True)
    rows = 0
    with open(target, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for row in book.worksheets[0].iter_rows(values_only=True):
            writer.writerow([_cell(value) for value in row])
            rows += 1
    book.close()
    return rows


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    import django

    django.setup()
    from gonghui.discovery.engine import _from_xlsx

    path = workbook(args.rows, args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-xlsx-"))
    started = time.perf_counter()
    prepared = _from_xlsx(path, work, None)
    seconds = time.perf_counter() - started
    peak_reader = self_peak_mb()
    baseline_csv = work / "openpyxl.csv"
    started = time.perf_counter()
    rows = openpyxl_csv(path, baseline_csv)
    baseline_seconds = time.perf_counter() - started
    same = digest(prepared.csv_path) == digest(baseline_csv)
    data_rows = rows - 1
    print(
        table(
            ["reader", "seconds", "rows/s"],
            [
                ["calamine (import)", f"{seconds:.2f}", f"{data_rows / seconds:,.0f}"],
                [
                    "openpyxl read-only",
                    f"{baseline_seconds:.2f}",
                    f"{data_rows / baseline_seconds:,.0f}",
                ],
            ],
        )
    )
    print(f"workbook {path.stat().st_size / 1e6:,.1f} MB, {data_rows:,} rows; same CSV: {same}")
    if not same:
        raise SystemExit("the two readers disagree")
    print(
        result_line(
            "xlsx",
            seconds,
            baseline_seconds,
            rows=data_rows,
            rows_per_s=round(data_rows / seconds),
            baseline_rows_per_s=round(data_rows / baseline_seconds),
            workbook_mb=round(path.stat().st_size / 1e6, 1),
            peak_mb=round(peak_reader, 1),
            peak_mb_with_baseline=round(self_peak_mb(), 1),
        )
    )


if __name__ == "__main__":
    main()
