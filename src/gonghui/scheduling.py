"""Daily jobs without a person typing a command: ``gonghui schedule`` runs every job due
for the day once and exits, for cron or a systemd timer (docs/supervision.md, "Scheduled
jobs").

A daily job is a function of the day that is idempotent per day: it does what is missing
for that day and nothing else, so a second run the same day — a retry after a crash, the
timer firing twice, a second machine — changes nothing. That is what "due" means here: the
job itself knows what of the day is not done yet (the digest: the users without one; the
indicators: the periods with no values stored that day).

Two runs never overlap: the run holds :func:`exclusive` for its whole length. On
PostgreSQL that is an advisory lock of the database session (one lock for every machine
on the database); on SQLite, which lives on one machine, an ``flock`` on a file under
``GONGHUI_LOCK_DIR`` (default ``DATA_DIR/locks``). Both are released by the operating
system or the database when the process dies, so a crashed run leaves no stale lock.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, ngettext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DailyJob:
    name: str
    what: Promise | str  # one line for ``gonghui schedule --list``
    run: Callable[[datetime.date], str]  # does what is missing for the day; says what


def _digest(day: datetime.date) -> str:
    from gonghui.supervision import digest

    built = digest.build_all(day)
    message = ngettext(
        "%(count)d digest built for %(day)s.", "%(count)d digests built for %(day)s.", built
    )
    return message % {"count": built, "day": day.isoformat()}


def _indicators(day: datetime.date) -> str:
    from gonghui.supervision import store

    done = store.refresh_daily(day)
    message = ngettext(
        "indicators of %(count)d period computed and stored for %(day)s (%(seconds).1f s).",
        "indicators of %(count)d periods computed and stored for %(day)s (%(seconds).1f s).",
        len(done.runs),
    )
    return message % {"count": len(done.runs), "day": day.isoformat(), "seconds": done.seconds}


def daily_jobs() -> list[DailyJob]:
    """Every daily job, in the order they run."""
    return [
        DailyJob(
            "digest",
            gettext_lazy(
                "the daily digest of every active staff user (overdue items, reviews due)"
            ),
            _digest,
        ),
        DailyJob(
            "indicators",
            gettext_lazy(
                "every indicator of every organisation for this year and the years of the "
                "trend, stored for the pages (values as of this run)"
            ),
            _indicators,
        ),
    ]


# --- one run at a time ----------------------------------------------------------------------


def lock_dir() -> Path:
    return Path(getattr(settings, "GONGHUI_LOCK_DIR", settings.DATA_DIR / "locks"))


def _advisory_key(name: str) -> int:
    """A signed 64-bit key for ``pg_try_advisory_lock``, the same in every process."""
    digest = hashlib.sha256(f"gonghui:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block: yields True when this process holds it,
    False when another does (the block should then do nothing)."""
    if connection.vendor == "postgresql":
        with _advisory(name) as held:
            yield held
    else:
        with _file_lock(name) as held:
            yield held


@contextmanager
def _advisory(name: str) -> Iterator[bool]:
    key = _advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        row = cursor.fetchone()
    held = bool(row and row[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    job: str
    ok: bool
    message: str


LOCK_NAME = "schedule"


def run_due(day: datetime.date, jobs: list[DailyJob] | None = None) -> list[Outcome] | None:
    """Run every daily job for ``day`` under the lock; None when another run holds it. A
    failing job does not stop the others; its outcome says why."""
    chosen = daily_jobs() if jobs is None else jobs
    with exclusive(LOCK_NAME) as held:
        if not held:
            return None
        return [_run_one(job, day) for job in chosen]


def _run_one(job: DailyJob, day: datetime.date) -> Outcome:
    try:
        return Outcome(job.name, True, job.run(day))
    except Exception as exc:
        # One job's failure must not keep the others from running; the traceback goes to
        # the log, the outcome to the command's exit status.
        logger.exception("Scheduled job %s failed for %s", job.name, day)
        return Outcome(job.name, False, f"{type(exc).__name__}: {exc}")
