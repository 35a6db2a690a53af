"""`gonghui roster …`: member roster imports on the command line, as a named user.

    gonghui roster import PATH --source NAME --as USER [--map 'header=field' …] [--new-source]
    gonghui roster resume IMPORT_ID --as USER
    gonghui roster rollback IMPORT_ID --as USER
    gonghui roster report IMPORT_ID --as USER
    gonghui roster rejected IMPORT_ID --out PATH --as USER

The command calls the services the pages will call (:mod:`gonghui.discovery.services`), so
scope, roles and the audit trail (source "cli") are the same; progress shows as a bar.
"""

from __future__ import annotations

import shutil
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from gonghui.accounts.models import User
from gonghui.audit.context import acting_as
from gonghui.commands import one_of
from gonghui.discovery import services
from gonghui.discovery.choices import ImportPhase
from gonghui.discovery.models import RosterImport
from gonghui.errors import DomainError


class Bar:
    """One tqdm bar per phase of the import, fed by the service's progress callback."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.bar: tqdm[Any] | None = None
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase = phase
            label = str(ImportPhase(phase).label) if phase in ImportPhase.values else phase
            self.bar = tqdm(total=total, desc=label, file=self.stream, leave=True)
        if self.bar is not None:
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = "Import member rosters (CSV or XLSX) as a named user."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--as", dest="username", required=True, help="act as this user")
        actions = parser.add_subparsers(dest="action", required=True)
        start = actions.add_parser("import", help="import a roster file")
        start.add_argument("path", type=Path)
        start.add_argument("--source", required=True, help="name of the roster source")
        start.add_argument("--new-source", action="store_true", help="create the source")
        start.add_argument(
            "--map", action="append", default=[], help="save 'header=field' on the source"
        )
        for name in ("resume", "rollback", "report"):
            actions.add_parser(name).add_argument("id", type=int)
        rejected = actions.add_parser("rejected", help="write the refused rows as CSV")
        rejected.add_argument("id", type=int)
        rejected.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.select_related("organisation").get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(
                _("No user named %(name)s.") % {"name": options["username"]}
            ) from None
        with acting_as(user, "cli"):
            try:
                getattr(self, "do_" + options["action"])(user, options)
            except DomainError as exc:
                raise CommandError(str(exc)) from None

    def find(self, user: User, pk: int) -> RosterImport:
        missing = _("No roster import %(id)s in your organisation.")
        return one_of(RosterImport.objects.for_user(user), pk, missing)

    def do_import(self, user: User, options: dict[str, Any]) -> None:
        source = services.source_for(user, options["source"], create=options["new_source"])
        if options["map"]:
            pairs = dict(item.split("=", 1) for item in options["map"] if "=" in item)
            services.save_mapping(user, source, pairs)
        imp = services.start_import(user, source, options["path"])
        self.run(imp)

    def do_resume(self, user: User, options: dict[str, Any]) -> None:
        self.run(self.find(user, options["id"]))

    def run(self, imp: RosterImport) -> None:
        bar = Bar(self.stderr._out)
        try:
            imp = services.run_import(imp.pk, bar)
        finally:
            bar.close()
        self.print_report(imp)

    def do_rollback(self, user: User, options: dict[str, Any]) -> None:
        imp = services.rollback_import(user, self.find(user, options["id"]))
        self.stdout.write(_("Import %(id)s rolled back.") % {"id": imp.pk})

    def do_report(self, user: User, options: dict[str, Any]) -> None:
        self.print_report(self.find(user, options["id"]))

    def do_rejected(self, user: User, options: dict[str, Any]) -> None:
        path = services.rejected_csv(user, self.find(user, options["id"]))
        shutil.copyfile(path, options["out"])
        self.stdout.write(_("Refused rows written to %(path)s.") % {"path": options["out"]})

    def print_report(self, imp: RosterImport) -> None:
        report = services.import_report(imp)
        lines = [
            _("Import %(id)s of %(file)s: %(status)s")
            % {"id": imp.pk, "file": imp.file_name, "status": report["status_label"]},
            _("rows read %(n)d") % {"n": report["rows_read"]},
            _("loaded %(n)d") % {"n": report["rows_loaded"]},
            _("rejected %(n)d") % {"n": report["rows_rejected"]},
            _("duplicates in the file %(n)d") % {"n": report["rows_duplicate"]},
            _("already registered %(n)d") % {"n": report["rows_existing"]},
        ]
        self.stdout.write(lines[0])
        self.stdout.write("  " + " · ".join(lines[1:]))
        for reason, count in report["reasons"].items():
            self.stdout.write(f"  {reason}: {count}")
        if report["has_rejected_file"]:
            self.stdout.write(
                _("  The refused rows: gonghui roster rejected %(id)s --out FILE --as USER")
                % {"id": imp.pk}
            )
