"""Follow-ups (回访): scheduled after each payment, after exit, at review time and by hand;
each has a due date, an owner and an outcome (done, or could not reach, with notes).

A follow-up is a :class:`~gonghui.hardship.models.FollowUp`; its
:class:`~gonghui.supervision.models.FollowUpPlan` says why it was scheduled and what for.
Follow-ups scheduled by an exit (``hardship.services.exit_file``) have no plan: they read as
"after exit".

After a payment batch is settled, :func:`after_payment` schedules one follow-up per filed
household paid in the batch — one per file and batch, whatever the number of lines — in
two INSERT … SELECT statements with their audit rows written the same way.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import DateField, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value
from django.db.models.functions import JSONArray, JSONObject
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.bulk import insert_select, record_rows
from gonghui.audit.context import current_source
from gonghui.audit.models import AuditAction
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.choices import EventKind, FileStatus, FollowUpStatus
from gonghui.hardship.models import FileEvent, FollowUp, HardshipFile, PeriodicReview
from gonghui.hardship.services import add_months

from .models import FollowUpPlan, FollowUpReason

# A paid household is called a month after the money left: did the help arrive, what changed.
PAYMENT_FOLLOW_UP_MONTHS = 1
PAYMENT_PURPOSE = gettext_lazy("Did the help arrive, and what has changed since?")
REVIEW_PURPOSE = gettext_lazy("The review changed the category: how does the household fare now?")
# Files on which follow-ups are scheduled by hand: filed households and those that left.
SCHEDULABLE = (FileStatus.FILED, FileStatus.CLOSED)
OUTCOMES = (FollowUpStatus.DONE, FollowUpStatus.MISSED)


def today() -> datetime.date:
    return timezone.localdate()


def may_follow_up(user: User) -> bool:
    """Follow-ups are the work of those who manage filed households."""
    return user.can(Capability.MANAGE_FILED)


def _require(user: User) -> None:
    if not may_follow_up(user):
        raise NotAllowed(_("Your role does not allow this."))


# --- reading ------------------------------------------------------------------------------


def visible(user: Any) -> QuerySet[FollowUp]:
    """The follow-ups of the files in the user's subtree (the one scoping rule)."""
    organisation = getattr(user, "organisation", None)
    if not getattr(user, "is_authenticated", False) or organisation is None:
        return FollowUp.objects.none()
    return FollowUp.objects.filter(organisation.subtree_q("file__organisation__"))


