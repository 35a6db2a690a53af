"""Run the benchmarks: every ``benchmarks/bench_*.py``, or the one named.

    python benchmarks/run.py              # all of them, one after the other
    python benchmarks/run.py pages        # benchmarks/bench_pages.py only
    python benchmarks/run.py pages --size 20000 --files 2000 --reuse   # options go through

Each benchmark runs as its own process under the project's virtualenv, with its output
streamed as it comes; its last line is one JSON object (see benchmarks/common.py). The exit
status is non-zero if any benchmark failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
VENV_PYTHON = PROJECT / ".venv" / "bin" / "python"


def discover() -> dict[str, Path]:
    """Benchmark name (``pages``) → script (``bench_pages.py``), in name order."""
    return {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}


def python() -> str:
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


def resolve(name: str, available: dict[str, Path]) -> Path:
    key = Path(name).stem.removeprefix("bench_")
    if key not in available:
        known = ", ".join(available) or "none"
        raise SystemExit(f"run.py: no benchmark named {name!r} (available: {known})")
    return available[key]


def run_one(script: Path, extra: list[str]) -> int:
    command = [python(), str(script), *extra]
    # run.py's own lines go to stderr: stdout is the benchmarks' output, each ending with
    # its JSON line.
    print(f"+ {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    # Output is inherited, not captured: it streams, and progress bars still see a TTY.
    returncode = subprocess.call(command, cwd=PROJECT)
    status = "ok" if returncode == 0 else f"FAILED (exit {returncode})"
    print(f"= {script.stem}: {status} in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return returncode


def main(argv: list[str]) -> int:
    available = discover()
    if argv and not argv[0].startswith("-"):
        scripts, extra = [resolve(argv[0], available)], argv[1:]
    else:
        scripts, extra = list(available.values()), argv
    if not scripts:
        print("run.py: no benchmarks/bench_*.py found", file=sys.stderr)
        return 1
    failed = [script.stem for script in scripts if run_one(script, extra) != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
