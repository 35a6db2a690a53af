"""The approval queue: planned lines this reviewer may approve, with the money they would
take from each fund and what each budget has left; approve one page's choice or all."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, QuerySet, Sum
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.assistance import planning
from gonghui.assistance.ledger import balances
from gonghui.assistance.models import AssistanceLine, Budget
from gonghui.assistance.money import format_fen
from gonghui.errors import DomainError
from gonghui.web import aidforms
from gonghui.web.http import AuthedRequest, error_status, paginate, require_capability


def approval_queue(user: User) -> QuerySet[AssistanceLine]:
    return planning.approvable(user, AssistanceLine.objects.for_user(user))


@dataclass
class FundTotal:
    fund: str
    count: int
    total_fen: int
    budgets: list[tuple[str, int]]  # (budget, available fen) the lines would be paid from

    @property
    def short(self) -> bool:
        return any(left < self.total_fen for _name, left in self.budgets)


def fund_totals(queue: QuerySet[AssistanceLine]) -> list[FundTotal]:
    """Per fund: the lines waiting, their total and the budgets' money left (4 queries)."""
    rows = list(
        queue.values("fund_id", "fund__code", "fund__name")
        .annotate(count=Count("id"), total=Sum("amount_fen"))
        .order_by("fund__code")
    )
    pairs = set(queue.values_list("organisation_id", "fund_id", "year").distinct())
    budget_of = planning.budgets_for(pairs)
    left = balances(set(budget_of.values()))
    names = {
        b.pk: f"{b.organisation.name} {b.year}"
        for b in Budget.objects.filter(pk__in=left).select_related("organisation")
    }
    by_fund: dict[int, set[int]] = defaultdict(set)
    for (_org, fund, _year), budget_id in budget_of.items():
        by_fund[fund].add(budget_id)
    return [
        FundTotal(
            fund=f"{row['fund__code']} {row['fund__name']}",
            count=row["count"],
            total_fen=row["total"] or 0,
            budgets=[(names[b], left[b].available) for b in sorted(by_fund[row["fund_id"]])],
        )
        for row in rows
    ]


def _context(request: AuthedRequest, form: aidforms.ApproveSelectedForm | None) -> dict[str, Any]:
    queue = approval_queue(request.user)
    lines = queue.select_related(
        "file", "worker", "member", "fund", "organisation", "created_by"
    ).order_by("id")
    page = paginate(request, lines, settings.GONGHUI_PAGE_SIZE)
    return {
        "page": page,
        "totals": fund_totals(queue),
        "form": form or aidforms.ApproveSelectedForm(),
        "chosen": set(form.cleaned_data.get("lines") or []) if form and form.is_bound else set(),
    }


@login_required
def aid_approvals(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.APPROVE_AID)
    if request.method != "POST":
        return render(request, "web/aid/approvals.html", _context(request, None))
    form = aidforms.ApproveSelectedForm(request.POST)
    status = 400
    if form.is_valid():
        everything = form.cleaned_data["everything"]
        chosen = approval_queue(request.user) if everything else form.cleaned_data["lines"]
        try:
            result = planning.approve_lines(request.user, chosen)
        except DomainError as exc:
            form.add_error(None, str(exc))
            status = error_status(exc)
        else:
            text = _("%(count)s lines approved, %(total)s yuan committed.") % {
                "count": result.count,
                "total": format_fen(result.total_fen),
            }
            if result.skipped:
                text += " " + _(
                    "%(skipped)s could not be approved by you or were approved already."
                ) % {"skipped": result.skipped}
            messages.success(request, text)
            return redirect("aid-approvals")
    return render(request, "web/aid/approvals.html", _context(request, form), status=status)
