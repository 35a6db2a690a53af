"""Assistance plans: propose help by cause, edit it within the caps, approve it.

Approval is set-based so that a hundred thousand lines are approved with a handful of
statements: lines are marked, commitments are copied into the ledger and the audit trail
with INSERT … SELECT, and budgets are locked and checked first so that two approvals
against the last of a budget cannot both succeed.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import JSONArray, JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.bulk import insert_select, record_rows
from gonghui.audit.context import current_source
from gonghui.audit.models import AuditAction
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.choices import ExpenseKind, FileStatus
from gonghui.hardship.models import ExpenseLine, HardshipFile
from gonghui.hardship.policy import in_force_for, living_standard_for
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.models import Organisation
from gonghui.people.models import HouseholdMember

from . import rules
from .choices import COUNTED_STATUSES, AidKind, LedgerKind, LineStatus
from .funds import require
from .ledger import balances, lock_budgets
from .models import AidPolicy, AssistanceLine, Budget, Fund, LedgerEntry
from .money import format_fen

# Who may approve what: a reviewer at a level approves lines that need that level or a
# lower one. Lines start at county level, where files are filed (DESIGN §4.2).
LEVEL_RANK: dict[str, int] = {
    OrganisationKind.NATIONAL: 0,
    OrganisationKind.PROVINCE: 1,
    OrganisationKind.CITY: 2,
    OrganisationKind.COUNTY: 3,
}
BASE_LEVEL = OrganisationKind.COUNTY


def today() -> datetime.date:
    return timezone.localdate()


# --- policy and facts ----------------------------------------------------------------


def policy_day(year: int) -> datetime.date:
    now = today()
    return now if now.year == year else datetime.date(year, 12, 31)


def aid_policy_for(file: HardshipFile, year: int) -> AidPolicy:
    found = in_force_for(AidPolicy, file.household.region, policy_day(year))
    if found is None:
        raise DomainError(
            _("No assistance policy is in force for %(region)s in %(year)s.")
            % {"region": file.household.region.name, "year": year},
            field="year",
        )
    return found


def terms_for(file: HardshipFile, year: int) -> rules.AidTerms:
    policy = aid_policy_for(file, year)
    standard = living_standard_for(file.household.region, policy_day(year)).monthly_amount
    return rules.AidTerms(
        living_standard=standard,
        deep_living_months=policy.deep_living_months,
        relative_living_months=policy.relative_living_months,
        relative_one_kind=policy.relative_one_kind,
        living_per_person=policy.living_per_person,
        medical_ratio=policy.medical_ratio,
        medical_cap=policy.medical_cap,
        major_illness_cap=policy.major_illness_cap,
        accident_ratio=policy.accident_ratio,
        accident_cap=policy.accident_cap,
        education_amounts={k: Decimal(str(v)) for k, v in policy.education_amounts.items()},
        person_year_cap=policy.person_year_cap,
        household_year_cap=policy.household_year_cap,
    )


def received(
    household_id: int, year: int, *, exclude: Iterable[int] = (), planned: bool = False
) -> rules.Received:
    """What a household has had this year (approved or paid; with ``planned``, also what
    is still planned), per member and by kind."""
    statuses = set(COUNTED_STATUSES) | ({LineStatus.PLANNED} if planned else set())
    lines = AssistanceLine.objects.filter(
        household_id=household_id, year=year, status__in=statuses, cash=True
    ).exclude(pk__in=list(exclude))
    rows = list(lines.values("member_id", "kind").annotate(total=Sum("amount_fen")).order_by())
    by_member: dict[int, int] = defaultdict(int)
    for row in rows:
        if row["member_id"] is not None:
            by_member[row["member_id"]] += row["total"]
    return rules.Received(
        household_fen=sum(row["total"] for row in rows),
        by_member_fen=dict(by_member),
        cash_kinds=frozenset(row["kind"] for row in rows if row["total"] > 0),
    )


def facts_for(file: HardshipFile, year: int) -> rules.AidFacts:
    members = list(HouseholdMember.objects.filter(household_id=file.household_id))
    expenses = dict(
        ExpenseLine.objects.filter(file=file)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return rules.AidFacts(
        category=file.category,
        causes=file.causes,
        household_size=max(len(members), 1),
        self_paid_medical=expenses.get(ExpenseKind.ILLNESS, Decimal("0")),
        accident_cost=expenses.get(ExpenseKind.ACCIDENT, Decimal("0")),
        pupils=[rules.Pupil(m.pk, m.name, m.schooling) for m in members],
        received=received(file.household_id, year),
    )


# --- planning -------------------------------------------------------------------------


def require_file(user: User, file: HardshipFile) -> None:
    require(user, Capability.PLAN_AID)
    if user.organisation is None or not user.organisation.contains(file.organisation):
        raise NotAllowed(_("This file is outside your organisation."))
    if file.status != FileStatus.FILED:
        raise DomainError(_("Help is planned for filed households only."), field="file")


def level_for(amount_fen: int, file: HardshipFile, year: int) -> str:
    policy = aid_policy_for(file, year)
    return rules.needs_level(amount_fen, policy.approval_levels, BASE_LEVEL)


def _line_from(user: User, file: HardshipFile, year: int, p: rules.Proposal) -> AssistanceLine:
    return AssistanceLine(
        worker_id=file.applicant_id,
        file=file,
        household_id=file.household_id,
        member_id=p.member_id,
        organisation_id=file.organisation_id,
        year=year,
        kind=p.kind,
        cash=p.cash,
        amount_fen=p.amount_fen,
        proposed_fen=p.amount_fen,
        cap_fen=p.cap_fen,
        cap_rule=p.cap_rule,
        cap_params=p.params,
        needs_level=level_for(p.amount_fen, file, year),
        created_by=user,
    )


def propose_plan(user: User, file: HardshipFile, year: int | None = None) -> list[AssistanceLine]:
    """Replace the file's planned (not yet approved) lines for the year with the help its
    causes call for, capped by the region's policy."""
    require_file(user, file)
    year = year or today().year
    with transaction.atomic():
        HardshipFile.objects.select_for_update(of=("self",)).filter(pk=file.pk).exists()
        for old in AssistanceLine.objects.filter(file=file, year=year, status=LineStatus.PLANNED):
            old.status = LineStatus.CANCELLED
            old.save()
        proposals = rules.propose(facts_for(file, year), terms_for(file, year))
        lines = [_line_from(user, file, year, p) for p in proposals]
        for line in lines:
            line.save()
    return lines


