"""Every state change of a hardship file, in one place for the web, the API and commands.

Each operation checks the user's right and scope, checks the move against the workflow,
saves inside a transaction with the file row locked (so two people acting at once are
serialised and the second gets a clear message), records a :class:`FileEvent` for the
timeline and leaves audit entries through the models' audit mixin.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.organisations.choices import OrganisationKind
from gonghui.people.models import Household, Worker

from . import rules
from .calendar import last_of_working_days
from .choices import (
    MAX_SECONDARY_CAUSES,
    SUDDEN_EVENT_CAUSES,
    EventKind,
    Exclusion,
    ExitKind,
    ExpenseKind,
    FileStatus,
    HardshipCategory,
    HardshipCause,
    IncomeKind,
)
from .models import (
    Attachment,
    ExpenseLine,
    FileEvent,
    FollowUp,
    HardshipFile,
    IncomeLine,
    IncomeReading,
    Investigation,
    PeriodicReview,
    first_of_month,
)
from .policy import living_standard_for, policy_for

# Only these levels file a household (DESIGN §4.2 step 5: county or higher).
FILING_LEVELS = frozenset(
    {
        OrganisationKind.NATIONAL,
        OrganisationKind.PROVINCE,
        OrganisationKind.CITY,
        OrganisationKind.COUNTY,
    }
)
EDITABLE = frozenset({FileStatus.DRAFT, FileStatus.INVESTIGATED, FileStatus.FILED})


def today() -> datetime.date:
    return timezone.localdate()


# --- checks -------------------------------------------------------------------------


def require(user: User, capability: str) -> None:
    if not user.can(capability):
        raise NotAllowed(_("Your role does not allow this."))


def require_scope(user: User, file: HardshipFile) -> None:
    if user.organisation is None or not user.organisation.contains(file.organisation):
        raise NotAllowed(_("This file is outside your organisation."))


def not_in_future(day: datetime.date, field_name: str, label: str) -> None:
    if day > today():
        raise DomainError(
            _("%(label)s cannot be in the future (%(day)s).")
            % {"label": label, "day": day.isoformat()},
            field=field_name,
        )


def check_causes(primary: int, secondary: Sequence[int]) -> list[int]:
    valid = set(HardshipCause.values)
    if primary not in valid:
        raise DomainError(_("Choose the primary cause."), field="primary_cause")
    cleaned = [int(code) for code in secondary]
    if any(code not in valid for code in cleaned):
        raise DomainError(_("Unknown cause code."), field="secondary_causes")
    if len(cleaned) > MAX_SECONDARY_CAUSES:
        raise DomainError(_("At most three secondary causes."), field="secondary_causes")
    if primary in cleaned or len(set(cleaned)) != len(cleaned):
        raise DomainError(
            _("A secondary cause repeats the primary cause or another one."),
            field="secondary_causes",
        )
    return cleaned


def check_exclusions(codes: Iterable[str]) -> list[str]:
    found = sorted(set(codes))
    if any(code not in Exclusion.values for code in found):
        raise DomainError(_("Unknown exclusion."), field="exclusions_found")
    return found


# --- transitions ----------------------------------------------------------------------


def _status_conflict(file: HardshipFile) -> Conflict:
    who = file.approved_by or file.reviewed_by or file.submitted_by
    params = {"status": FileStatus(file.status).label, "name": who}
    if who:
        message = _(
            "%(name)s has already moved this file to “%(status)s”; your action was not "
            "applied. Reload the page."
        )
    else:
        message = _("This file is now “%(status)s”; your action was not applied. Reload the page.")
    return Conflict(message % params, field="status")


def _move(
    user: User,
    file: HardshipFile,
    *,
    allowed: Iterable[str],
    event: str,
    to: str | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    check: Callable[[HardshipFile], None] | None = None,
    changes: dict[str, Any] | None = None,
) -> HardshipFile:
    """Lock the file, check it is still in an allowed status, apply, record the event."""
    require_scope(user, file)
    with transaction.atomic():
        locked = (
            HardshipFile.objects.select_for_update(of=("self",))
            .select_related("organisation", "household__region", "policy")
            .get(pk=file.pk)
        )
        if locked.status not in allowed:
            raise _status_conflict(locked)
        if check is not None:
            check(locked)
        before = locked.status
        for name, value in (changes or {}).items():
            setattr(locked, name, value)
        if to is not None:
            locked.status = to
        locked.save()
        FileEvent.objects.create(
            file=locked,
            actor=user,
            kind=event,
            from_status=before,
            to_status=locked.status,
            note=note,
            data=data or {},
        )
    return locked


def _four_eyes(user: User) -> Callable[[HardshipFile], None]:
    def check(file: HardshipFile) -> None:
        if user.pk in {file.created_by_id, file.submitted_by_id}:
            raise NotAllowed(
                _("You opened or submitted this file; another person must approve it."),
                field="status",
            )

    return check


# --- application ----------------------------------------------------------------------


@dataclass
class Application:
    household: Household
    applicant: Worker
    primary_cause: int
    applied_on: datetime.date
    secondary_causes: list[int] = field(default_factory=list)
    exclusions_found: list[str] = field(default_factory=list)
    idle_able_members: int = 0
    income_pledge: bool = True
    finance_check_authorised: bool = True


def _next_number(file: HardshipFile) -> str:
    prefix = f"{file.household.region_id}-{file.applied_on:%Y}-"
    count = HardshipFile.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{count + 1:06d}"


def open_application(user: User, app: Application) -> HardshipFile:
    """A case worker opens a file for a household in their subtree."""
    require(user, Capability.OPEN_FILE)
    org = user.organisation
    if org is None or not org.contains(app.household.organisation):
        raise NotAllowed(_("This household is outside your organisation."), field="household")
    if not org.contains(app.applicant.organisation):
        raise NotAllowed(_("This worker is outside your organisation."), field="applicant")
    not_in_future(app.applied_on, "applied_on", _("The application date"))
    if not (app.income_pledge and app.finance_check_authorised):
        raise DomainError(
            _("The applicant must sign the income pledge and authorise the finance check."),
            field="income_pledge",
        )
    secondary = check_causes(app.primary_cause, app.secondary_causes)
    exclusions = check_exclusions(app.exclusions_found)
    if (
        HardshipFile.objects.filter(household=app.household)
        .exclude(status__in=[FileStatus.REJECTED, FileStatus.CLOSED])
        .exists()
    ):
        raise DomainError(_("This household already has an open file."), field="household")
    file = HardshipFile(
        household=app.household,
        applicant=app.applicant,
        organisation=app.household.organisation,
        applied_on=app.applied_on,
        primary_cause=app.primary_cause,
        secondary_causes=secondary,
        exclusions_found=exclusions,
        idle_able_members=app.idle_able_members,
        income_pledge=app.income_pledge,
        finance_check_authorised=app.finance_check_authorised,
        created_by=user,
    )
    for _attempt in range(5):
        file.number = _next_number(file)
        try:
            with transaction.atomic():
                file.save()
                FileEvent.objects.create(
                    file=file, actor=user, kind=EventKind.CREATED, to_status=file.status
                )
                assess(file)
                # A candidate found by screening for this household is now being helped.
                from gonghui.discovery import outreach  # the discovery app imports hardship

                outreach.file_opened(user, file)
            return file
        except IntegrityError:
            file.pk = None  # a concurrent application took the number; try the next one
    raise Conflict(_("Could not number the file; please try again."))


def update_application(
    user: User,
    file: HardshipFile,
    *,
    primary_cause: int,
    secondary_causes: Sequence[int],
    exclusions_found: Iterable[str],
    idle_able_members: int,
) -> HardshipFile:
    require(user, Capability.OPEN_FILE)
    secondary = check_causes(primary_cause, secondary_causes)
    exclusions = check_exclusions(exclusions_found)
    file = _move(
        user,
        file,
        allowed=EDITABLE,
        event=EventKind.EDITED,
        changes={
            "primary_cause": primary_cause,
            "secondary_causes": secondary,
            "exclusions_found": exclusions,
            "idle_able_members": idle_able_members,
        },
    )
    return _reassess_unless_filed(file)


@dataclass(frozen=True)
class Line:
    kind: str
    amount: Decimal
    note: str = ""
    member_id: int | None = None


def _check_lines(
    lines: Sequence[Line], kinds: Iterable[str], field_name: str, members: set[int]
) -> None:
    valid = set(kinds)
    for number, line in enumerate(lines, start=1):
        if line.member_id is not None and line.member_id not in members:
            raise DomainError(
                _("Line %(n)d: that person is not a member of this household.") % {"n": number},
                field=field_name,
            )
        if line.kind not in valid:
            raise DomainError(
                _("Line %(n)d: unknown kind “%(kind)s”.") % {"n": number, "kind": line.kind},
                field=field_name,
            )
        if not isinstance(line.amount, Decimal) or line.amount < 0:
            raise DomainError(
                _("Line %(n)d: the amount must be a number of yuan, zero or more.") % {"n": number},
                field=field_name,
            )


def set_finances(
    user: User, file: HardshipFile, incomes: Sequence[Line], expenses: Sequence[Line]
) -> HardshipFile:
    """Replace the income and rigid expense lines of the 12 months before applying."""
    require(user, Capability.OPEN_FILE)
    members = set(file.household.members.values_list("id", flat=True))
    _check_lines(incomes, IncomeKind.values, "incomes", members)
    _check_lines(expenses, ExpenseKind.values, "expenses", members)
    with transaction.atomic():
        file = _move(
            user, file, allowed=EDITABLE, event=EventKind.EDITED, data={"part": "finances"}
        )
        for model, lines in ((IncomeLine, incomes), (ExpenseLine, expenses)):
            for old in model.objects.filter(file=file).select_related("file__organisation"):
                old.delete()
            for line in lines:
                model.objects.create(
                    file=file,
                    kind=line.kind,
                    amount=line.amount,
                    note=line.note,
                    member_id=line.member_id,
                )
        return _reassess_unless_filed(file)


# --- assessment -------------------------------------------------------------------------


def facts_for(file: HardshipFile) -> rules.CaseFacts:
    incomes = [rules.Money(k, a) for k, a in file.incomelines.values_list("kind", "amount")]
    expenses = [rules.Money(k, a) for k, a in file.expenselines.values_list("kind", "amount")]
    return rules.CaseFacts(
        household_size=max(file.household.members.count(), 1),
        incomes=incomes,
        expenses=expenses,
        idle_able_members=file.idle_able_members,
        exclusions_found=frozenset(file.exclusions_found),
        sudden_event=any(cause in SUDDEN_EVENT_CAUSES for cause in file.causes),
    )


def evaluate(
    file: HardshipFile, day: datetime.date
) -> tuple[rules.Assessment, rules.PolicyTerms, Any]:
    """Assess the file under the policy and standard in force on ``day``."""
    region = file.household.region
    policy = policy_for(region, day)
    standard = living_standard_for(region, day)
    terms = policy.terms(standard.monthly_amount)
    return rules.assess(facts_for(file), terms), terms, policy


def policy_snapshot(terms: rules.PolicyTerms, policy: Any, day: datetime.date) -> dict[str, Any]:
    return {
        **terms.to_json(),
        "policy_id": policy.pk,
        "policy_name": policy.name,
        "policy_version": policy.version,
        "on": day.isoformat(),
    }


def assess(file: HardshipFile) -> HardshipFile:
    """Store the proposed category under the policy in force on the application date."""
    result, terms, policy = evaluate(file, file.applied_on)
    file.per_capita_income = result.per_capita
    file.proposed_category = result.category
    file.decision_trace = result.trace_json()
    file.policy = policy
    file.policy_version = policy.version
    file.policy_snapshot = policy_snapshot(terms, policy, file.applied_on)
    file.assessed_at = timezone.now()
    file.save()
    return file


def household_changed(user: User, household: Household) -> HardshipFile | None:
    """A member joined, left or changed: the open file's proposal follows, unless the
    household is filed (its decision stands until the next periodic review)."""
    file = (
        HardshipFile.objects.filter(household=household)
        .exclude(status__in=[FileStatus.REJECTED, FileStatus.CLOSED])
        .first()
    )
    open_statuses = {FileStatus.DRAFT, FileStatus.INVESTIGATED}
    if file is None or file.status not in open_statuses:
        return file
    file = _move(
        user, file, allowed=open_statuses, event=EventKind.ASSESSED, data={"part": "household"}
    )
    return assess(file)


def _reassess_unless_filed(file: HardshipFile) -> HardshipFile:
    # A filed household keeps the decision it was filed under until its next review.
    return file if file.status == FileStatus.FILED else assess(file)


# --- investigation, notice, review, filing -----------------------------------------------


@dataclass
class Visit:
    visited_on: datetime.date
    findings: str
    co_investigators: str = ""
    household_confirmed: bool = True
    uploads: Sequence[tuple[UploadedFile, str]] = ()


def record_investigation(user: User, file: HardshipFile, visit: Visit) -> Investigation:
    require(user, Capability.INVESTIGATE)
    not_in_future(visit.visited_on, "visited_on", _("The visit date"))
    if visit.visited_on < file.applied_on:
        raise DomainError(_("The visit cannot be before the application."), field="visited_on")
    if not visit.findings.strip():
        raise DomainError(_("Write down what the visit found."), field="findings")
    with transaction.atomic():
        file = _move(
            user,
            file,
            allowed={FileStatus.DRAFT, FileStatus.INVESTIGATED},
            event=EventKind.INVESTIGATED,
            to=FileStatus.INVESTIGATED,
            note=visit.findings[:200],
        )
        investigation = Investigation.objects.create(
            file=file,
            visited_on=visit.visited_on,
            investigator=user,
            co_investigators=visit.co_investigators,
            findings=visit.findings,
            household_confirmed=visit.household_confirmed,
        )
        for upload, caption in visit.uploads:
            Attachment.objects.create(
                file=file, investigation=investigation, upload=upload, caption=caption
            )
        assess(file)
    return investigation


def submit_for_notice(user: User, file: HardshipFile) -> HardshipFile:
    """Publish the proposed decision; the notice lasts the policy's working days."""
    require(user, Capability.OPEN_FILE)

    def check(locked: HardshipFile) -> None:
        # A reopened file keeps its old visits; only one since the (re)application counts.
        if not locked.investigations.filter(visited_on__gte=locked.applied_on).exists():
            raise DomainError(
                _("A file cannot be submitted without a home investigation."),
                field="investigation",
            )
        assess(locked)
        if locked.proposed_category == HardshipCategory.NOT_ELIGIBLE:
            raise DomainError(
                _("The household is not eligible; reject the application instead."),
                field="proposed_category",
            )

    start = today()
    policy = policy_for(file.household.region, file.applied_on)
    end = last_of_working_days(start, policy.notice_working_days)
    return _move(
        user,
        file,
        allowed={FileStatus.DRAFT, FileStatus.INVESTIGATED},
        event=EventKind.NOTICE,
        to=FileStatus.NOTICE,
        check=check,
        changes={"submitted_by": user, "notice_start": start, "notice_end": end},
        data={"notice_end": end.isoformat()},
    )


