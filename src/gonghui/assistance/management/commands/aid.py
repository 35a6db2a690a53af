"""`gonghui aid --as USER ACTION …`: budgets and payment batches on the command line.

The command acts as a named user, so it sees and changes exactly what that user may in
the pages and the API: the same scoping (``for_user``), the same services
(:mod:`gonghui.assistance.funds`, :mod:`gonghui.assistance.payments`), the same audit trail
(source "cli").

    gonghui aid --as fund budgets [--fund CODE] [--year 2026]
    gonghui aid --as fund allocate BUDGET_ID ORGANISATION_ID AMOUNT [--memo TEXT]
    gonghui aid --as fund batch create --fund CODE [--organisation ID]
    gonghui aid --as fund batch export BATCH_ID --format csv|xlsx --out PATH
    gonghui aid --as fund batch import BATCH_ID PATH
"""

from __future__ import annotations

import io
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from tqdm import tqdm

from gonghui.accounts.models import User
from gonghui.assistance import funds, payments, reports
from gonghui.assistance.ledger import balances
from gonghui.assistance.models import Budget, PaymentBatch
from gonghui.assistance.money import format_fen, parse_yuan, to_fen
from gonghui.commands import StaffCommand
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404

READ_CHUNK = 64 * 1024


def amount(text: str) -> int:
    try:
        return to_fen(parse_yuan(text))
    except ValueError:
        raise CommandError(
            _("The amount “%(value)s” is not a number of yuan.") % {"value": text}
        ) from None


class Command(StaffCommand):
    help = "Budgets, allocations and payment batches as a named user."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        actions = parser.add_subparsers(dest="action", required=True)
        budgets = actions.add_parser("budgets", help="print budgets and their balances")
        budgets.add_argument("--fund", default="", help="fund code")
        budgets.add_argument("--year", type=int)
        allocate = actions.add_parser("allocate", help="allocate to an organisation below")
        allocate.add_argument("budget", type=int, help="budget id")
        allocate.add_argument("organisation", type=int, help="organisation id")
        allocate.add_argument("amount", help="yuan, e.g. 50000 or 1,234.50")
        allocate.add_argument("--memo", default="")
        batch = actions.add_parser("batch").add_subparsers(dest="batch_action", required=True)
        create = batch.add_parser("create", help="batch the fund's help ready to be paid")
        create.add_argument("--fund", required=True, help="fund code")
        create.add_argument("--organisation", type=int, help="paying organisation id")
        export = batch.add_parser("export", help="write the bank file (logged)")
        export.add_argument("batch", type=int)
        export.add_argument("--format", dest="fmt", choices=["csv", "xlsx"], default="csv")
        export.add_argument("--out", required=True, type=Path)
        load = batch.add_parser("import", help="apply the bank's result file")
        load.add_argument("batch", type=int)
        load.add_argument("path", type=Path)

    def dispatch(self, user: User, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "budgets":
            self.budgets(user, options["fund"], options["year"])
        elif action == "allocate":
            self.allocate(user, options)
        elif options["batch_action"] == "create":
            self.create(user, options)
        elif options["batch_action"] == "export":
            self.export(user, options)
        else:
            self.load(user, options)

    def find(self, queryset: QuerySet[Any] | type[Model], user: User, pk: int, what: str) -> Any:
        try:
            return get_for_user_or_404(queryset, user, pk=pk)
        except Http404:
            raise CommandError(
                _("No %(what)s %(id)s in your organisation.") % {"what": what, "id": pk}
            ) from None

    def budgets(self, user: User, code: str, year: int | None) -> None:
        reports.require_reader(user)
        rows = Budget.objects.for_user(user).select_related("fund", "organisation")
        if code:
            rows = rows.filter(fund__code=code)
        if year:
            rows = rows.filter(year=year)
        budgets = list(rows.order_by("year", "fund__code", "organisation__path"))
        found = balances(b.pk for b in budgets)
        header = [_("id"), _("fund"), _("year"), _("organisation"), _("budget")]
        header += [_("available"), _("committed"), _("paid")]
        self.stdout.write("\t".join(header))
        for b in budgets:
            money = found[b.pk]
            figures = (money.total, money.available, money.committed, money.paid)
            cells = [str(b.pk), b.fund.code, str(b.year), b.organisation.name]
            self.stdout.write("\t".join(cells + [format_fen(f) for f in figures]))

    def allocate(self, user: User, options: dict[str, Any]) -> None:
        budgets = Budget.objects.select_related("fund", "organisation")
        parent = self.find(budgets, user, options["budget"], _("budget"))
        org = self.find(Organisation, user, options["organisation"], _("organisation"))
        fen = amount(options["amount"])
        child = funds.allocate(user, parent, org, fen, options["memo"])
        self.stdout.write(
            _("%(amount)s yuan allocated to %(org)s (budget %(id)s).")
            % {"amount": format_fen(fen), "org": org.name, "id": child.pk}
        )

    def create(self, user: User, options: dict[str, Any]) -> None:
        fund = reports.visible_funds(user).filter(code=options["fund"]).first()
        if fund is None:
            raise CommandError(
                _("No fund %(code)s in your organisation.") % {"code": options["fund"]}
            )
        org = None
        if options["organisation"] is not None:
            org = self.find(Organisation, user, options["organisation"], _("organisation"))
        batched = payments.create_batch(user, fund, org)
        self.stdout.write(
            _("Batch %(number)s (id %(id)s): %(count)d payments, %(total)s yuan.")
            % {
                "number": batched.batch.number,
                "id": batched.batch.pk,
                "count": batched.count,
                "total": format_fen(batched.total_fen),
            }
        )
        for note in batched.notes():
            self.stderr.write(note)

    def export(self, user: User, options: dict[str, Any]) -> None:
        batch = self.find(PaymentBatch, user, options["batch"], _("batch"))
        filename, data, _type = payments.export_batch(user, batch, options["fmt"])
        options["out"].write_bytes(data)
        self.stdout.write(f"{filename} -> {options['out']}")

    def load(self, user: User, options: dict[str, Any]) -> None:
        batch = self.find(PaymentBatch, user, options["batch"], _("batch"))
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(_("No file %(path)s.") % {"path": path})
        report = payments.import_result(user, batch, path.name, self.read(path))
        if report.already_imported:
            self.stdout.write(_("This file was imported before: nothing was changed."))
        self.stdout.write(
            _(
                "%(rows)s rows read: %(paid)s paid, %(failed)s failed, %(unchanged)s unchanged, "
                "%(rejected)s rejected."
            )
            % {**vars(report), "rejected": len(report.rejected)}
        )
        for row, reason in report.rejected:
            self.stdout.write(_("row %(row)s: %(reason)s") % {"row": row, "reason": reason})

    def read(self, path: Path) -> bytes:
        """The file, read in chunks with a progress bar (on a terminal): bank result files
        run to hundreds of thousands of rows."""
        out = io.BytesIO()
        size = path.stat().st_size
        with (
            path.open("rb") as source,
            tqdm(total=size, unit="B", unit_scale=True, desc=path.name, disable=None) as bar,
        ):
            while chunk := source.read(READ_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
        return out.getvalue()
