"""Fund views: what a fund's budgets received, committed and paid, per organisation and by
month, and the ledger entries behind every figure.

Everything is set-based: grouped queries over :class:`LedgerEntry` joined to budgets and
organisations, so a view costs the same few queries whether a subtree holds ten budgets or
ten thousand. Summing a subtree's entries is exact: an allocation between two budgets of
the subtree is an ``allocate_out`` and an ``allocate_in`` of the same amount, which cancel.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import models
from django.db.models import Case, Count, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear, Substr
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.models import log_export
from gonghui.errors import DomainError, NotAllowed
from gonghui.organisations.models import PATH_SEGMENT, Organisation

from .choices import LedgerKind
from .ledger import BUCKETS, EFFECTS, Balance, balance_annotations, balances
from .models import Budget, Fund, LedgerEntry
from .money import to_yuan

# Who may read fund figures: those who move the money, approve it, lead or audit.
READERS = (
    Capability.MANAGE_FUNDS,
    Capability.APPROVE_AID,
    Capability.RUN_CAMPAIGNS,
    Capability.READ_AUDIT,
)
# What a figure of the fund view is, as a bucket of the ledger or their sum.
MEASURES = ("total", *BUCKETS)
# Per month: new commitments (net of releases) and payments (net of reversals).
MONTHLY = {
    "committed": ((LedgerKind.COMMIT,), (LedgerKind.RELEASE,)),
    "paid": ((LedgerKind.PAY,), (LedgerKind.REVERSE,)),
}


def may_read(user: User) -> bool:
    return any(user.can(capability) for capability in READERS)


def require_reader(user: User) -> None:
    if not may_read(user):
        raise NotAllowed(_("Your role does not allow this."))


def visible_funds(user: User) -> QuerySet[Fund]:
    """Funds managed in the user's subtree, and funds with a budget in it: a county sees
    the province's fund that pays its help, through the same ``for_user`` scoping."""
    budgets = Budget.objects.for_user(user).values("fund_id")
    return Fund.objects.filter(
        Q(pk__in=Fund.objects.for_user(user).values("pk")) | Q(pk__in=budgets)
    ).select_related("organisation")


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` to one decimal, exact (no binary fractions)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """Fen in each bucket of the ledger for a budget or a subtree."""

    available: int = 0
    committed: int = 0
    paid: int = 0

    @classmethod
    def of(cls, row: dict[str, Any]) -> Figures:
        return cls(row["available"], row["committed"], row["paid"])

    @property
    def total(self) -> int:
        return self.available + self.committed + self.paid

    @property
    def execution_rate(self) -> Decimal | None:
        """Paid as a percentage of the total."""
        return percent(self.paid, self.total)

    def get(self, measure: str) -> int:
        return int(getattr(self, measure))

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.available + other.available,
            self.committed + other.committed,
            self.paid + other.paid,
        )


@dataclass
class Row:
    """One line of the view: the organisation's own budget, or a whole child subtree."""

    organisation: Organisation
    own: bool
    figures: Figures
    deeper: bool  # there are budgets further down: the row can be drilled into


@dataclass
class Month:
    year: int
    month: int
    committed: int = 0
    paid: int = 0

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"


@dataclass
class FundView:
    fund: Fund
    year: int
    organisation: Organisation
    rows: list[Row]
    months: list[Month]
    path: list[Organisation] = field(default_factory=list)  # from the user's organisation

    @property
    def total(self) -> Figures:
        return sum((row.figures for row in self.rows), Figures())

    def chart(self) -> dict[str, Any]:
        """The data for the chart, amounts as yuan strings (the browser only draws them)."""
        return {
            "months": [m.label for m in self.months],
            "paid": [str(to_yuan(m.paid)) for m in self.months],
            "committed": [str(to_yuan(m.committed)) for m in self.months],
            "labels": {"paid": _("Paid"), "committed": _("Committed")},
        }


def subtree_entries(
    user: User, fund: Fund, year: int, organisation: Organisation
) -> QuerySet[LedgerEntry]:
    """The fund's entries for the year on budgets in ``organisation``'s subtree, scoped."""
    return (
        LedgerEntry.objects.for_user(user)
        .filter(budget__fund=fund, budget__year=year)
        .filter(organisation.subtree_q("budget__organisation__"))
    )


def check_reach(user: User, organisation: Organisation) -> None:
    require_reader(user)
    if user.organisation is None or not user.organisation.contains(organisation):
        raise NotAllowed(_("This is outside your organisation."))


def fund_view(user: User, fund: Fund, year: int, organisation: Organisation) -> FundView:
    """Budget, committed, paid and execution rate of ``organisation``'s own budget and of
    each child subtree (one level down), and the year's commitments and payments by month."""
    check_reach(user, organisation)
    entries = subtree_entries(user, fund, year, organisation)
    # The path of the child each entry's organisation lies under (or the organisation's
    # own path): the materialised path's first len+1 segments, computed in SQL.
    width = len(organisation.path) + PATH_SEGMENT + 1
    grouped = list(
        entries.annotate(node=Substr("budget__organisation__path", 1, width))
        .values("node")
        .annotate(deepest=Max("budget__organisation__depth"), **balance_annotations())
        .order_by("node")
    )
    orgs = Organisation.objects.in_bulk([r["node"] for r in grouped], field_name="path")
    rows = [
        Row(
            organisation=orgs[r["node"]],
            own=r["node"] == organisation.path,
            figures=Figures.of(r),
            deeper=r["deepest"] > orgs[r["node"]].depth,
        )
        for r in grouped
    ]
    path = [o for o in organisation.ancestors() if user.organisation.contains(o)]  # type: ignore[union-attr]
    return FundView(fund, year, organisation, rows, months_of(entries, year), path)


def signed(kinds_plus: Iterable[str], kinds_minus: Iterable[str]) -> Coalesce:
    amount = Case(
        When(kind__in=list(kinds_plus), then=models.F("amount_fen")),
        When(kind__in=list(kinds_minus), then=-models.F("amount_fen")),
        default=Value(0),
        output_field=models.BigIntegerField(),
    )
    return Coalesce(Sum(amount), Value(0), output_field=models.BigIntegerField())


def months_of(entries: QuerySet[LedgerEntry], year: int) -> list[Month]:
    """Every month of the year, and any month outside it in which money of the year's
    budgets moved (a December approval paid in January)."""
    found = {
        (r["y"], r["m"]): Month(r["y"], r["m"], r["committed"], r["paid"])
        for r in entries.annotate(y=ExtractYear("at"), m=ExtractMonth("at"))
        .values("y", "m")
        .annotate(**{name: signed(*kinds) for name, kinds in MONTHLY.items()})
        .order_by()
    }
    for month in range(1, 13):
        found.setdefault((year, month), Month(year, month))
    return [found[key] for key in sorted(found)]


# --- budgets ------------------------------------------------------------------------------


@dataclass
class BudgetRow:
    budget: Budget
    depth: int  # below the top of the tree shown
    figures: Figures


def budget_tree(user: User, fund: Fund, year: int) -> list[BudgetRow]:
    """The fund's budgets for the year in the user's subtree, in tree order, with their
    balances: two queries whatever the number of budgets."""
    require_reader(user)
    budgets = list(
        Budget.objects.for_user(user)
        .filter(fund=fund, year=year)
        .select_related("organisation")
        .order_by("organisation__path")
    )
    found = balances(b.pk for b in budgets)
    top = min((b.organisation.depth for b in budgets), default=0)
    return [
        BudgetRow(b, b.organisation.depth - top, Figures(*astuple(found[b.pk]))) for b in budgets
    ]


@dataclass
class KindTotal:
    kind: str
    count: int
    amount_fen: int
    signs: tuple[int, int, int]


@dataclass
class Reconciliation:
    """An auditor's check of one budget: its entries summed per kind and folded with the
    effect of each kind, independently of the SQL that computes balances."""

    kinds: list[KindTotal]
    rebuilt: Figures
    balance: Figures

    @property
    def reconciles(self) -> bool:
        return self.rebuilt == self.balance


def reconcile(budget: Budget) -> Reconciliation:
    rows = (
        LedgerEntry.objects.filter(budget=budget)
        .values("kind")
        .annotate(count=Count("id"), amount=Sum("amount_fen"))
        .order_by("kind")
    )
    kinds = [KindTotal(r["kind"], r["count"], r["amount"], EFFECTS[r["kind"]]) for r in rows]
    folded = Balance()
    for total in kinds:
        folded = folded.add(total.kind, total.amount_fen)
    return Reconciliation(
        kinds, Figures(*astuple(folded)), Figures(*astuple(balances([budget.pk])[budget.pk]))
    )


# --- drill-down ---------------------------------------------------------------------------


def effect(kind: str, measure: str) -> int:
    """The sign with which an entry of ``kind`` counts in a figure (0: not at all)."""
    signs = EFFECTS[kind]
    if measure == "total":
        return sum(signs)
    return signs[BUCKETS.index(measure)]


def entries_behind(
    user: User,
    fund: Fund,
    year: int,
    organisation: Organisation,
    measure: str,
    month: tuple[int, int] | None = None,
    own: bool = False,
) -> QuerySet[LedgerEntry]:
    """The entries that make up one figure of the view, each with its ``signed`` amount
    (its effect on the figure): their sum is the figure. ``own``: the organisation's own
    budget only, not its subtree."""
    check_reach(user, organisation)
    if measure not in MEASURES:
        raise DomainError(_("Unknown figure."), field="measure")
    plus = [k for k in EFFECTS if effect(k, measure) > 0]
    minus = [k for k in EFFECTS if effect(k, measure) < 0]
    entries = subtree_entries(user, fund, year, organisation).filter(kind__in=plus + minus)
    if month is not None:
        entries = entries.filter(at__year=month[0], at__month=month[1])
    if own:
        entries = entries.filter(budget__organisation=organisation)
    sign = Case(
        When(kind__in=minus, then=-models.F("amount_fen")),
        default=models.F("amount_fen"),
        output_field=models.BigIntegerField(),
    )
    return entries.annotate(signed=sign).order_by("at", "id")


def parse_month(text: str) -> tuple[int, int] | None:
    """``"2026-03"`` -> (2026, 3); blank -> None."""
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(f"{text}-01")
    except ValueError:
        raise DomainError(_("A month is written like 2026-03."), field="month") from None
    return day.year, day.month


# --- export -------------------------------------------------------------------------------

YUAN_FORMAT = "#,##0.00"


def fund_view_xlsx(user: User, view: FundView, source: str) -> tuple[str, bytes]:
    """The view as a workbook (by organisation, by month), logged as an export."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("By organisation")[:31]
    sheet.append([view.fund.code, view.fund.name, view.year, view.organisation.name])
    sheet.append(
        [_("Organisation"), _("Budget"), _("Committed"), _("Paid"), _("Available"), _("Rate %")]
    )
    for row in [*view.rows, None]:
        name = _("Total") if row is None else _row_name(row)
        figures = view.total if row is None else row.figures
        sheet.append([name, *_yuan_cells(figures), figures.execution_rate])
    months = book.create_sheet(_("By month")[:31])
    months.append([_("Month"), _("Committed"), _("Paid")])
    for month in view.months:
        months.append([month.label, to_yuan(month.committed), to_yuan(month.paid)])
    for ws, columns in ((sheet, "BCDE"), (months, "BC")):
        for column in columns:
            for cell in ws[column][1:]:
                cell.number_format = YUAN_FORMAT
    out = io.BytesIO()
    book.save(out)
    filters = {"fund": view.fund.code, "year": view.year, "organisation": view.organisation.pk}
    log_export(user, "assistance.fundview", len(view.rows), filters, source)
    name = f"{view.fund.code}-{view.year}-{view.organisation.pk}.xlsx"
    return name, out.getvalue()


def _row_name(row: Row) -> str:
    if row.own:
        return _("%(org)s (own budget)") % {"org": row.organisation.name}
    return row.organisation.name


def _yuan_cells(figures: Figures) -> list[Decimal]:
    return [
        to_yuan(figures.total),
        to_yuan(figures.committed),
        to_yuan(figures.paid),
        to_yuan(figures.available),
    ]