@dataclass
class LineInput:
    kind: str
    amount_fen: int
    cash: bool = True
    member_id: int | None = None
    fund: Fund | None = None
    description: str = ""


def check_amount(line: AssistanceLine, file: HardshipFile) -> None:
    """An amount may not exceed the line's own cap nor the yearly caps, counting every
    other line of the household this year (approved, paid or planned)."""
    if line.amount_fen < 0:
        raise DomainError(_("An amount cannot be negative."), field="amount")
    if not line.cash:
        return
    terms = terms_for(file, line.year)
    other = received(
        file.household_id, line.year, exclude=[line.pk] if line.pk else [], planned=True
    )
    member_fen = other.by_member_fen.get(line.member_id, 0) if line.member_id else None
    cap, rule = rules.cap_for_edit(line.cap_fen, terms, other.household_fen, member_fen)
    if cap is not None and line.amount_fen > cap:
        raise DomainError(
            _("At most %(cap)s yuan: %(rule)s")
            % {"cap": format_fen(cap), "rule": _(CAP_NAMES[rule])},
            field="amount",
        )
    if (
        file.category == "relative"
        and aid_policy_for(file, line.year).relative_one_kind
        and other.cash_kinds - {line.kind}
    ):
        raise DomainError(
            _("A household in relative hardship receives one kind of aid only."), field="kind"
        )


