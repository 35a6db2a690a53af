"""From approval to payment: payment batches, the bank file, the bank's result.

Everything here is set-based so that a batch of a hundred thousand lines takes a handful of
statements: payments are copied from the lines with INSERT … SELECT, lines move with one
UPDATE each way, ledger entries and their audit records are written with INSERT … SELECT,
and a bank result is staged in a temporary table and applied with one UPDATE.

Nothing is ever paid twice: a line has at most one payment that is pending or paid (the
``one_live_payment_per_line`` constraint), only approved lines (and failed ones whose card
has since been fixed) enter a batch, and a result file applies only to pending payments.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    CharField,
    Count,
    DateField,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import JSONArray, JSONObject
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.bulk import insert_select, record_rows
from gonghui.audit.context import current_source
from gonghui.audit.models import AuditAction, log_export
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.organisations.models import Organisation
from gonghui.supervision import followups

from . import bankfiles
from .accounts import same_name, tidy_card
from .choices import AidKind, BatchStatus, LedgerKind, LineStatus, PaymentStatus
from .funds import require, require_within
from .ledger import audit_ledger_entries
from .models import AssistanceLine, BankAccount, Fund, LedgerEntry, Payment, PaymentBatch
from .money import format_fen, parse_yuan, to_fen, to_yuan


def today() -> datetime.date:
    return timezone.localdate()


# --- the queue of help waiting to be paid -----------------------------------------------


def active_card(worker: OuterRef | None = None) -> QuerySet[BankAccount]:
    """The card in use of the line's recipient, for a correlated subquery (``worker``
    reaches the line from a subquery nested deeper)."""
    # No ORDER BY: at most one card is in use (a partial unique index), and ORDER BY …
    # LIMIT 1 may lead PostgreSQL to walk the primary key backwards for every line.
    cards = BankAccount.objects.filter(worker_id=worker or OuterRef("worker_id"), active=True)
    return cards.order_by()


def waiting_lines(user: User, fund: Fund, organisation: Organisation) -> QuerySet[AssistanceLine]:
    """Cash lines of the fund under ``organisation`` that are to be paid: approved ones, and
    failed ones (whatever their card)."""
    return AssistanceLine.objects.for_user(user).filter(
        organisation.subtree_q("organisation__"),
        status__in=[LineStatus.APPROVED, LineStatus.FAILED],
        fund=fund,
        cash=True,
        amount_fen__gt=0,
        budget__isnull=False,
    )


def card_fixed_since_failure() -> Q:
    """A failed line may be sent again once its recipient has a card recorded after the
    batch that failed (a new card, or the same one confirmed by the case worker)."""
    failed_since_card = Payment.objects.filter(
        line_id=OuterRef("pk"),
        status=PaymentStatus.FAILED,
        batch__created_at__gte=Subquery(
            active_card(OuterRef(OuterRef("worker_id"))).values("created_at")[:1]
        ),
    )
    return Q(status=LineStatus.APPROVED) | Q(~Exists(failed_since_card))


def failed_lines(user: User) -> QuerySet[AssistanceLine]:
    """Help the bank could not pay, with the reason: the case worker fixes the card (the
    next batch picks the line up) or cancels the line (its money goes back to the budget)."""
    if not (user.can(Capability.PLAN_AID) or user.can(Capability.MANAGE_FUNDS)):
        raise NotAllowed(_("Your role does not allow this."))
    return (
        AssistanceLine.objects.for_user(user)
        .filter(status=LineStatus.FAILED)
        .select_related("worker", "fund", "organisation")
        .order_by("id")
    )


# --- batches ------------------------------------------------------------------------------


@dataclass
class Batched:
    batch: PaymentBatch
    count: int
    total_fen: int
    without_card: int  # lines left out: their recipient has no card in use
    waiting_for_card: int  # failed lines left out: no new card since they failed

    def notes(self) -> list[str]:
        return left_out(self.without_card, self.waiting_for_card)


def left_out(without_card: int, waiting_for_card: int) -> list[str]:
    """What a batch left out and why, in words."""
    notes = []
    if without_card:
        notes.append(
            ngettext(
                "%(count)d line has no bank card.",
                "%(count)d lines have no bank card.",
                without_card,
            )
            % {"count": without_card}
        )
    if waiting_for_card:
        notes.append(
            ngettext(
                "%(count)d failed line waits for its card to be fixed.",
                "%(count)d failed lines wait for their card to be fixed.",
                waiting_for_card,
            )
            % {"count": waiting_for_card}
        )
    return notes


def batch_number(now: datetime.datetime) -> str:
    return f"PB{timezone.localtime(now):%Y%m%d%H%M%S%f}"


def create_batch(user: User, fund: Fund, organisation: Organisation | None = None) -> Batched:
    """Put every line of the fund that is ready to be paid under ``organisation`` (the
    user's by default) into a new batch, one payment each to the recipient's card."""
    require(user, Capability.MANAGE_FUNDS)
    organisation = organisation or user.organisation
    if organisation is None:
        raise NotAllowed(_("Your account belongs to no organisation."))
    require_within(user, organisation)
    now = timezone.now()
    try:
        with transaction.atomic():
            # One batch at a time per fund: a double click waits, then finds nothing left.
            list(Fund.objects.select_for_update().filter(pk=fund.pk).values_list("pk"))
            waiting = waiting_lines(user, fund, organisation)
            ready = waiting.filter(card_fixed_since_failure())
            counts = ready.aggregate(
                lines=Count("pk"), with_card=Count("pk", filter=Exists(active_card()))
            )
            without_card = counts["lines"] - counts["with_card"]
            waiting_for_card = waiting.exclude(card_fixed_since_failure()).count()
            if not counts["with_card"]:
                nothing = _("No approved help of this fund is ready to be paid.")
                notes = left_out(without_card, waiting_for_card)
                raise DomainError(" ".join([nothing, *notes]), field="fund")
            batch = PaymentBatch.objects.create(
                number=batch_number(now), fund=fund, organisation=organisation, created_by=user
            )
            count = insert_payments(batch, ready)
            move_lines_into(batch, user, now)
            batch.payment_count, batch.total_fen = count, batch_total(batch)
            batch.save()
    except IntegrityError:
        raise Conflict(
            _("Some of these lines were put into another batch at the same time; try again.")
        ) from None
    return Batched(batch, count, batch.total_fen, without_card, waiting_for_card)


def insert_payments(batch: PaymentBatch, lines: QuerySet[AssistanceLine]) -> int:
    """One payment per line whose recipient has a card in use: a snapshot of the card."""
    select = (
        lines.annotate(
            card=FilteredRelation(
                "worker__bank_accounts", condition=Q(worker__bank_accounts__active=True)
            ),
            p_batch=Value(batch.pk),
            p_status=Value(PaymentStatus.PENDING),
            p_reason=Value(""),
            p_reference=Value(""),
        )
        .filter(card__id__isnull=False)
        .values(
            "p_batch",
            "id",
            "amount_fen",
            "card__holder_name",
            "card__bank_name",
            "card__account_number",
            "p_status",
            "p_reason",
            "p_reference",
        )
        .order_by("id")
    )
    columns = ["batch_id", "line_id", "amount_fen", "payee_name", "bank_name"]
    columns += ["account_number", "status", "failure_reason", "bank_reference"]
    return insert_select(Payment, columns, select)


def batch_total(batch: PaymentBatch) -> int:
    return Payment.objects.filter(batch=batch).aggregate(s=Sum("amount_fen"))["s"] or 0


def lines_of(payments: QuerySet[Payment]) -> QuerySet[AssistanceLine]:
    return AssistanceLine.objects.filter(pk__in=payments.values("line_id"))


def move_lines_into(batch: PaymentBatch, user: User, now: datetime.datetime) -> None:
    payments = Payment.objects.filter(batch=batch)
    audit_lines(
        payments,
        user,
        now,
        status=JSONArray(F("line__status"), Value(LineStatus.BATCHED)),
        failure_reason=JSONArray(F("line__failure_reason"), Value("")),
    )
    lines_of(payments).update(status=LineStatus.BATCHED, failure_reason="", updated_at=now)


def audit_lines(
    payments: QuerySet[Payment], user: User, now: datetime.datetime, **changes: Any
) -> int:
    """One audit entry per line of ``payments``, written in SQL."""
    return record_rows(
        payments,
        model=AssistanceLine,
        action=AuditAction.UPDATE,
        at=now,
        actor=user.pk,
        source=current_source(),
        object_id="line_id",
        org_path="line__organisation__path",
        file_id="line__file_id",
        changes=JSONObject(**changes),
    )


def scoped_batch(user: User, batch: PaymentBatch) -> PaymentBatch:
    require(user, Capability.MANAGE_FUNDS)
    found = PaymentBatch.objects.for_user(user).filter(pk=batch.pk).first()
    if found is None:
        raise NotAllowed(_("This is outside your organisation."))
    return found


# --- the bank file ---------------------------------------------------------------------------

CONTENT_TYPES = {"csv": "text/csv", "xlsx": bankfiles.XLSX_TYPE}


def purposes() -> dict[str, str]:
    """What each kind of aid is called in the bank file (用途), in Chinese whatever the
    language of the person exporting: the file is for a Chinese bank."""
    with translation.override(settings.LANGUAGE_CODE):
        return {kind.value: str(kind.label) for kind in AidKind}


def export_rows(batch: PaymentBatch) -> list[list[str]]:
    named = purposes()
    rows = (
        Payment.objects.filter(batch=batch, status=PaymentStatus.PENDING)
        .order_by("id")
        .values_list("id", "payee_name", "bank_name", "account_number", "amount_fen", "line__kind")
    )
    return [
        [str(n), str(pk), name, bank, card, str(to_yuan(fen)), named.get(kind, kind), batch.number]
        for n, (pk, name, bank, card, fen, kind) in enumerate(rows.iterator(2000), start=1)
    ]


def export_batch(
    user: User, batch: PaymentBatch, fmt: str, *, encoding: str = "gb18030"
) -> tuple[str, bytes, str]:
    """The bank file of the payments still pending: (filename, content, content type).
    It carries whole card numbers, for the bank: the export is logged."""
    batch = scoped_batch(user, batch)
    if fmt not in CONTENT_TYPES:
        raise DomainError(_("Choose CSV or XLSX."), field="fmt")
    rows = export_rows(batch)
    if not rows:
        raise DomainError(_("Nothing in this batch is waiting to be paid."), field="batch")
    if fmt == "csv":
        data = bankfiles.write_csv(rows, encoding)
    else:
        data = bankfiles.write_xlsx(rows, batch.number)
    with transaction.atomic():
        log_export(
            user,
            Payment._meta.label_lower,
            len(rows),
            {"batch": batch.number, "format": fmt},
            current_source(),
        )
        if batch.status == BatchStatus.OPEN:
            batch.status = BatchStatus.EXPORTED
            batch.exported_at = timezone.now()
            batch.save()
    content_type = CONTENT_TYPES[fmt]
    if fmt == "csv":
        content_type += f"; charset={encoding.removesuffix('-sig')}"
    return f"{batch.number}.{fmt}", data, content_type


# --- the bank's result -------------------------------------------------------------------------


@dataclass
class ImportReport:
    rows: int = 0
    paid: int = 0
    failed: int = 0
    unchanged: int = 0  # already settled by an earlier file
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row in the file, why)
    already_imported: bool = False  # this very file was applied before: nothing changed


@dataclass(frozen=True)
class Outcome:
    payment_id: int
    line_id: int
    status: str
    reason: str
    reference: str
    settled_on: datetime.date


@dataclass(frozen=True)
class Known:
    """What the batch says about one payment, to check a result row against."""

    line_id: int
    status: str
    card: str
    amount_fen: int
    name: str


def known_payments(batch: PaymentBatch) -> dict[int, Known]:
    rows = Payment.objects.filter(batch=batch).values_list(
        "pk", "line_id", "status", "account_number", "amount_fen", "payee_name"
    )
    return {pk: Known(*rest) for pk, *rest in rows.order_by().iterator(5000)}


def check_row(row: bankfiles.ResultRow, batch: PaymentBatch, known: dict[int, Known]) -> str:
    """Why ``row`` cannot be applied to a payment of ``batch``, or "" if it can."""
    payment_id = bankfiles.parse_id(row.payment_id)
    if payment_id is None:
        return _("payment id %(id)s is not a number") % {"id": repr(row.payment_id)}
    payment = known.get(payment_id)
    if payment is None:
        return _("payment id %(id)s is not in batch %(batch)s") % {
            "id": payment_id,
            "batch": batch.number,
        }
    if tidy_card(row.card) != payment.card:
        return _("card number %(card)s does not match payment %(id)s") % {
            "card": row.card,
            "id": payment_id,
        }
    try:
        amount_fen = to_fen(parse_yuan(row.amount))
    except ValueError:
        return _("amount %(amount)s is not an amount of money") % {"amount": repr(row.amount)}
    if amount_fen != payment.amount_fen:
        return _("amount %(amount)s does not match payment %(id)s (%(expected)s)") % {
            "amount": row.amount,
            "id": payment_id,
            "expected": format_fen(payment.amount_fen),
        }
    if not same_name(row.name, payment.name):
        return _("name %(name)s does not match payment %(id)s") % {
            "name": row.name,
            "id": payment_id,
        }
    if bankfiles.outcome(row.status) is None:
        return _("status %(status)s is neither success nor failure") % {"status": repr(row.status)}
    if row.date and bankfiles.parse_date(row.date) is None:
        return _("date %(date)s is not a date") % {"date": repr(row.date)}
    return ""


def match_rows(
    rows: Sequence[bankfiles.ResultRow], batch: PaymentBatch, report: ImportReport
) -> list[Outcome]:
    """Check every row; what can be applied, once per payment, to payments still pending."""
    known = known_payments(batch)
    settled_on = today()
    seen: dict[int, int] = {}
    outcomes = []
    for row in rows:
        reason = check_row(row, batch, known)
        payment_id = bankfiles.parse_id(row.payment_id) or 0
        if not reason and payment_id in seen:
            reason = _("payment %(id)s is already in row %(row)s") % {
                "id": payment_id,
                "row": seen[payment_id],
            }
        if reason:
            report.rejected.append((row.number, reason))
            continue
        seen[payment_id] = row.number
        if known[payment_id].status != PaymentStatus.PENDING:
            report.unchanged += 1
            continue
        status = bankfiles.outcome(row.status)
        assert status is not None
        reason = row.reason or ("" if status == PaymentStatus.PAID else _("No reason given."))
        outcomes.append(
            Outcome(
                payment_id,
                known[payment_id].line_id,
                status,
                reason[:255] if status == PaymentStatus.FAILED else "",
                row.reference[:64],
                bankfiles.parse_date(row.date) or settled_on,
            )
        )
    return outcomes


def import_result(user: User, batch: PaymentBatch, filename: str, data: bytes) -> ImportReport:
    """Apply the bank's result file: each row that matches a pending payment of this batch
    (payment id, card, amount and name) marks it paid or failed; the others are rejected
    with the reason. All of it in one transaction; the same file twice changes nothing."""
    batch = scoped_batch(user, batch)
    if batch.status == BatchStatus.OPEN:
        raise DomainError(_("Export the bank file of this batch first."), field="batch")
    rows = bankfiles.read_result(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    report = ImportReport(rows=len(rows))
    now = timezone.now()
    with transaction.atomic():
        locked = PaymentBatch.objects.select_for_update().get(pk=batch.pk)
        outcomes = match_rows(rows, locked, report)
        if digest in locked.result_digests:
            report.already_imported = True
            report.unchanged += len(outcomes)
            return report
        if outcomes:
            apply_outcomes(locked, outcomes, user, now)
        report.paid = sum(1 for o in outcomes if o.status == PaymentStatus.PAID)
        report.failed = len(outcomes) - report.paid
        locked.result_digests = [*locked.result_digests, digest]
        if not Payment.objects.filter(batch=locked, status=PaymentStatus.PENDING).exists():
            locked.status = BatchStatus.SETTLED
            locked.settled_at = now
        locked.save()
    return report


STAGE = "gonghui_bank_result"


def apply_outcomes(
    batch: PaymentBatch, outcomes: Sequence[Outcome], user: User, now: datetime.datetime
) -> None:
    with staged(outcomes):
        settle_payments()
        paid = staged_payments(batch, PaymentStatus.PAID)
        failed = staged_payments(batch, PaymentStatus.FAILED)
        pay_in_ledger(paid, batch, user, now)
        audit_lines(
            paid,
            user,
            now,
            status=JSONArray(Value(LineStatus.BATCHED), Value(LineStatus.PAID)),
            paid_on=JSONArray(Value(None, output_field=CharField()), F("settled_on")),
        )
        audit_lines(
            failed,
            user,
            now,
            status=JSONArray(Value(LineStatus.BATCHED), Value(LineStatus.FAILED)),
            failure_reason=JSONArray(Value(""), F("failure_reason")),
        )
        lines_staged(PaymentStatus.PAID).update(
            status=LineStatus.PAID, paid_on=from_stage("settled_on", DateField()), updated_at=now
        )
        lines_staged(PaymentStatus.FAILED).update(
            status=LineStatus.FAILED,
            failure_reason=from_stage("reason", CharField()),
            updated_at=now,
        )
        followups.after_payment(batch, user, now)  # one follow-up per paid filed household


def lines_staged(outcome: str) -> QuerySet[AssistanceLine]:
    staged_ids = RawSQL(f"SELECT line_id FROM {STAGE} WHERE outcome = %s", (outcome,))
    return AssistanceLine.objects.filter(pk__in=staged_ids)


def from_stage(column: str, output_field: Any) -> RawSQL:
    """The staged value of the line being updated (one staged row per line)."""
    table = connection.ops.quote_name(AssistanceLine._meta.db_table)
    return RawSQL(
        f"SELECT s.{column} FROM {STAGE} s WHERE s.line_id = {table}.id",
        (),
        output_field=output_field,
    )


@contextmanager
def staged(outcomes: Iterable[Outcome]) -> Iterator[None]:
    """The outcomes in a temporary table (COPY on PostgreSQL), dropped on the way out."""
    rows = [
        (o.payment_id, o.line_id, o.status, o.reason, o.reference, o.settled_on.isoformat())
        for o in outcomes
    ]
    columns = "payment_id, line_id, outcome, reason, reference, settled_on"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE} (payment_id bigint PRIMARY KEY, "
            "line_id bigint NOT NULL UNIQUE, "
            "outcome varchar(8) NOT NULL, reason varchar(255) NOT NULL, "
            "reference varchar(64) NOT NULL, settled_on date NOT NULL)"
        )
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            # A fresh table has no statistics: without them the planner guesses its size.
            cursor.execute(f"ANALYZE {STAGE}")
        else:
            cursor.executemany(
                f"INSERT INTO {STAGE} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)", rows
            )
    yield
    # Not reached on an error: the rollback of the whole import removes the table.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {STAGE}")


def settle_payments() -> None:
    """Pending payments take the outcome, reason, reference and date of their staged row."""
    table = connection.ops.quote_name(Payment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "
            "(status, failure_reason, bank_reference, settled_on) = ("
            f"SELECT s.outcome, s.reason, s.reference, s.settled_on FROM {STAGE} s "
            f"WHERE s.payment_id = {table}.id) "
            f"WHERE id IN (SELECT payment_id FROM {STAGE}) AND status = %s",
            [PaymentStatus.PENDING],
        )


def staged_payments(batch: PaymentBatch, status: str) -> QuerySet[Payment]:
    staged_ids = RawSQL(f"SELECT payment_id FROM {STAGE} WHERE outcome = %s", (status,))
    return Payment.objects.filter(batch=batch, pk__in=staged_ids)


def pay_in_ledger(
    paid: QuerySet[Payment], batch: PaymentBatch, user: User, now: datetime.datetime
) -> None:
    """A PAY entry (committed → paid) per payment, and its audit record."""
    select = paid.annotate(
        e_kind=Value(LedgerKind.PAY),
        e_at=Value(now),
        e_actor=Value(user.pk),
        e_source=Value(current_source()),
        e_memo=Value(batch.number),
    ).values(
        "line__budget_id",
        "e_kind",
        "amount_fen",
        "e_at",
        "e_actor",
        "e_source",
        "line_id",
        "id",
        "e_memo",
    )
    columns = ["budget_id", "kind", "amount_fen", "at", "actor_id", "source", "line_id"]
    insert_select(LedgerEntry, [*columns, "payment_id", "memo"], select.order_by())
    audit_ledger_entries(
        LedgerEntry.objects.filter(kind=LedgerKind.PAY, at=now, payment__batch=batch)
    )


# --- a payment the bank sends back after it was paid -----------------------------------


def reverse_payment(user: User, payment: Payment, reason: str) -> Payment:
    """The bank returns money it had paid (退票: a closed card, a wrong name found later):
    the payment fails, its money moves back from paid to committed in the ledger, and the
    line goes back to the failed queue, to be paid again once the card is fixed or
    cancelled (which releases the money)."""
    from gonghui.audit.models import record

    from .ledger import lock_budgets, post

    require(user, Capability.MANAGE_FUNDS)
    reason = reason.strip()
    if not reason:
        raise DomainError(_("Give the reason the bank returned the money."), field="reason")
    with transaction.atomic():
        locked = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("batch__organisation", "line__budget__organisation")
            .get(pk=payment.pk)
        )
        require_within(user, locked.batch.organisation)
        if locked.status != PaymentStatus.PAID:
            raise Conflict(
                _("Only a paid payment can be reversed; this one is %(status)s.")
                % {"status": PaymentStatus(locked.status).label}
            )
        line = locked.line
        if line.budget is None:  # pragma: no cover - a paid line always has its budget
            raise DomainError(_("No budget covers these lines."), field="budget")
        lock_budgets([line.budget.pk])
        post(
            line.budget,
            LedgerKind.REVERSE,
            locked.amount_fen,
            line=line,
            payment=locked,
            memo=reason[:255],
        )
        locked.status = PaymentStatus.FAILED
        locked.failure_reason = reason[:255]
        locked.save(update_fields=["status", "failure_reason"])
        record(
            locked,
            AuditAction.UPDATE,
            {"status": [PaymentStatus.PAID, PaymentStatus.FAILED], "failure_reason": ["", reason]},
        )
        line.status = LineStatus.FAILED
        line.failure_reason = reason[:255]
        line.paid_on = None
        line.save()
    return locked
