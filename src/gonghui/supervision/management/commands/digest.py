"""`gonghui digest [--date D] [--user NAME] [--out DIR]`: build the daily digests.

Every active staff user (or the one named) gets the digest of the day, once: running the
command again the same day builds nothing new. With ``--out``, each digest of the day is
also written to ``DIR/<user>-<day>.txt`` and ``.html`` (for mail or a print run).
"""

from __future__ import annotations

import datetime
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.models import User
from gonghui.supervision import digest
from gonghui.supervision.models import Digest


class Command(BaseCommand):
    help = "Build the daily digest of every active staff user (overdue items, reviews due)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--date", type=datetime.date.fromisoformat, default=None)
        parser.add_argument("--user", dest="username", default="")
        parser.add_argument("--out", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        day = options["date"] or timezone.localdate()
        users = digest.staff_users()
        if options["username"]:
            users = users.filter(username=options["username"])
            if not users.exists():
                raise CommandError(
                    _("No active staff user named %(name)s.") % {"name": options["username"]}
                )
        started = time.perf_counter()
        built = digest.build_all(day, users)
        seconds = time.perf_counter() - started
        self.stdout.write(
            _("%(built)d digests built for %(day)s in %(seconds).2f s.")
            % {"built": built, "day": day.isoformat(), "seconds": seconds}
        )
        if options["out"]:
            self.write_out(Path(options["out"]), day, users)

    def write_out(self, out: Path, day: datetime.date, users: Any) -> None:
        out.mkdir(parents=True, exist_ok=True)
        rows = Digest.objects.filter(day=day, user__in=users).select_related("user")
        for row in rows.iterator(500):
            user: User = row.user
            stem = out / f"{user.username}-{day.isoformat()}"
            stem.with_suffix(".txt").write_text(row.text, encoding="utf-8")
            stem.with_suffix(".html").write_text(row.html, encoding="utf-8")