CAP_NAMES = {
    "kind_cap": "the cap of this kind of aid.",
    "household_year_cap": "the yearly cap per household.",
    "person_year_cap": "the yearly cap per person.",
}


def check_fund(fund: Fund | None, kind: str) -> None:
    if fund is None:
        return
    if not fund.active:
        raise DomainError(_("This fund is closed."), field="fund")
    if not fund.allows(kind):
        raise DomainError(
            _("The fund %(fund)s may not pay %(kind)s (专款专用).")
            % {"fund": fund.name, "kind": AidKind(kind).label},
            field="fund",
        )


def add_line(
    user: User, file: HardshipFile, data: LineInput, year: int | None = None
) -> AssistanceLine:
    require_file(user, file)
    if data.kind not in AidKind.values:
        raise DomainError(_("Unknown kind of aid."), field="kind")
    if (
        data.member_id is not None
        and not HouseholdMember.objects.filter(
            pk=data.member_id, household_id=file.household_id
        ).exists()
    ):
        raise DomainError(_("This person is not in the household."), field="member")
    check_fund(data.fund, data.kind)
    year = year or today().year
    limit = (
        rules.kind_cap(data.kind, facts_for(file, year), terms_for(file, year), data.member_id)
        if data.cash
        else None
    )
    line = AssistanceLine(
        worker_id=file.applicant_id,
        file=file,
        household_id=file.household_id,
        member_id=data.member_id,
        organisation_id=file.organisation_id,
        year=year,
        kind=data.kind,
        cash=data.cash,
        amount_fen=data.amount_fen if data.cash else 0,
        proposed_fen=0,
        cap_fen=limit.cap_fen if limit else None,
        cap_rule=limit.cap_rule if limit else "manual",
        cap_params=limit.params if limit else {},
        fund=data.fund,
        description=data.description,
        created_by=user,
    )
    with transaction.atomic():
        check_amount(line, file)
        line.needs_level = level_for(line.amount_fen, file, year)
        line.save()
    return line


def edit_line(
    user: User, line: AssistanceLine, *, amount_fen: int, fund: Fund | None, description: str
) -> AssistanceLine:
    """Change a planned line: its amount within the caps, the fund that pays, a note."""
    file = line.file
    if file is None:
        raise DomainError(_("Only lines of a hardship file are planned here."), field="file")
    require_file(user, file)
    with transaction.atomic():
        locked = AssistanceLine.objects.select_for_update(of=("self",)).get(pk=line.pk)
        if locked.status != LineStatus.PLANNED:
            raise Conflict(
                _("This line is no longer a plan: it is %(status)s.")
                % {"status": LineStatus(locked.status).label}
            )
        check_fund(fund, locked.kind)
        locked.amount_fen = amount_fen if locked.cash else 0
        locked.fund = fund
        locked.description = description
        check_amount(locked, file)
        locked.needs_level = level_for(locked.amount_fen, file, locked.year)
        locked.save()
    return locked


def cancel_line(user: User, line: AssistanceLine, reason: str = "") -> AssistanceLine:
    """Cancel a line that has not been sent to the bank; approved money goes back to
    the budget's available balance."""
    from .ledger import post

    if not (user.can(Capability.PLAN_AID) or user.can(Capability.MANAGE_FUNDS)):
        raise NotAllowed(_("Your role does not allow this."))
    if user.organisation is None or not user.organisation.contains(line.organisation):
        raise NotAllowed(_("This is outside your organisation."))
    with transaction.atomic():
        locked = AssistanceLine.objects.select_for_update(of=("self",)).get(pk=line.pk)
        if locked.status not in {LineStatus.PLANNED, LineStatus.APPROVED, LineStatus.FAILED}:
            raise Conflict(
                _("This line cannot be cancelled: it is %(status)s.")
                % {"status": LineStatus(locked.status).label}
            )
        if locked.status != LineStatus.PLANNED and locked.budget is not None:
            lock_budgets([locked.budget.pk])
            post(locked.budget, LedgerKind.RELEASE, locked.amount_fen, line=locked, memo=reason)
        locked.status = LineStatus.CANCELLED
        locked.failure_reason = reason[:255]
        locked.save()
    return locked


