"""Fuzzy linkage: a list without ID numbers against the registry, by Splink on DuckDB.

    .venv/bin/python benchmarks/bench_linkage.py                        # 200,000 × 1,000,000
    .venv/bin/python benchmarks/bench_linkage.py --members 100000 --rows 20000 --no-train

Issue 4: "linkage of a 200,000-row list without ID numbers against 1,000,000 members: report
pairs/s, precision and recall against the generator's truth". The data come from
``benchmarks/linkgen.py`` (cached in ``benchmarks/out/linkage/``): 80 % of the list rows are
registry workers written with the mistakes of other agencies' lists (homophone surnames,
swapped given names, traditional characters, swapped day and month, a wrong digit, another
phone, another county), 20 % are not in the registry, a tenth of those with the name and birth
date of a worker.

Timed: :func:`gonghui.discovery.linkage.link` whole — features (pinyin …), training (u by
random sampling, m by EM, seeded), blocking and scoring, decisions, Parquet out. ``pairs`` is
the number of pairs compared after blocking; ``pairs_per_s`` = pairs / seconds of the whole
run (``scoring_pairs_per_s`` counts the scoring step alone). Precision and recall are of the
links at the link threshold against the truth; ``recall_with_review`` counts the rows sent to
review whose best candidate is right (what a reviewer can confirm).

Baseline, same run, same files: the straightforward exact-key join in pandas — a list row
links to the workers with the same name and birth date. It is what an office does without a
linkage engine; it is fast, but it misses every row with a changed name or date (and links
namesakes). A naive all-pairs comparison is no baseline at this size: 2 × 10¹¹ pairs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
OUT = HERE / "out" / "linkage"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(PROJECT / "src"))

from common import log, result_line, table, vm_hwm_mb  # noqa: E402


def data(members: int, rows: int, seed: int) -> Path:
    import linkgen

    folder = OUT / f"data-{members}-{rows}-{seed}"
    if not (folder / "truth.parquet").exists():
        log(f"generating {members:,} workers and a list of {rows:,} rows")
        reg, listing, truth = linkgen.generate(members, rows, seed)
        linkgen.write(folder, reg, listing, truth)
    return folder


def score(con, folder: Path, links: Path) -> dict[str, float]:
    """Precision and recall of ``links`` (row_no, worker_id) against the truth."""
    tp, predicted, actual = con.execute(
        f"""
        WITH t AS (SELECT * FROM read_parquet('{folder / "truth.parquet"}')),
             l AS (SELECT DISTINCT row_no, worker_id FROM read_parquet('{links}'))
        SELECT count(*) FILTER (WHERE l.worker_id = t.worker_id),
               (SELECT count(*) FROM l), count(*) FILTER (WHERE t.worker_id IS NOT NULL)
        FROM t LEFT JOIN l USING (row_no)
        """
    ).fetchall()[0]
    return {
        "true_links": tp,
        "links": predicted,
        "in_registry": actual,
        "precision": tp / predicted if predicted else float("nan"),
        "recall": tp / actual if actual else float("nan"),
    }


def review_right(con, folder: Path, review: Path) -> tuple[int, int]:
    """(rows in review, of which the best candidate is the true worker)."""
    return con.execute(
        f"""
        WITH best AS (SELECT row_no, worker_id FROM read_parquet('{review}') WHERE rank = 1)
        SELECT count(*), count(*) FILTER (WHERE b.worker_id = t.worker_id)
        FROM best b JOIN read_parquet('{folder / "truth.parquet"}') t USING (row_no)
        """
    ).fetchall()[0]


def pandas_join(folder: Path, target: Path) -> int:
    import pandas as pd

    registry = pd.read_parquet(
        folder / "registry.parquet", columns=["worker_id", "name", "birth_date"]
    )
    listing = pd.read_parquet(folder / "list.parquet", columns=["row_no", "name", "birth_date"])
    listing = listing.dropna(subset=["name", "birth_date"])
    listing["name"] = listing["name"].str.strip()
    links = listing.merge(registry, on=["name", "birth_date"], how="inner")
    links[["row_no", "worker_id"]].to_parquet(target)
    return len(links)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--no-train", action="store_true", help="the shipped parameters")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--link", type=float, default=None, help="link threshold")
    parser.add_argument("--review", type=float, default=None, help="review threshold")
    args = parser.parse_args()

    from gonghui.discovery import linkage

    folder = data(args.members, args.rows, args.seed)
    work = OUT / f"work-{args.members}-{args.rows}"
    thresholds = linkage.Thresholds()
    if args.link is not None or args.review is not None:
        thresholds = linkage.Thresholds(
            link=args.link if args.link is not None else thresholds.link,
            review=args.review if args.review is not None else thresholds.review,
        )

    log("Splink on DuckDB: features, training, blocking, scoring, decisions")
    con = linkage.connect(memory_limit=args.memory_limit)
    started = time.perf_counter()
    result = linkage.link(
        folder / "registry.parquet",
        folder / "list.parquet",
        work,
        train=not args.no_train,
        thresholds=thresholds,
        seed=args.seed,
        con=con,
    )
    seconds = time.perf_counter() - started
    peak_mb = vm_hwm_mb(os.getpid())
    con.close()

    import duckdb

    check = duckdb.connect()
    figures = score(check, folder, result.links_path)
    in_review, review_ok = review_right(check, folder, result.review_path)

    log("pandas: exact join on name + birth date")
    started = time.perf_counter()
    pandas_join(folder, work / "baseline.parquet")
    baseline_seconds = time.perf_counter() - started
    base = score(check, folder, work / "baseline.parquet")

    recall_review = (figures["true_links"] + review_ok) / figures["in_registry"]
    print(f"data: {folder}; registry {result.left_rows:,}, list {result.right_rows:,}")
    print("steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()))
    print(
        table(
            ["method", "seconds", "pairs", "pairs/s", "links", "precision", "recall", "review"],
            [
                [
                    "Splink/DuckDB",
                    seconds,
                    result.pairs,
                    result.pairs / seconds,
                    figures["links"],
                    f"{figures['precision']:.4f}",
                    f"{figures['recall']:.4f}",
                    in_review,
                ],
                [
                    "pandas exact join",
                    baseline_seconds,
                    "-",
                    "-",
                    base["links"],
                    f"{base['precision']:.4f}",
                    f"{base['recall']:.4f}",
                    "-",
                ],
            ],
        )
    )
    print(
        f"thresholds: link ≥ {thresholds.link}, review ≥ {thresholds.review}; review rows "
        f"{in_review:,} of which best candidate right {review_ok:,}; recall if reviewers "
        f"confirm them {recall_review:.4f}; peak {peak_mb:,.0f} MB"
    )
    print(
        result_line(
            "linkage",
            seconds,
            baseline_seconds,
            peak_mb=round(peak_mb, 1),
            members=result.left_rows,
            rows=result.right_rows,
            pairs=result.pairs,
            pairs_per_s=round(result.pairs / seconds),
            scoring_pairs_per_s=round(result.pairs / max(result.seconds["predict"], 1e-9)),
            precision=round(figures["precision"], 4),
            recall=round(figures["recall"], 4),
            links=figures["links"],
            review_rows=in_review,
            recall_with_review=round(recall_review, 4),
            trained=not args.no_train,
            step_seconds={k: round(v, 2) for k, v in result.seconds.items()},
            baseline="pandas exact join on name + birth date",
            baseline_precision=round(base["precision"], 4),
            baseline_recall=round(base["recall"], 4),
        )
    )


if __name__ == "__main__":
    main()