def get_visible_or_404(user: Any, pk: int) -> FollowUp:
    found = (
        visible(user)
        .select_related("file__organisation", "file__applicant", "owner", "plan")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


def overdue_q(day: datetime.date, prefix: str = "") -> Q:
    """Overdue: still due, and the due day has passed."""
    return Q(**{f"{prefix}status": FollowUpStatus.DUE, f"{prefix}due_on__lt": day})


def is_overdue(follow_up: FollowUp, day: datetime.date) -> bool:
    return follow_up.status == FollowUpStatus.DUE and follow_up.due_on < day


def plan_of(follow_up: FollowUp) -> FollowUpPlan | None:
    """Why the follow-up was scheduled; None for one scheduled by an exit."""
    try:
        return follow_up.plan  # type: ignore[attr-defined,no-any-return]
    except FollowUpPlan.DoesNotExist:
        return None


def reason_of(follow_up: FollowUp) -> str:
    plan = plan_of(follow_up)
    return plan.reason if plan is not None else FollowUpReason.EXIT


# --- scheduling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Manual:
    file: HardshipFile
    due_on: datetime.date
    owner: User
    purpose: str


def schedule(user: User, wanted: Manual) -> FollowUp:
    """A case worker schedules a follow-up by hand: a due date, an owner, a purpose."""
    _require(user)
    file = wanted.file
    if user.organisation is None or not user.organisation.contains(file.organisation):
        raise NotAllowed(_("This file is outside your organisation."))
    if file.status not in SCHEDULABLE:
        raise DomainError(
            _("Follow-ups are for filed households and those that left the file."), field="file"
        )
    purpose = wanted.purpose.strip()
    if not purpose:
        raise DomainError(_("Say what the follow-up is for."), field="purpose")
    if wanted.due_on < today():
        raise DomainError(_("The due date has passed already."), field="due_on")
    owner = wanted.owner
    owner_org = owner.organisation
    if not (
        owner.is_active
        and may_follow_up(owner)
        and owner_org is not None
        and owner_org.contains(file.organisation)
    ):
        raise DomainError(
            _("The owner must be a case worker or reviewer who can see this file."),
            field="owner",
        )
    with transaction.atomic():
        follow_up = FollowUp.objects.create(file=file, due_on=wanted.due_on, owner=owner)
        FollowUpPlan.objects.create(
            follow_up=follow_up,
            file=file,
            reason=FollowUpReason.MANUAL,
            purpose=purpose[:255],
            created_by=user,
        )
    return follow_up


def after_review(user: User, review: PeriodicReview, interval_months: int) -> FollowUp | None:
    """At review time, when the review changed the household's category: a follow-up
    halfway to the next review (at least a month on), owned by the reviewer, to see how
    the household fares under its new category. A review that changes nothing schedules
    nothing (the next review is the contact)."""
    if review.category == review.previous_category:
        return None
    months = max(1, interval_months // 2)
    follow_up = FollowUp.objects.create(
        file=review.file, due_on=add_months(review.done_on, months), owner=user
    )
    FollowUpPlan.objects.create(
        follow_up=follow_up,
        file=review.file,
        reason=FollowUpReason.REVIEW,
        purpose=str(REVIEW_PURPOSE)[:255],
        review=review,
        created_by=user,
    )
    return follow_up


def paid_files(batch: Any) -> QuerySet[HardshipFile]:
    """The filed households with a paid payment in ``batch`` and no follow-up for it yet."""
    from gonghui.assistance.choices import PaymentStatus
    from gonghui.assistance.models import Payment

    paid = Payment.objects.filter(batch=batch, status=PaymentStatus.PAID, line__file=OuterRef("pk"))
    planned = FollowUpPlan.objects.filter(batch=batch, file=OuterRef("pk"))
    return HardshipFile.objects.filter(Exists(paid), ~Exists(planned), status=FileStatus.FILED)


def after_payment(batch: Any, user: User, now: datetime.datetime) -> int:
    """One follow-up per filed household paid in ``batch`` (not one per line), due a month
    after the result was applied and owned by the case worker who opened the file.
    Set-based, idempotent (a second result file adds only the files it newly paid); call it
    inside the transaction that settles the payments. Returns the follow-ups scheduled."""
    day = timezone.localtime(now).date()
    due = add_months(day, PAYMENT_FOLLOW_UP_MONTHS)
    files = paid_files(batch)
    before = FollowUp.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    rows = files.annotate(
        f_due=Value(due, output_field=DateField()),
        f_status=Value(FollowUpStatus.DUE),
        f_done=Value(None, output_field=DateField()),
        f_outcome=Value(""),
    ).values("pk", "f_due", "created_by_id", "f_status", "f_done", "f_outcome")
    columns = ["file_id", "due_on", "owner_id", "status", "done_on", "outcome"]
    count = insert_select(FollowUp, columns, rows.order_by("pk"))
    if not count:
        return 0
    # The follow-ups just written: newer than any before, for the batch's files, no plan.
    new = FollowUp.objects.filter(
        pk__gt=before,
        due_on=due,
        status=FollowUpStatus.DUE,
        file__in=files.values("pk"),
    ).filter(~Exists(FollowUpPlan.objects.filter(follow_up=OuterRef("pk"))))
    new_ids = list(new.values_list("pk", flat=True))
    created = FollowUp.objects.filter(pk__in=new_ids)
    plans = created.annotate(
        p_reason=Value(FollowUpReason.PAYMENT),
        p_purpose=Value(str(PAYMENT_PURPOSE)[:255]),
        p_batch=Value(batch.pk, output_field=IntegerField()),
        p_review=Value(None, output_field=IntegerField()),
        p_by=Value(user.pk, output_field=IntegerField()),
        p_at=Value(now),
    ).values("pk", "file_id", "p_reason", "p_purpose", "p_batch", "p_review", "p_by", "p_at")
    plan_columns = ["follow_up_id", "file_id", "reason", "purpose", "batch_id", "review_id"]
    insert_select(FollowUpPlan, [*plan_columns, "created_by_id", "created_at"], plans.order_by())
    _audit_created(created, user, now, due)
    return count


def _audit_created(
    created: QuerySet[FollowUp], user: User, now: datetime.datetime, due: datetime.date
) -> None:
    none = Value(None, output_field=IntegerField())
    common: dict[str, Any] = {
        "at": now,
        "actor": user.pk,
        "source": current_source(),
        "file_id": "file_id",
    }
    record_rows(
        created,
        model=FollowUp,
        action=AuditAction.CREATE,
        object_id="pk",
        org_path="file__organisation__path",
        changes=JSONObject(
            file_id=JSONArray(none, F("file_id")),
            due_on=JSONArray(none, Value(due.isoformat())),
            owner_id=JSONArray(none, F("owner_id")),
            status=JSONArray(none, Value(FollowUpStatus.DUE)),
        ),
        **common,
    )
    record_rows(
        FollowUpPlan.objects.filter(follow_up__in=created.values("pk")),
        model=FollowUpPlan,
        action=AuditAction.CREATE,
        object_id="follow_up_id",
        org_path="file__organisation__path",
        changes=JSONObject(
            reason=JSONArray(none, F("reason")),
            purpose=JSONArray(none, F("purpose")),
            batch_id=JSONArray(none, F("batch_id")),
        ),
        **common,
    )


# --- the outcome --------------------------------------------------------------------------


def record_outcome(
    user: User, follow_up: FollowUp, status: str, done_on: datetime.date, notes: str
) -> FollowUp:
    """Done, or could not reach, with notes; shown on the file's timeline."""
    _require(user)
    if status not in OUTCOMES:
        raise DomainError(_("Choose done or could not reach."), field="status")
    notes = notes.strip()
    if not notes:
        raise DomainError(
            _("Write what was found, or why the household was not reached."), field="outcome"
        )
    if done_on > today():
        raise DomainError(
            _("%(label)s cannot be in the future (%(day)s).")
            % {"label": _("The day"), "day": done_on.isoformat()},
            field="done_on",
        )
    with transaction.atomic():
        locked = (
            visible(user)
            .select_for_update(of=("self",))
            .select_related("file__organisation")
            .filter(pk=follow_up.pk)
            .first()
        )
        if locked is None:
            raise NotAllowed(_("This file is outside your organisation."))
        if locked.status != FollowUpStatus.DUE:
            raise Conflict(_("The outcome of this follow-up is recorded already."))
        locked.status = status
        locked.done_on = done_on
        locked.outcome = notes
        locked.save()
        FileEvent.objects.create(
            file=locked.file,
            actor=user,
            kind=EventKind.FOLLOW_UP,
            note=notes,
            data={"follow_up": locked.pk, "status": status, "done_on": done_on.isoformat()},
        )
    return locked
