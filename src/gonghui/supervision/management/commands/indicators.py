"""`gonghui indicators refresh|runs`: the indicator value store from the command line.

    gonghui indicators refresh                       # this year and the years of the trend
    gonghui indicators refresh --year 2025 --trend 0 # one year
    gonghui indicators refresh --period 2025-01-01:2025-06-30 --code compliance
    gonghui indicators refresh --as leo --period …   # as a person (the "recompute now" button)
    gonghui indicators runs                          # the latest computations

``refresh`` is :func:`gonghui.supervision.store.refresh`: the same computation as the daily
job and the page's button. With ``--as`` it acts as that user, who must hold SUPERVISE (the
button starts it so, in a detached process); without, it is the operator's.
"""

from __future__ import annotations

import datetime
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.models import User
from gonghui.audit.context import acting_as
from gonghui.errors import DomainError
from gonghui.supervision import access, store
from gonghui.supervision import indicators as lib
from gonghui.supervision.models import IndicatorRun, RunTrigger


def period_argument(text: str) -> lib.Period:
    try:
        start, end = (datetime.date.fromisoformat(part) for part in text.split(":"))
        return lib.Period(start, end)
    except (ValueError, DomainError) as exc:
        raise ArgumentTypeError(f"{text}: START:END, e.g. 2025-01-01:2025-12-31") from exc


class Command(BaseCommand):
    help = "Compute and store the indicators (refresh), or list the latest computations (runs)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=("refresh", "runs"))
        parser.add_argument("--as", dest="username", default="", help="act as this user")
        parser.add_argument("--year", type=int, help="this calendar year (default: this year)")
        parser.add_argument(
            "--trend",
            type=int,
            default=store.TREND_YEARS,
            help="also the same days of this many years before (default: the page's trend)",
        )
        parser.add_argument(
            "--period",
            action="append",
            type=period_argument,
            default=[],
            help="START:END, repeatable; instead of --year and --trend",
        )
        parser.add_argument("--code", action="append", default=None, help="only this indicator")
        parser.add_argument("--limit", type=int, default=20, help="runs: how many")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "runs":
            self.list_runs(options["limit"])
            return
        periods = options["period"] or store.trend_periods(
            lib.Period.year(options["year"] or timezone.localdate().year), options["trend"]
        )
        user = self.user(options["username"])
        try:
            if user is None:
                done = store.refresh(periods, options["code"], trigger=RunTrigger.COMMAND)
            else:
                with acting_as(user, "cli"):
                    done = store.refresh(periods, options["code"], by=user, trigger=RunTrigger.USER)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        for run in done.runs:
            self.stdout.write(
                _("%(start)s – %(end)s: %(rows)d values stored.")
                % {"start": run.period_start, "end": run.period_end, "rows": run.rows}
            )
        for period in done.skipped:
            self.stdout.write(
                _("%(start)s – %(end)s: another computation is running; skipped.")
                % {"start": period.start, "end": period.end}
            )
        self.stdout.write(_("Done in %(seconds).1f s.") % {"seconds": done.seconds})

    def user(self, username: str) -> User | None:
        if not username:
            return None
        found = User.objects.select_related("organisation").filter(username=username).first()
        if found is None:
            raise CommandError(_("No user named %(name)s.") % {"name": username})
        if not access.may_supervise(found):
            raise CommandError(_("Your role does not allow this."))
        return found

    def list_runs(self, limit: int) -> None:
        runs = IndicatorRun.objects.select_related("started_by").order_by("-started_at", "-pk")
        for run in runs[:limit]:
            who = run.started_by.get_username() if run.started_by else run.get_trigger_display()
            finished = f"{timezone.localtime(run.finished_at):%H:%M:%S}" if run.finished_at else "-"
            self.stdout.write(
                f"{run.pk}\t{run.period_start}:{run.period_end}\t{run.status}\t"
                f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M:%S}\t{finished}\t"
                f"{run.rows}\t{who}\t{run.error}".rstrip()
            )
