"""`gonghui schedule [--date D] [--list]`: run the daily jobs due, once, and exit.

For cron or a systemd timer (docs/supervision.md, "Scheduled jobs"): every job is
idempotent per day, so the timer may fire more than once a day — each later run finds
nothing missing — and two runs never overlap (the second one says so and exits at once).
Exits with an error when a job failed, so cron mails it and systemd marks the unit failed.
"""

from __future__ import annotations

import datetime
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui import scheduling


class Command(BaseCommand):
    help = (
        "Run the daily jobs due today (the daily digest, the stored indicators) once and exit; "
        "for cron or a timer."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--date",
            type=datetime.date.fromisoformat,
            default=None,
            help="the day to run for (default today), e.g. to make up a day the machine was off",
        )
        parser.add_argument("--list", action="store_true", help="list the daily jobs and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for job in scheduling.daily_jobs():
                self.stdout.write(f"{job.name}\t{job.what}")
            return
        day = options["date"] or timezone.localdate()
        outcomes = scheduling.run_due(day)
        if outcomes is None:
            self.stdout.write(_("Another scheduled run is in progress; nothing done."))
            return
        failed = [o for o in outcomes if not o.ok]
        for outcome in outcomes:
            stream = self.stdout if outcome.ok else self.stderr
            stream.write(f"{outcome.job}: {outcome.message}")
        if failed:
            raise CommandError(
                _("%(count)d scheduled jobs failed: %(names)s")
                % {"count": len(failed), "names": ", ".join(o.job for o in failed)}
            )
