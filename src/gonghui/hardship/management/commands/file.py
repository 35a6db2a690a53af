"""`gonghui file --as USER ACTION …`: the hardship-file services on the command line.

The command acts as a named user, so it sees and changes exactly what that user may in
the web pages and the API: the same scoping, the same services, the same audit trail.
"""

from __future__ import annotations

import datetime
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gonghui.accounts.models import User
from gonghui.commands import StaffCommand
from gonghui.hardship import services
from gonghui.hardship.export import export_files
from gonghui.hardship.models import HardshipFile
from gonghui.hardship.rules import TraceLine
from gonghui.hardship.search import search_files
from gonghui.organisations.scoping import get_for_user_or_404


def _with_number(parser: ArgumentParser) -> ArgumentParser:
    parser.add_argument("number", help="file number, e.g. 340102-2026-000123")
    return parser


class Command(StaffCommand):
    help = "Search, show and move hardship files as a named user."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("search").add_argument("query")
        _with_number(actions.add_parser("show"))
        _with_number(actions.add_parser("submit"))
        for name in ("review", "approve", "periodic-review"):
            _with_number(actions.add_parser(name)).add_argument("--note", default="")
        for name in ("reject", "reopen"):
            _with_number(actions.add_parser(name)).add_argument("--reason", required=True)
        leave = _with_number(actions.add_parser("exit"))
        leave.add_argument("--kind", required=True)
        leave.add_argument("--on", type=datetime.date.fromisoformat, required=True)
        leave.add_argument("--reason", default="")
        export = actions.add_parser("export")
        export.add_argument("--status", default="")
        export.add_argument("--out", default="-")

    def dispatch(self, user: User, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "search":
            for file in search_files(user, options["query"])[:50]:
                status = file.get_status_display()
                self.stdout.write(f"{file.number}\t{file.applicant.name}\t{status}")
            return
        if action == "export":
            self.export(user, options)
            return
        file = self.find(user, options["number"])
        moves = {
            "submit": lambda: services.submit_for_notice(user, file),
            "review": lambda: services.review(user, file, options.get("note", "")),
            "approve": lambda: services.approve(user, file, options.get("note", "")),
            "periodic-review": lambda: services.periodic_review(user, file, options["note"]),
            "reject": lambda: services.reject(user, file, options["reason"]),
            "reopen": lambda: services.reopen(user, file, options["reason"]),
            "exit": lambda: services.exit_file(
                user, file, options["kind"], options["on"], options["reason"]
            ),
        }
        if action in moves:
            moves[action]()
            file.refresh_from_db()
        self.show(file)

    def find(self, user: User, number: str) -> HardshipFile:
        try:
            return get_for_user_or_404(HardshipFile.objects.with_people(), user, number=number)
        except Http404:
            raise CommandError(
                _("No file %(number)s in your organisation.") % {"number": number}
            ) from None

    def show(self, file: HardshipFile) -> None:
        self.stdout.write(f"{file.number}  {file.applicant.name}  {file.get_status_display()}")
        self.stdout.write(f"  {file.get_proposed_category_display()}  {file.per_capita_income}")
        for line in file.decision_trace:
            self.stdout.write(f"  - {TraceLine(**line).text()}")

    def export(self, user: User, options: dict[str, Any]) -> None:
        files = HardshipFile.objects.for_user(user)
        filters = {"status": options["status"]} if options["status"] else {}
        if filters:
            files = files.filter(**filters)
        if options["out"] == "-":
            count = export_files(user, files, self.stdout, filters, "cli")  # type: ignore[arg-type]
        else:
            with open(options["out"], "w", encoding="utf-8-sig", newline="") as out:
                count = export_files(user, files, out, filters, "cli")
        self.stderr.write(
            ngettext("%(count)d file exported.", "%(count)d files exported.", count)
            % {"count": count}
        )
