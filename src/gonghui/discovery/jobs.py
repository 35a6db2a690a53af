"""Imports in the background: a page starts the import and returns at once.

    jobs.start(import_id, user)                      # a roster import
    jobs.start(import_id, user, kind=jobs.LIST)      # an external list import
    jobs.state(imp)                                  # "idle", "running" or "stopped"

The work runs in a detached process (its own session, so a web worker that is killed or
restarted does not take the import with it), as the command an administrator would type::

    gonghui roster --as USER resume ID
    python -m gonghui.discovery.jobs list ID --as USER

Both are resumable: a crashed or killed import is started again with the same command (or
the page's "resume" button). The process id, host and command are written to
``job.json`` in the import's work directory; the progress page reads it to tell an import
that is running from one whose process is gone. The process's output goes to ``job.log``.

With ``settings.GONGHUI_JOBS_INLINE`` (tests) the import runs in the calling process, to
the end, before ``start`` returns.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

ROSTER = "roster"
LIST = "list"
KINDS = (ROSTER, LIST)


def inline() -> bool:
    return bool(getattr(settings, "GONGHUI_JOBS_INLINE", False))


def command(import_id: int, username: str, kind: str = ROSTER) -> list[str]:
    """The command that runs (or resumes) the import to its end."""
    if kind == ROSTER:
        return [
            sys.executable,
            "-m",
            "gonghui",
            "roster",
            "--as",
            username,
            "resume",
            str(import_id),
        ]
    if kind == LIST:
        module = "gonghui.discovery.jobs"
        return [sys.executable, "-m", module, LIST, str(import_id), "--as", username]
    raise ValueError(kind)


def _model(kind: str) -> Any:
    from .models import ListImport, RosterImport

    return RosterImport if kind == ROSTER else ListImport


def start(import_id: int, user: Any, kind: str = ROSTER) -> None:
    """Run the import in the background (inline in tests). The caller has checked that the
    user may import and reaches the import; the job acts as that user."""
    if kind not in KINDS:
        raise ValueError(kind)
    if inline():
        run(kind, import_id)
        return
    imp = _model(kind).objects.get(pk=import_id)
    work_dir: Path = imp.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    argv = command(import_id, user.get_username(), kind)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    with open(work_dir / "job.log", "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    marker = {
        "pid": process.pid,
        "host": socket.gethostname(),
        "started": timezone.now().isoformat(),
        "command": argv[1:],
    }
    (work_dir / "job.json").write_text(json.dumps(marker), encoding="utf-8")


def run(kind: str, import_id: int, progress: Any = None) -> Any:
    """Run the import to its end in this process. A refused file or a fault is recorded on
    the import (status failed, with the message), so it is not raised again here."""
    from gonghui.errors import DomainError

    from . import external, services

    try:
        if kind == ROSTER:
            return services.run_import(import_id, progress)
        return external.run_list_import(import_id, progress)
    except DomainError:
        return _model(kind).objects.get(pk=import_id)


def _marker(work_dir: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((work_dir / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _alive(pid: int) -> bool:
    try:
        finished, _status = os.waitpid(pid, os.WNOHANG)  # reap our own child if it ended
        if finished:
            return False
    except ChildProcessError:
        pass  # not our child: ask the system
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state(imp: Any) -> str:
    """``running`` when a job works on the import (or someone runs it by hand), ``stopped``
    when it is unfinished and the process started for it is gone, otherwise ``idle``."""
    from .choices import ImportStatus

    if imp.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return "idle"
    marker = _marker(imp.work_dir)
    if marker is None:
        # No job was started from a page: running means someone runs it on the command line.
        return "running" if imp.status == ImportStatus.RUNNING else "idle"
    if marker.get("host") != socket.gethostname():
        return "running"  # started on another server; we cannot look at its processes
    return "running" if _alive(int(marker.get("pid", 0))) else "stopped"


def main(argv: list[str] | None = None) -> None:
    """``python -m gonghui.discovery.jobs list ID --as USER``: run or resume an import."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    import django

    django.setup()
    from gonghui.accounts.models import User
    from gonghui.audit.context import acting_as

    parser = argparse.ArgumentParser(prog="python -m gonghui.discovery.jobs")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("id", type=int)
    parser.add_argument("--as", dest="username", required=True)
    options = parser.parse_args(argv)
    user = User.objects.get(username=options.username)
    imp = _model(options.kind).objects.for_user(user).get(pk=options.id)
    with acting_as(user, "cli"):
        done = run(options.kind, imp.pk)
    print(f"{options.kind} import {done.pk}: {done.status} {done.error}".strip())
    sys.exit(0 if done.status == "done" else 1)


if __name__ == "__main__":
    main()
