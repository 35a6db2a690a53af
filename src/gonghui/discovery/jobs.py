"""Long work in the background: a page starts it and returns at once.

    jobs.start(import_id, user)                      # a roster import
    jobs.start(import_id, user, kind=jobs.LIST)      # an external list import
    jobs.start(job_id, user, kind=jobs.SCREEN)       # a screening job (dry run or run)
    jobs.state(record)                               # "idle", "running" or "stopped"

The work runs in a detached process (its own session, so a web worker that is killed or
restarted does not take the work with it), as the command an administrator would type::

    gonghui roster --as USER resume ID
    python -m gonghui.discovery.jobs list ID --as USER
    gonghui screen --as USER resume ID

All are resumable: a crashed or killed one is started again with the same command (or the
page's button). The process id, host and command are written to ``job.json`` in the
record's work directory (the command line writes it too, :func:`mark`); the progress page
reads it to tell work that is running from work whose process is gone. The process's
output goes to ``job.log``.

With ``settings.GONGHUI_JOBS_INLINE`` (tests) the work runs in the calling process, to
the end, before ``start`` returns.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from django.utils import timezone

from gonghui import background

ROSTER = "roster"
LIST = "list"
SCREEN = "screen"
KINDS = (ROSTER, LIST, SCREEN)
# The states in which a record still has work to do (imports and screening jobs alike).
UNFINISHED = ("queued", "running")


def command(import_id: int, username: str, kind: str = ROSTER) -> list[str]:
    """The command that runs (or resumes) the work to its end."""
    if kind in (ROSTER, SCREEN):
        return [
            sys.executable,
            "-m",
            "gonghui",
            kind,
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
    from .models import ListImport, RosterImport, ScreeningJob

    return {ROSTER: RosterImport, LIST: ListImport, SCREEN: ScreeningJob}[kind]


def start(import_id: int, user: Any, kind: str = ROSTER) -> None:
    """Run the work in the background (inline in tests). The caller has checked that the
    user may do it and reaches the record; the job acts as that user."""
    if kind not in KINDS:
        raise ValueError(kind)
    if background.inline():
        run(kind, import_id)
        return
    imp = _model(kind).objects.get(pk=import_id)
    work_dir: Path = imp.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    argv = command(import_id, user.get_username(), kind)
    pid = background.detach(argv, work_dir / "job.log")
    mark(work_dir, pid, argv[1:])


def mark(work_dir: Path, pid: int, argv: list[str]) -> None:
    """Say which process works on the record, so that its page (and a second command)
    can tell running work from work whose process is gone."""
    work_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "pid": pid,
        "host": socket.gethostname(),
        "started": timezone.now().isoformat(),
        "command": argv,
    }
    (work_dir / "job.json").write_text(json.dumps(written), encoding="utf-8")


def run(kind: str, import_id: int, progress: Any = None) -> Any:
    """Run the work to its end in this process. A refusal or a fault is recorded on the
    record (status failed, with the message), so a refusal is not raised again here."""
    from gonghui.errors import DomainError

    from . import external, screening, services

    try:
        if kind == ROSTER:
            return services.run_import(import_id, progress)
        if kind == SCREEN:
            return screening.run_job(import_id, progress)
        return external.run_list_import(import_id, progress)
    except DomainError:
        return _model(kind).objects.get(pk=import_id)


def marker(work_dir: Path) -> dict[str, Any] | None:
    """What :func:`mark` wrote for the record (None when nothing was)."""
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
    """``running`` when a job works on the record (or someone runs it by hand), ``stopped``
    when it is unfinished and the process started for it is gone, otherwise ``idle``."""
    if imp.status not in UNFINISHED:
        return "idle"
    found = marker(imp.work_dir)
    if found is None:
        # No job was started from a page: running means someone runs it on the command line.
        return "running" if imp.status == "running" else "idle"
    if found.get("host") != socket.gethostname():
        return "running"  # started on another server; we cannot look at its processes
    return "running" if _alive(int(found.get("pid", 0))) else "stopped"


def main(argv: list[str] | None = None) -> None:
    """``python -m gonghui.discovery.jobs list ID --as USER``: run or resume an import."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    import django

    django.setup()
    from gonghui.accounts.models import User
    from gonghui.audit.context import acting_as

    parser = argparse.ArgumentParser(prog="python -m gonghui.discovery.jobs")
    parser.add_argument("kind", choices=(ROSTER, LIST))
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