def review(user: User, file: HardshipFile, note: str = "") -> HardshipFile:
    """The town or industry union checks the file after the public notice."""
    require(user, Capability.APPROVE)
    four_eyes = _four_eyes(user)

    def check(locked: HardshipFile) -> None:
        four_eyes(locked)
        if locked.notice_end is None or today() <= locked.notice_end:
            raise DomainError(
                _("The public notice runs until %(day)s; review after it ends.")
                % {"day": locked.notice_end},
                field="notice_end",
            )

    return _move(
        user,
        file,
        allowed={FileStatus.NOTICE},
        event=EventKind.REVIEWED,
        to=FileStatus.REVIEWED,
        note=note,
        check=check,
        changes={"reviewed_by": user},
    )


def approve(user: User, file: HardshipFile, note: str = "") -> HardshipFile:
    """File the household (建档) under the decision that was publicised."""
    require(user, Capability.APPROVE)
    if user.organisation is None or user.organisation.kind not in FILING_LEVELS:
        raise NotAllowed(_("Files are approved at county level or above."), field="status")
    four_eyes = _four_eyes(user)
    day = today()
    policy = policy_for(file.household.region, file.applied_on)
    review_due = add_months(day, policy.review_interval_months)

    def check(locked: HardshipFile) -> None:
        four_eyes(locked)
        locked.category = locked.proposed_category

    return _move(
        user,
        file,
        allowed={FileStatus.REVIEWED},
        event=EventKind.FILED,
        to=FileStatus.FILED,
        note=note,
        check=check,
        changes={"approved_by": user, "filed_on": day, "review_due": review_due},
        data={"review_due": review_due.isoformat()},
    )


