"""The demo province in a database at the requested scale: built, or reused from a cache.

SQLite: the demo is built once per (size, files, demo code) into ``out/cache/`` when
``--reuse`` is given, and each run serves a fresh copy of it, so the cached file never sees
the benchmark's logins. PostgreSQL: a throwaway server per run (scripts/postgres.sh); the
demo is loaded with ``load_demo``, or restored from a ``pg_dump`` of an earlier load when
``--reuse`` is given. Either way pending migrations are applied, so a schema change such as
a new index needs no rebuild. PostgreSQL gets VACUUM ANALYZE after loading, as autovacuum
would do on its own; SQLite is served as the project leaves it (it has no autovacuum, and
no statistics unless the project runs ANALYZE).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import log

PROJECT = Path(__file__).resolve().parents[2]
GONGHUI = PROJECT / ".venv" / "bin" / "gonghui"
POSTGRES_SCRIPT = PROJECT / "scripts" / "postgres.sh"
PG_BIN = Path(os.environ.get("GONGHUI_PG_BIN", "/usr/lib/postgresql/15/bin"))
# The sources whose change makes a cached demo stale.
DEMO_SOURCES = (
    "src/gonghui/demo",
    "src/gonghui/organisations/management/commands/load_demo.py",
)


@dataclass
class Prepared:
    """A database ready to serve, and how it came to be."""

    engine: str
    url: str
    how: str  # "built", "cached copy", "restored"
    seconds: float
    build_seconds: float | None  # the load_demo run, when there was one


def demo_key(size: int, files: int) -> str:
    """Cache key: the scale and a hash of the demo generator's code."""
    digest = hashlib.sha256()
    for name in DEMO_SOURCES:
        root = PROJECT / name
        paths = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in paths:
            if path.is_file():
                digest.update(str(path.relative_to(PROJECT)).encode())
                digest.update(path.read_bytes())
    return f"demo-{size}-{files}-{digest.hexdigest()[:10]}"


def prune_cache(keep: Path) -> None:
    """Drop cached demos of the same scale built from older demo code."""
    scale = keep.name.rsplit("-", 1)[0]  # demo-<size>-<files>
    for stale in keep.parent.glob(f"{scale}-*{keep.suffix}"):
        if stale != keep:
            log(f"removing stale cache {stale.name}")
            stale.unlink()


def command_env(url: str, data_dir: Path) -> dict[str, str]:
    """The environment of every ``gonghui`` command and of the server."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url,
            "GONGHUI_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "gonghui.settings",
            "DEBUG": "false",
        }
    )
    return env


def gonghui(args: list[str], url: str, data_dir: Path) -> float:
    """Run ``gonghui <args>``; its output goes to stderr so stdout stays the report."""
    log(f"+ gonghui {' '.join(args)}")
    started = time.monotonic()
    subprocess.run(
        [str(GONGHUI), *args],
        env=command_env(url, data_dir),
        cwd=PROJECT,
        stdout=sys.stderr,
        check=True,
    )
    return time.monotonic() - started


def load_demo(url: str, data_dir: Path, size: int, files: int) -> float:
    gonghui(["migrate", "--noinput", "-v", "0"], url, data_dir)
    return gonghui(["load_demo", "--size", str(size), "--files", str(files)], url, data_dir)


# --- SQLite ---------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so that the file alone is the database."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def build_sqlite(path: Path, data_dir: Path, size: int, files: int) -> float:
    """Build into ``path`` through a temporary name: a crash never leaves a cache behind."""
    building = path.with_suffix(".building")
    remove_sqlite(building)
    seconds = load_demo(sqlite_url(building), data_dir, size, files)
    checkpoint(building)
    building.rename(path)
    return seconds


def prepare_sqlite(out: Path, data_dir: Path, size: int, files: int, reuse: bool) -> Prepared:
    started = time.monotonic()
    work = out / "sqlite" / "bench.sqlite3"
    work.parent.mkdir(parents=True, exist_ok=True)
    remove_sqlite(work)
    if not reuse:
        build_seconds = build_sqlite(work, data_dir, size, files)
        return Prepared("sqlite", sqlite_url(work), "built", _since(started), build_seconds)
    cached = out / "cache" / f"{demo_key(size, files)}.sqlite3"
    cached.parent.mkdir(parents=True, exist_ok=True)
    build_seconds = None
    if not cached.exists():
        build_seconds = build_sqlite(cached, data_dir, size, files)
        prune_cache(cached)
    log(f"copying {cached.name} to {work}")
    shutil.copyfile(cached, work)
    gonghui(["migrate", "--noinput", "-v", "0"], sqlite_url(work), data_dir)
    how = "built and cached" if build_seconds is not None else "cached copy"
    return Prepared("sqlite", sqlite_url(work), how, _since(started), build_seconds)


# --- PostgreSQL -----------------------------------------------------------------------


@contextmanager
def postgres_server(out: Path) -> Iterator[str]:
    """A throwaway PostgreSQL 15 for one run; its URL.

    scripts/postgres.sh keeps its instance in var/pg/, where `make test-postgres` would stop
    it at any moment; a copy of the script under out/pg/ gets a state dir of its own.
    """
    script = out / "pg" / "scripts" / "postgres.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(POSTGRES_SCRIPT, script)
    log("starting a throwaway PostgreSQL 15")
    started = subprocess.run(
        ["bash", str(script), "start"], check=True, stdout=subprocess.PIPE, text=True
    )
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(script), "stop"], check=False)


def pg_tool(name: str, *args: str) -> None:
    subprocess.run([str(PG_BIN / name), *args], check=True, stdout=sys.stderr)


def vacuum_analyze(url: str) -> None:
    """Statistics and visibility map, as autovacuum would leave them soon after a bulk load;
    done now, autovacuum has nothing left to do while the benchmark measures."""
    log("VACUUM ANALYZE")
    pg_tool("psql", "-X", "-q", "-d", url, "-c", "VACUUM ANALYZE")


def prepare_postgres(
    url: str, out: Path, data_dir: Path, size: int, files: int, reuse: bool
) -> Prepared:
    started = time.monotonic()
    dump = out / "cache" / f"{demo_key(size, files)}.pgdump"
    if reuse and dump.exists():
        log(f"restoring {dump.name}")
        pg_tool("pg_restore", "--no-owner", "-j", "2", "-d", url, str(dump))
        gonghui(["migrate", "--noinput", "-v", "0"], url, data_dir)
        vacuum_analyze(url)
        return Prepared("postgres", url, "restored", _since(started), None)
    build_seconds = load_demo(url, data_dir, size, files)
    vacuum_analyze(url)
    if reuse:
        dump.parent.mkdir(parents=True, exist_ok=True)
        partial = dump.with_suffix(".partial")
        log(f"dumping to {dump.name} for the next --reuse")
        pg_tool("pg_dump", "-Fc", "-Z", "1", "-f", str(partial), url)
        partial.rename(dump)
        prune_cache(dump)
    return Prepared("postgres", url, "built", _since(started), build_seconds)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)
