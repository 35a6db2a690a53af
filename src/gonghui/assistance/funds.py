"""Funds and budgets: define a fund, receive money, allocate it down the tree and return
what is unspent. Web, API and commands call these; each checks role and scope."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.errors import DomainError, NotAllowed
from gonghui.organisations.models import Organisation

from .choices import FORBIDDEN_PURPOSES, AidKind, FundSource, LedgerKind
from .ledger import balance_of, lock_budgets, post, require_available
from .models import Budget, Fund


def require(user: User, capability: str) -> None:
    if not user.can(capability):
        raise NotAllowed(_("Your role does not allow this."))


def require_within(user: User, organisation: Organisation) -> None:
    if user.organisation is None or not user.organisation.contains(organisation):
        raise NotAllowed(_("This is outside your organisation."))


def check_purposes(purposes: Iterable[str]) -> list[str]:
    chosen = sorted(set(purposes))
    forbidden = [p for p in chosen if p in FORBIDDEN_PURPOSES]
    if forbidden:
        raise DomainError(_("A fund is never spent on running costs (专款专用)."), field="purposes")
    if not chosen:
        raise DomainError(_("Choose at least one purpose."), field="purposes")
    if any(p not in AidKind.values for p in chosen):
        raise DomainError(_("Unknown purpose."), field="purposes")
    return chosen


def define_fund(
    user: User,
    *,
    code: str,
    name: str,
    source: str,
    purposes: Iterable[str],
    requires_file: bool = True,
    organisation: Organisation | None = None,
) -> Fund:
    require(user, Capability.MANAGE_FUNDS)
    owner = organisation or user.organisation
    assert owner is not None
    require_within(user, owner)
    if source not in FundSource.values:
        raise DomainError(_("Unknown fund source."), field="source")
    code = code.strip()
    if not code:
        raise DomainError(_("Give the fund a code."), field="code")
    if Fund.objects.filter(code=code).exists():
        raise DomainError(_("A fund with this code already exists."), field="code")
    return Fund.objects.create(
        code=code,
        name=name.strip(),
        source=source,
        purposes=check_purposes(purposes),
        requires_file=requires_file,
        organisation=owner,
    )


def update_fund(
    user: User,
    fund: Fund,
    *,
    name: str,
    purposes: Iterable[str],
    requires_file: bool,
    active: bool,
) -> Fund:
    require(user, Capability.MANAGE_FUNDS)
    require_within(user, fund.organisation)
    fund.name = name.strip()
    fund.purposes = check_purposes(purposes)
    fund.requires_file = requires_file
    fund.active = active
    fund.save()
    return fund


def usable_funds(user: User) -> list[Fund]:
    """Active funds a user's organisation may plan help from: those managed at or above it
    (whose budgets are allocated down to it) and those managed below it. One query."""
    organisation = user.organisation
    if organisation is None:
        return []
    above = Q(organisation__in=organisation.ancestors())
    below = Q(organisation__path__startswith=organisation.path)
    return list(Fund.objects.filter(above | below, active=True).order_by("code"))


def budget_above(fund: Fund, organisation: Organisation, year: int) -> Budget | None:
    """The budget of the fund for the year at the nearest organisation at or above
    ``organisation``: where its help is paid from and where its allocation comes from."""
    candidates = Budget.objects.filter(
        fund=fund, year=year, organisation__in=organisation.ancestors()
    ).select_related("organisation")
    return max(candidates, key=lambda b: b.organisation.depth, default=None)


def open_budget(user: User, fund: Fund, organisation: Organisation, year: int) -> Budget:
    """The organisation's budget of the fund for the year, opened if need be under the
    nearest budget above it (the fund's own organisation opens a root budget)."""
    require(user, Capability.MANAGE_FUNDS)
    require_within(user, organisation)
    existing = Budget.objects.filter(fund=fund, organisation=organisation, year=year).first()
    if existing is not None:
        return existing
    if not fund.organisation.contains(organisation):
        raise DomainError(
            _("%(org)s is outside the fund's organisation.") % {"org": organisation.name},
            field="organisation",
        )
    parent = None
    if organisation != fund.organisation:
        parent = budget_above(fund, organisation, year)
        if parent is None:
            raise DomainError(
                _("Open the fund's budget for %(year)s at %(org)s first.")
                % {"year": year, "org": fund.organisation.name},
                field="organisation",
            )
    return Budget.objects.create(fund=fund, organisation=organisation, year=year, parent=parent)


def receive(user: User, budget: Budget, amount_fen: int, memo: str = "") -> None:
    """Money arrives at a budget from outside the tree (a grant, matching funds, a gift)."""
    require(user, Capability.MANAGE_FUNDS)
    require_within(user, budget.organisation)
    with transaction.atomic():
        post(budget, LedgerKind.GRANT, amount_fen, memo=memo)


def allocate(
    user: User, parent: Budget, child_org: Organisation, amount_fen: int, memo: str = ""
) -> Budget:
    """Pass money down: never more than the parent has left (the parent row is locked, so
    two allocations at once cannot both take the last of it)."""
    require(user, Capability.MANAGE_FUNDS)
    require_within(user, parent.organisation)
    if child_org == parent.organisation or not parent.organisation.contains(child_org):
        raise DomainError(
            _("Allocate only to an organisation below %(org)s.") % {"org": parent.organisation},
            field="organisation",
        )
    with transaction.atomic():
        child = open_budget(user, parent.fund, child_org, parent.year)
        if child.parent_id != parent.pk:
            raise DomainError(
                _("%(org)s receives this fund from %(via)s, not from here.")
                % {
                    "org": child_org.name,
                    "via": child.parent.organisation.name if child.parent else "-",
                },
                field="organisation",
            )
        lock_budgets([parent.pk])
        require_available(parent, balance_of(parent), amount_fen)
        post(parent, LedgerKind.ALLOCATE_OUT, amount_fen, counterpart=child, memo=memo)
        post(child, LedgerKind.ALLOCATE_IN, amount_fen, counterpart=parent, memo=memo)
    return child


def return_unspent(user: User, budget: Budget, amount_fen: int, memo: str = "") -> None:
    """Give unspent money back to the budget it came from."""
    require(user, Capability.MANAGE_FUNDS)
    require_within(user, budget.organisation)
    parent = budget.parent
    if parent is None:
        raise DomainError(_("This budget has no upper budget to return to."), field="amount")
    with transaction.atomic():
        lock_budgets([budget.pk])
        require_available(budget, balance_of(budget), amount_fen)
        post(budget, LedgerKind.RETURN_OUT, amount_fen, counterpart=parent, memo=memo)
        post(parent, LedgerKind.RETURN_IN, amount_fen, counterpart=budget, memo=memo)
