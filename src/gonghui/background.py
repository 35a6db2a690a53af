"""Work that outlives the request that starts it: one way to start a command detached.

Imports, screening jobs and indicator refreshes all start the command an administrator
would type (``gonghui …``) in a process of its own session, so a web worker that is killed
or restarted does not take the work with it; its output is appended to a log file. With
``settings.GONGHUI_JOBS_INLINE`` (tests) the caller runs the work in its own process.
Wherever it runs, a failure is recorded on the work's own record (``failure_recorded``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from gonghui.errors import DomainError


def inline() -> bool:
    return bool(getattr(settings, "GONGHUI_JOBS_INLINE", False))


def detach(argv: list[str], log_path: Path) -> int:
    """Start ``argv`` in its own session, output appended to ``log_path``; its process id."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    return process.pid


@contextmanager
def failure_recorded(fail: Callable[[str], None], stopped: str) -> Iterator[None]:
    """Work whose failure ``fail`` records before the exception goes on: a domain refusal
    with its own message; anything else (a fault, Ctrl-C) as ``stopped``, whose
    ``%(error)s`` names it, so the record says the work can be started again."""
    try:
        yield
    except DomainError as exc:
        fail(str(exc))
        raise
    except BaseException as exc:
        fail(stopped % {"error": exc})
        raise