def reject(user: User, file: HardshipFile, reason: str) -> HardshipFile:
    before_notice = {FileStatus.DRAFT, FileStatus.INVESTIGATED}
    if file.status in before_notice:
        require(user, Capability.OPEN_FILE)
    else:
        require(user, Capability.APPROVE)
    if not reason.strip():
        raise DomainError(_("Give the reason for the rejection."), field="reason")
    return _move(
        user,
        file,
        allowed=before_notice | {FileStatus.NOTICE, FileStatus.REVIEWED},
        event=EventKind.REJECTED,
        to=FileStatus.REJECTED,
        note=reason,
        changes={"rejection_reason": reason},
    )


# --- dynamic management ---------------------------------------------------------------------


def add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def periodic_review(user: User, file: HardshipFile, note: str = "") -> PeriodicReview:
    """Re-check a filed household under today's policy; the category follows the result."""
    require(user, Capability.MANAGE_FILED)
    day = today()
    result, terms, policy = evaluate(file, day)
    with transaction.atomic():
        previous = file.category
        due = file.review_due or day
        file = _move(
            user,
            file,
            allowed={FileStatus.FILED},
            event=EventKind.ANNUAL_REVIEW,
            note=note,
            data={"from": previous, "to": result.category, "per_capita": str(result.per_capita)},
            changes={
                "category": result.category,
                "per_capita_income": result.per_capita,
                "decision_trace": result.trace_json(),
                "policy": policy,
                "policy_version": policy.version,
                "policy_snapshot": policy_snapshot(terms, policy, day),
                "review_due": add_months(day, policy.review_interval_months),
            },
        )
        done = PeriodicReview.objects.create(
            file=file,
            due_on=due,
            done_on=day,
            reviewer=user,
            per_capita_income=result.per_capita,
            previous_category=previous,
            category=result.category,
            decision_trace=result.trace_json(),
            policy_snapshot=file.policy_snapshot,
            note=note,
        )
        from gonghui.supervision import followups  # supervision builds on hardship

        followups.after_review(user, done, policy.review_interval_months)
        return done


