"""`gonghui workers --as USER …`: workers registered twice, on the command line.

    gonghui workers pairs --as USER                                  # decided, not merged
    gonghui workers merge SURVIVOR DUPLICATE --as USER [--review ID] [--dry-run]

The same service as the review page (:func:`gonghui.people.merge.merge_workers`): the same
roles, scope, four eyes and audit trail (source "cli"). ``--dry-run`` prints what would
move and how each conflict would be settled, and changes nothing.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.utils.translation import gettext as _

from gonghui.accounts.models import User
from gonghui.commands import StaffCommand, one_of
from gonghui.discovery import linking
from gonghui.discovery.models import LinkReview
from gonghui.people import merge
from gonghui.people.models import Worker


class Command(StaffCommand):
    help = "List and merge workers registered twice, as a named user."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("pairs", help="pairs decided 'same person' and not merged yet")
        join = actions.add_parser("merge", help="merge DUPLICATE into SURVIVOR")
        join.add_argument("survivor", type=int, help="the worker id that stays")
        join.add_argument("duplicate", type=int, help="the worker id merged into it")
        join.add_argument("--review", type=int, help="the review that decided the pair")
        join.add_argument("--dry-run", action="store_true", help="show, change nothing")

    def dispatch(self, user: User, options: dict[str, Any]) -> None:
        if options["action"] == "pairs":
            self.pairs(user)
            return
        survivor, duplicate = (self.find(user, options[k]) for k in ("survivor", "duplicate"))
        if options["dry_run"]:
            self.show(merge.plan_merge(user, survivor, duplicate))
            return
        review = self.review(user, options["review"]) if options["review"] else None
        result = merge.merge_workers(user, survivor, duplicate, review)
        names = {"duplicate": duplicate.pk, "survivor": survivor.pk}
        if result.already:
            self.stdout.write(
                _("Worker %(duplicate)s was already merged into %(survivor)s.") % names
            )
            return
        for key, count in result.moved.items():
            self.stdout.write(f"  {merge.relation_label(key)}: {count}")
        self.outcomes(result.outcomes)
        self.stdout.write(_("Worker %(duplicate)s is merged into %(survivor)s.") % names)

    def find(self, user: User, pk: int) -> Worker:
        missing = _("No worker %(id)s in your organisation.")
        return one_of(Worker.objects.for_user(user, merged=True), pk, missing)

    def review(self, user: User, pk: int) -> LinkReview:
        missing = _("No linkage review %(id)s in your organisation.")
        return one_of(LinkReview.objects.for_user(user), pk, missing)

    def pairs(self, user: User) -> None:
        for review in linking.to_merge(user).select_related("worker", "other_worker"):
            a, b = review.worker, review.other_worker
            assert b is not None  # a dedupe review names two workers
            stays = merge.default_survivor(a, b)
            goes = b if stays == a else a
            self.stdout.write(
                f"{review.pk}\t{a.pk} {a.name}\t{b.pk} {b.name}\t"
                + _("suggested: merge %(duplicate)s into %(survivor)s")
                % {"duplicate": goes.pk, "survivor": stays.pk}
            )

    def show(self, plan: merge.Plan) -> None:
        for key, count in plan.counts.items():
            if count:
                self.stdout.write(f"  {merge.relation_label(key)}: {count}")
        self.outcomes(plan.outcomes)
        for name in plan.filled:
            self.stdout.write(_("  filled in: %(field)s") % {"field": merge.field_label(name)})
        for name in plan.differing:
            self.stdout.write(
                _("  differs, survivor's kept: %(field)s") % {"field": merge.field_label(name)}
            )
        if plan.money:
            self.stdout.write(
                _("  Files, assistance or bank cards move: a colleague must have decided the pair.")
            )

    def outcomes(self, outcomes: list[merge.Outcome]) -> None:
        for outcome in outcomes:
            self.stdout.write(
                f"  {merge.relation_label(outcome.relation)} #{outcome.row}: {outcome.label}"
            )