# --- approval -------------------------------------------------------------------------


def approvable_levels(user: User) -> list[str]:
    """The line levels a user's organisation may approve (its own and those below)."""
    organisation = user.organisation
    rank = LEVEL_RANK.get(organisation.kind) if organisation is not None else None
    if rank is None:
        return []
    return [level for level, r in LEVEL_RANK.items() if r >= rank]


def why_not_approvable(user: User, line: AssistanceLine) -> str | None:
    """A reason in words when ``user`` may not approve ``line``, else None."""
    if not user.can(Capability.APPROVE_AID):
        return _("Your role does not allow this.")
    if user.organisation is None or not user.organisation.contains(line.organisation):
        return _("This is outside your organisation.")
    if line.created_by_id == user.pk:
        return _("The person who planned this help cannot approve it.")
    if line.needs_level not in approvable_levels(user):
        level = OrganisationKind(line.needs_level or BASE_LEVEL).label
        return _("This amount needs approval at %(level)s level.") % {"level": level}
    if not line.cash or line.amount_fen <= 0:
        return _("Only cash help with an amount is approved.")
    if line.fund is None:
        return _("Choose the fund that pays this help.")
    if line.file is not None and line.fund.requires_file and line.file.status != FileStatus.FILED:
        return _("The fund pays households with an active file only.")
    return None


def approvable(user: User, lines: QuerySet[AssistanceLine]) -> QuerySet[AssistanceLine]:
    """The same conditions as :func:`why_not_approvable`, as one filter."""
    return (
        lines.filter(
            status=LineStatus.PLANNED,
            cash=True,
            amount_fen__gt=0,
            fund__isnull=False,
            fund__active=True,
            needs_level__in=approvable_levels(user),
        )
        .exclude(created_by=user)
        .exclude(Q(fund__requires_file=True) & ~Q(file__status=FileStatus.FILED))
    )


def budgets_for(pairs: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int, int], int]:
    """For each (organisation, fund, year), the id of the budget at the nearest
    organisation at or above it. Few budgets and organisations, so this is done in Python."""
    wanted = set(pairs)
    fund_years = {(fund, year) for _org, fund, year in wanted}
    budgets: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for b in Budget.objects.filter(
        fund_id__in={f for f, _y in fund_years}, year__in={y for _f, y in fund_years}
    ).values("pk", "fund_id", "year", "organisation__path"):
        budgets[(b["fund_id"], b["year"])].append((b["organisation__path"], b["pk"]))
    paths = dict(
        Organisation.objects.filter(pk__in={o for o, _f, _y in wanted}).values_list("pk", "path")
    )
    found = {}
    for org, fund, year in wanted:
        above = [(p, pk) for p, pk in budgets[(fund, year)] if paths[org].startswith(p)]
        if above:
            found[(org, fund, year)] = max(above)[1]
    return found


@dataclass
class Approved:
    count: int
    total_fen: int
    skipped: int


