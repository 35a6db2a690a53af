"""The ledger: what each kind of entry does to a budget, balances derived by summing, and
posting entries (one at a time, or set-based for batches).

A budget has three buckets of money: *available* (may still be committed or allocated),
*committed* (approved help not yet paid) and *paid*. Its total, what it received, is
their sum. Every entry moves a positive amount between buckets, in or out of the budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Case, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.audit.bulk import record_rows
from gonghui.audit.context import current_actor, current_source
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.errors import DomainError

from .choices import LedgerKind
from .models import Budget, LedgerEntry
from .money import format_fen

# (available, committed, paid): the sign each kind applies to its amount in each bucket.
EFFECTS: dict[str, tuple[int, int, int]] = {
    LedgerKind.GRANT: (1, 0, 0),
    LedgerKind.ALLOCATE_OUT: (-1, 0, 0),
    LedgerKind.ALLOCATE_IN: (1, 0, 0),
    LedgerKind.RETURN_OUT: (-1, 0, 0),
    LedgerKind.RETURN_IN: (1, 0, 0),
    LedgerKind.COMMIT: (-1, 1, 0),
    LedgerKind.RELEASE: (1, -1, 0),
    LedgerKind.PAY: (0, -1, 1),
    LedgerKind.REVERSE: (0, 1, -1),
}
BUCKETS = ("available", "committed", "paid")


@dataclass(frozen=True)
class Balance:
    available: int = 0
    committed: int = 0
    paid: int = 0

    @property
    def total(self) -> int:
        """What the budget has received, net of what it passed on or returned."""
        return self.available + self.committed + self.paid

    @property
    def execution_rate(self) -> float | None:
        """Share of the budget paid out: a ratio for display, never used for money."""
        return self.paid / self.total if self.total else None

    def add(self, kind: str, amount_fen: int) -> Balance:
        a, c, p = EFFECTS[kind]
        return Balance(
            self.available + a * amount_fen,
            self.committed + c * amount_fen,
            self.paid + p * amount_fen,
        )


def bucket_sum(bucket: int, prefix: str = "") -> Coalesce:
    """SUM over entries of the signed amount for one bucket, as one SQL expression."""
    kind, amount = f"{prefix}kind", f"{prefix}amount_fen"
    plus = [k for k, signs in EFFECTS.items() if signs[bucket] > 0]
    minus = [k for k, signs in EFFECTS.items() if signs[bucket] < 0]
    signed = Case(
        When(**{f"{kind}__in": plus}, then=models.F(amount)),
        When(**{f"{kind}__in": minus}, then=-models.F(amount)),
        default=Value(0),
        output_field=models.BigIntegerField(),
    )
    return Coalesce(Sum(signed), Value(0), output_field=models.BigIntegerField())


def balance_annotations(prefix: str = "") -> dict[str, Coalesce]:
    return {name: bucket_sum(i, prefix) for i, name in enumerate(BUCKETS)}


def balances(budget_ids: Iterable[int]) -> dict[int, Balance]:
    """Balances of many budgets in one grouped query; budgets without entries are zero."""
    ids = list(budget_ids)
    rows = (
        LedgerEntry.objects.filter(budget_id__in=ids)
        .values("budget_id")
        .annotate(**balance_annotations())
        .order_by()
    )
    found = {r["budget_id"]: Balance(r["available"], r["committed"], r["paid"]) for r in rows}
    return {budget_id: found.get(budget_id, Balance()) for budget_id in ids}


def balance_of(budget: Budget) -> Balance:
    return balances([budget.pk])[budget.pk]


def rebuild(entries: Iterable[LedgerEntry]) -> Balance:
    """An auditor's check: fold the entries one by one in Python, independent of SQL."""
    result = Balance()
    for entry in entries:
        result = result.add(entry.kind, entry.amount_fen)
    return result


def lock_budgets(budget_ids: Iterable[int]) -> None:
    """Lock budget rows in id order (so two transactions cannot deadlock) until commit;
    whoever holds the lock sees balances no one else can change."""
    list(
        Budget.objects.select_for_update(of=("self",))
        .filter(pk__in=sorted(set(budget_ids)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def require_available(budget: Budget, balance: Balance, amount_fen: int) -> None:
    if amount_fen > balance.available:
        raise DomainError(
            _("The budget %(budget)s has %(left)s yuan left, less than %(asked)s yuan.")
            % {
                "budget": budget,
                "left": format_fen(balance.available),
                "asked": format_fen(amount_fen),
            },
            field="amount",
        )


def post(budget: Budget, kind: str, amount_fen: int, **links: Any) -> LedgerEntry:
    """Append one entry and its audit record. Call inside a transaction holding the
    budget's lock when the entry takes money out of *available*."""
    if amount_fen <= 0:
        raise DomainError(_("An amount must be more than zero."), field="amount")
    entry = LedgerEntry.objects.create(
        budget=budget,
        kind=kind,
        amount_fen=amount_fen,
        at=timezone.now(),
        actor=current_actor(),
        source=current_source(),
        **links,
    )
    AuditEntry.objects.create(
        actor=entry.actor,
        source=entry.source,
        action=AuditAction.CREATE,
        model=LedgerEntry._meta.label_lower,
        object_id=str(entry.pk),
        org_path=budget.organisation.path,
        file_id=entry.line.file_id if entry.line is not None else None,
        changes=entry_changes(entry),
    )
    return entry


def entry_changes(entry: LedgerEntry) -> dict[str, list[Any]]:
    return {
        "budget_id": [None, entry.budget_id],
        "kind": [None, entry.kind],
        "amount_fen": [None, entry.amount_fen],
        "line_id": [None, entry.line_id],
        "payment_id": [None, entry.payment_id],
        "counterpart_id": [None, entry.counterpart_id],
        "memo": [None, entry.memo],
    }


# --- set-based writing ---------------------------------------------------------------


def audit_ledger_entries(entries: models.QuerySet[LedgerEntry]) -> int:
    """One audit record per entry, as :func:`post` writes them one by one, in a single
    INSERT … SELECT: for entries that were themselves written set-based."""
    from django.db.models import CharField, F
    from django.db.models.functions import JSONArray, JSONObject

    def before_after(field: str) -> JSONArray:
        return JSONArray(Value(None, output_field=CharField()), F(field))

    changes = JSONObject(
        budget_id=before_after("budget_id"),
        kind=before_after("kind"),
        amount_fen=before_after("amount_fen"),
        line_id=before_after("line_id"),
        payment_id=before_after("payment_id"),
        counterpart_id=before_after("counterpart_id"),
        memo=before_after("memo"),
    )
    return record_rows(
        entries,
        model=LedgerEntry,
        action=AuditAction.CREATE,
        at=F("at"),
        actor=F("actor_id"),
        source=F("source"),
        object_id="id",
        org_path="budget__organisation__path",
        file_id="line__file_id",
        changes=changes,
    )
