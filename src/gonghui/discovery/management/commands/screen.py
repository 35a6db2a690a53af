"""`gonghui screen …`: screening rules on the command line, as a named user.

    gonghui screen --as USER rules                                 # code, version, status
    gonghui screen --as USER dry-run CODE|--all [--as-of DATE] [--engine duckdb|spark]
    gonghui screen --as USER run CODE|--all [--as-of DATE] [--engine duckdb|spark]
    gonghui screen --as USER resume JOB_ID                          # after a crash or a kill
    gonghui screen --as USER show JOB_ID
    gonghui screen --as USER switch CODE on|off

``dry-run`` and ``run`` are the jobs the rule pages start (:func:`screening.start_job`),
done here in the foreground with a progress bar (:func:`screening.run_job`); while the
same job is queued or stopped, the command goes on with it, on the snapshot it began
with. Roles, scope and the audit trail (source "cli") are the pages'.
"""

from __future__ import annotations

import datetime
import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from gonghui.accounts.models import User
from gonghui.commands import StaffCommand, one_of
from gonghui.discovery import jobs, screening
from gonghui.discovery.choices import JobStatus, RuleStatus, RunKind
from gonghui.discovery.models import ScreeningJob, ScreeningRule


class Bar:
    """One tqdm bar over the job's steps (the snapshot, then each rule)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.bar: tqdm[Any] | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, file=self.stream, leave=True, unit=_("step"))
        self.bar.total = total
        self.bar.n = done
        self.bar.set_description(step_label(step))
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def step_label(step: str) -> str:
    if step == screening.SNAPSHOT_STEP:
        return _("Taking the snapshot")
    return step or _("Done")


def as_of(text: str | None) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            _("Write the date as YYYY-MM-DD, not “%(text)s”.") % {"text": text}
        ) from None


class Command(StaffCommand):
    help = "Screening rules: dry runs and runs (as background jobs), as a named user."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("rules", help="list the rules")
        for name in ("dry-run", "run"):
            sub = actions.add_parser(name, help=f"{name} a rule, or every switched-on rule")
            sub.add_argument("code", nargs="?", help="the rule's code")
            sub.add_argument("--all", action="store_true", help="every switched-on rule")
            sub.add_argument("--as-of", help="the screening day, YYYY-MM-DD (default: today)")
            sub.add_argument("--engine", choices=["duckdb", "spark"])
        for name in ("resume", "show"):
            actions.add_parser(name).add_argument("id", type=int)
        switch = actions.add_parser("switch", help="switch a rule on or off")
        switch.add_argument("code")
        switch.add_argument("status", choices=[RuleStatus.ON, RuleStatus.OFF])

    def dispatch(self, user: User, options: dict[str, Any]) -> None:
        getattr(self, "do_" + options["action"].replace("-", "_"))(user, options)

    # --- the rules -----------------------------------------------------------------------

    def rule(self, user: User, code: str | None) -> ScreeningRule:
        screening.require_viewer(user)
        found = ScreeningRule.objects.filter(code=code or "").first()
        if found is None:
            raise CommandError(_("No rule with the code %(code)s.") % {"code": code})
        return found

    def do_rules(self, user: User, options: dict[str, Any]) -> None:
        screening.require_viewer(user)
        for rule in ScreeningRule.objects.order_by("code"):
            self.stdout.write(
                f"{rule.code}  v{rule.version}  {rule.get_status_display()}  {rule.label}"
            )

    def do_switch(self, user: User, options: dict[str, Any]) -> None:
        rule = screening.change_rule(
            user, self.rule(user, options["code"]), status=options["status"]
        )
        self.stdout.write(f"{rule.code}: {rule.get_status_display()}")

    # --- jobs ----------------------------------------------------------------------------

    def do_dry_run(self, user: User, options: dict[str, Any]) -> None:
        self.start(user, RunKind.DRY_RUN, options)

    def do_run(self, user: User, options: dict[str, Any]) -> None:
        self.start(user, RunKind.RUN, options)

    def start(self, user: User, kind: str, options: dict[str, Any]) -> None:
        if bool(options["all"]) == bool(options["code"]):
            raise CommandError(_("Name one rule, or give --all."))
        rule = None if options["all"] else self.rule(user, options["code"])
        job = screening.start_job(user, kind, rule, as_of(options["as_of"]), options["engine"])
        self.work(job)

    def find(self, user: User, pk: int) -> ScreeningJob:
        missing = _("No screening job %(id)s in your organisation.")
        return one_of(ScreeningJob.objects.for_user(user), pk, missing)

    def do_resume(self, user: User, options: dict[str, Any]) -> None:
        self.work(self.find(user, options["id"]))

    def do_show(self, user: User, options: dict[str, Any]) -> None:
        self.report(self.find(user, options["id"]))

    def work(self, job: ScreeningJob) -> None:
        if job.status != JobStatus.DONE:
            if jobs.state(job) == "running" and not self.own(job):
                raise CommandError(
                    _("Screening job %(id)s is running in another process.") % {"id": job.pk}
                )
            jobs.mark(job.work_dir, os.getpid(), sys.argv[1:])
            bar = Bar(self.stderr._out)
            try:
                job = jobs.run(jobs.SCREEN, job.pk, bar)
            finally:
                bar.close()
        self.report(job)
        if job.status == JobStatus.FAILED:
            raise CommandError(job.error)

    def own(self, job: ScreeningJob) -> bool:
        # A background process started for the job runs this very command.
        marker = jobs.marker(job.work_dir) or {}
        return int(marker.get("pid", 0)) == os.getpid()

    def report(self, job: ScreeningJob) -> None:
        what = job.rule.code if job.rule else _("every switched-on rule")
        self.stdout.write(
            _("Screening job %(id)s (%(kind)s, %(what)s, as of %(day)s): %(status)s")
            % {
                "id": job.pk,
                "kind": job.get_kind_display(),
                "what": what,
                "day": job.as_of.isoformat(),
                "status": job.get_status_display(),
            }
        )
        if job.snapshot:
            self.stdout.write("  " + _("snapshot %(id)s") % {"id": job.snapshot})
        for run in screening.job_runs(job):
            self.stdout.write(
                "  "
                + _(
                    "%(code)s v%(version)s: found %(found)d, add %(added)d, drop %(dropped)d, "
                    "change %(changed)d"
                )
                % {
                    "code": run.rule.code,
                    "version": run.rule_version,
                    "found": run.found,
                    "added": run.added,
                    "dropped": run.dropped,
                    "changed": run.changed,
                }
            )
            for row in run.summary:
                self.stdout.write(
                    f"    {row['name']}: +{row['add']} -{row['drop']} ~{row['change']} "
                    f"={row['keep']}"
                )