def record_income_reading(
    user: User, file: HardshipFile, month: datetime.date, per_capita: Decimal
) -> IncomeReading:
    require(user, Capability.MANAGE_FILED)
    month = first_of_month(month)
    not_in_future(month, "month", _("The month"))
    standard = living_standard_for(file.household.region, month)
    with transaction.atomic():
        file = _move(
            user,
            file,
            allowed={FileStatus.FILED},
            event=EventKind.INCOME_READING,
            data={"month": month.isoformat(), "per_capita": str(per_capita)},
        )
        reading, _created = IncomeReading.objects.update_or_create(
            file=file,
            month=month,
            defaults={"per_capita_income": per_capita, "living_standard": standard.monthly_amount},
        )
    return reading


def months_above_standard(file: HardshipFile) -> int:
    rows = file.readings.values_list("month", "per_capita_income", "living_standard")
    return rules.months_above_standard(rows)


# Exits after which the household is called back and watched for relapse.
FOLLOWED_EXITS = frozenset({ExitKind.RECOVERED, ExitKind.STABILISED, ExitKind.RETIREMENT})


def exit_file(
    user: User, file: HardshipFile, kind: str, on: datetime.date, reason: str = ""
) -> HardshipFile:
    require(user, Capability.MANAGE_FILED)
    if kind not in ExitKind.values:
        raise DomainError(_("Choose how the household leaves the file."), field="exit_kind")
    not_in_future(on, "exit_on", _("The exit date"))
    if kind != ExitKind.RECOVERED and not reason.strip():
        raise DomainError(_("Describe the evidence for this exit."), field="exit_reason")
    policy = policy_for(file.household.region, on)

    def check(locked: HardshipFile) -> None:
        streak = months_above_standard(locked)
        if kind == ExitKind.RECOVERED and streak < policy.exit_months:
            raise DomainError(
                _(
                    "Out of hardship needs %(need)d consecutive months above the standard; "
                    "the records show %(have)d."
                )
                % {"need": policy.exit_months, "have": streak},
                field="exit_kind",
            )

    with transaction.atomic():
        file = _move(
            user,
            file,
            allowed={FileStatus.FILED},
            event=EventKind.EXITED,
            to=FileStatus.CLOSED,
            note=reason,
            check=check,
            changes={"exit_kind": kind, "exit_on": on, "exit_reason": reason},
            data={"exit_kind": kind},
        )
        if kind in FOLLOWED_EXITS:
            for months in policy.follow_up_months:
                FollowUp.objects.create(file=file, due_on=add_months(on, months), owner=user)
    return file


def reopen(user: User, file: HardshipFile, reason: str) -> HardshipFile:
    """A closed or rejected household falls back into hardship: the same file, its history
    kept, starts again as an application."""
    require(user, Capability.OPEN_FILE)
    if not reason.strip():
        raise DomainError(_("Give the reason for reopening."), field="reason")

    def check(locked: HardshipFile) -> None:
        if (
            HardshipFile.objects.filter(household=locked.household_id)
            .exclude(pk=locked.pk)
            .exclude(status__in=[FileStatus.REJECTED, FileStatus.CLOSED])
            .exists()
        ):
            raise DomainError(_("This household already has an open file."), field="household")

    file = _move(
        user,
        file,
        allowed={FileStatus.CLOSED, FileStatus.REJECTED},
        event=EventKind.REOPENED,
        to=FileStatus.DRAFT,
        note=reason,
        check=check,
        changes={
            "reopen_count": file.reopen_count + 1,
            "applied_on": today(),
            "submitted_by": None,
            "reviewed_by": None,
            "approved_by": None,
            "notice_start": None,
            "notice_end": None,
            "created_by": user,
        },
    )
    return assess(file)