def approve_lines(user: User, ids: Sequence[int] | QuerySet[Any]) -> Approved:
    """Approve many lines at once: each is committed against its budget, all or none."""
    require(user, Capability.APPROVE_AID)
    now = timezone.now()
    with transaction.atomic():
        scoped = AssistanceLine.objects.for_user(user).filter(pk__in=ids)
        chosen = approvable(user, scoped)
        pairs = set(chosen.values_list("organisation_id", "fund_id", "year").distinct())
        budget_of = budgets_for(pairs)
        missing = pairs - budget_of.keys()
        if missing:
            org, fund, year = sorted(missing)[0]
            raise DomainError(
                _("No budget of the fund %(fund)s for %(year)s covers %(org)s.")
                % {
                    "fund": Fund.objects.get(pk=fund).name,
                    "year": year,
                    "org": Organisation.objects.get(pk=org).name,
                },
                field="fund",
            )
        lock_budgets(budget_of.values())
        assign_budgets(chosen, budget_of)
        check_budgets(chosen)
        count = chosen.update(
            status=LineStatus.APPROVED, approved_by=user, approved_at=now, updated_at=now
        )
        if count:
            stamped = AssistanceLine.objects.filter(approved_by=user, approved_at=now)
            commit_in_ledger(stamped, user, now)
            audit_approval(stamped, user, now)
        total = scoped.filter(approved_by=user, approved_at=now).aggregate(s=Sum("amount_fen"))
        requested = len(ids) if isinstance(ids, Sequence) else scoped.count()
    return Approved(count=count, total_fen=total["s"] or 0, skipped=requested - count)


def approve_line(user: User, line: AssistanceLine) -> AssistanceLine:
    reason = why_not_approvable(user, line)
    if reason is not None:
        raise NotAllowed(reason)
    result = approve_lines(user, [line.pk])
    if result.count != 1:
        raise Conflict(_("Someone else changed this line first; reload the page."))
    line.refresh_from_db()
    return line


def assign_budgets(
    chosen: QuerySet[AssistanceLine], budget_of: dict[tuple[int, int, int], int]
) -> None:
    by_budget: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for key, budget_id in budget_of.items():
        by_budget[budget_id].append(key)
    for budget_id, keys in by_budget.items():
        match = Q()
        for org, fund, year in keys:
            match |= Q(organisation_id=org, fund_id=fund, year=year)
        chosen.filter(match).update(budget_id=budget_id)


def check_budgets(chosen: QuerySet[AssistanceLine]) -> None:
    needs = dict(chosen.values_list("budget_id").annotate(total=Sum("amount_fen")).order_by())
    have = balances(needs)
    for budget_id, need in needs.items():
        if need > have[budget_id].available:
            budget = Budget.objects.select_related("fund", "organisation").get(pk=budget_id)
            raise DomainError(
                _(
                    "The budget %(budget)s has %(left)s yuan left; these approvals need "
                    "%(need)s yuan."
                )
                % {
                    "budget": budget,
                    "left": format_fen(have[budget_id].available),
                    "need": format_fen(need),
                },
                field="budget",
            )


def commit_in_ledger(lines: QuerySet[AssistanceLine], user: User, now: datetime.datetime) -> None:
    select = lines.annotate(
        e_kind=Value(LedgerKind.COMMIT),
        e_at=Value(now),
        e_actor=Value(user.pk),
        e_source=Value(current_source()),
        e_memo=Value(""),
    ).values("budget_id", "e_kind", "amount_fen", "e_at", "e_actor", "e_source", "id", "e_memo")
    insert_select(
        LedgerEntry,
        ["budget_id", "kind", "amount_fen", "at", "actor_id", "source", "line_id", "memo"],
        select,
    )


def audit_approval(lines: QuerySet[AssistanceLine], user: User, now: datetime.datetime) -> None:
    """One audit entry per approved line (status, approver, budget), written in SQL."""
    changes = JSONObject(
        status=JSONArray(Value(LineStatus.PLANNED), Value(LineStatus.APPROVED)),
        # A bare NULL has no type on PostgreSQL: say what it is.
        approved_by_id=JSONArray(Value(None, output_field=IntegerField()), Value(user.pk)),
        budget_id=JSONArray(Value(None, output_field=IntegerField()), F("budget_id")),
    )
    record_rows(
        lines,
        model=AssistanceLine,
        action=AuditAction.UPDATE,
        at=now,
        actor=user.pk,
        source=current_source(),
        object_id="id",
        org_path="organisation__path",
        file_id="file_id",
        changes=changes,
    )
