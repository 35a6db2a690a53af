"""What every benchmark shares: latency statistics, peak memory, progress bars, the result line.

The project's rule: a benchmark prints its figures, then as its LAST line one JSON object
with ``bench``, ``seconds``, ``baseline_seconds``, ``ratio`` (= baseline_seconds / seconds:
how many times faster than the baseline), ``peak_mb`` and its own figures.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(millis: Sequence[float]) -> dict[str, float | int]:
    return {
        "requests": len(millis),
        "p50_ms": round(percentile(millis, 50), 2),
        "p95_ms": round(percentile(millis, 95), 2),
        "p99_ms": round(percentile(millis, 99), 2),
        "max_ms": round(max(millis), 2) if millis else math.nan,
    }


def self_peak_mb() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_mb() -> float:
    """Peak resident memory of the largest child this process has waited for."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc (psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_peak_mb(root: int) -> float:
    """Sum of the peaks of a process and its descendants (an upper bound: shared pages
    count once per process)."""
    return sum(vm_hwm_mb(pid) for pid in process_tree(root))


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process and its live descendants, plus what the root
    has collected from children that ended: the difference of two readings is the work done
    in between."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the ")": state is field 3 of stat(5), so utime (14) is index 11 here.
        total += int(fields[11]) + int(fields[12])
        if pid == root:
            total += int(fields[13]) + int(fields[14])
    return total / ticks


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, all processes) since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def progress(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm[Any]:
    """A tqdm bar on stderr, shown only when stderr is a terminal."""
    return tqdm(iterable, file=sys.stderr, disable=not sys.stderr.isatty(), **kwargs)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain text table, right-aligned numbers, for the human part of the output."""
    cells = [[str(h) for h in headers]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(_pad(value, width) for value, width in zip(row, widths, strict=True))
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.1f}"
    return str(value)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def _pad(text: str, width: int) -> str:
    fill = " " * (width - _width(text))
    return fill + text if _looks_numeric(text) else text + fill


def _looks_numeric(text: str) -> bool:
    digits = text.replace(",", "").replace(".", "").replace("-", "")
    return text == "-" or digits.isdigit()


def result_line(bench: str, seconds: float, baseline_seconds: float, **figures: Any) -> str:
    """The final JSON line of a benchmark."""
    ratio = baseline_seconds / seconds if seconds > 0 else math.nan
    record = {
        "bench": bench,
        "seconds": round(seconds, 6),
        "baseline_seconds": round(baseline_seconds, 6),
        "ratio": round(ratio, 3),
        **figures,
    }
    return json.dumps(_finite(record), ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
