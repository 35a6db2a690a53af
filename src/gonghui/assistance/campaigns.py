"""Holiday-visit campaigns (送温暖): a leader opens one with a target list built by rule,
case workers record each visit, and cash given goes through the ledger like any help.

The target list is written set-based (one INSERT … SELECT per kind of target), in order of
priority: filed households first, then model workers, then gig workers; a worker already on
the list is skipped, so each worker is visited once, under the kind that matters most.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Count, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models import Value as V
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.bulk import insert_select
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.models import PATH_SEGMENT, PATH_SEP, Organisation
from gonghui.people.choices import EmploymentForm, MembershipStatus
from gonghui.people.models import HouseholdMember, Membership, Worker

from .choices import AidKind, CampaignStatus, LedgerKind, LineStatus, TargetKind
from .funds import budget_above, require, require_within
from .ledger import balance_of, lock_budgets, post, require_available
from .models import AssistanceLine, Campaign, CampaignTarget, Fund, ModelWorker, Visit
from .money import format_fen, to_fen, to_yuan
from .planning import BASE_LEVEL

# Forms of employment visited as gig workers (新就业形态劳动者).
GIG_FORMS = (
    EmploymentForm.COURIER,
    EmploymentForm.FOOD_DELIVERY,
    EmploymentForm.RIDE_HAILING,
    EmploymentForm.TRUCK_DRIVER,
)
# The kinds built by rule, in order of priority: a worker who is both keeps the first.
RULE_KINDS = (TargetKind.FILED_HOUSEHOLD, TargetKind.MODEL_WORKER, TargetKind.GIG_WORKER)
PHOTO_TYPES = (".jpg", ".jpeg", ".png", ".webp", ".heic")
PHOTO_MAX_BYTES = 10 * 1024 * 1024

TARGET_COLUMNS = [
    "campaign_id",
    "kind",
    "worker_id",
    "household_id",
    "file_id",
    "organisation_id",
    "amount_fen",
    "goods",
]


def today() -> datetime.date:
    return timezone.localdate()


@dataclass(frozen=True)
class Standard:
    """What each target of one kind is given: cash (fen) and goods."""

    amount_fen: int
    goods: str = ""


def standard_of(campaign: Campaign, kind: str) -> Standard | None:
    found = campaign.standards.get(kind)
    if not found:
        return None
    return Standard(to_fen(str(found.get("amount", "0"))), str(found.get("goods", "")))


def visible_campaigns(user: User | Any) -> QuerySet[Campaign]:
    """Campaigns of the user's subtree and those opened above it: a county case worker
    visits the targets of the province's campaign that lie in the county."""
    organisation = getattr(user, "organisation", None)
    if not getattr(user, "is_authenticated", False) or organisation is None:
        return Campaign.objects.none()
    return Campaign.objects.filter(
        organisation.subtree_q("organisation__") | Q(organisation__in=organisation.ancestors())
    )


# --- opening a campaign ----------------------------------------------------------------


def _check_standards(
    standards: Mapping[str, tuple[int, str]], kinds: Iterable[str]
) -> dict[str, dict[str, str]]:
    stored: dict[str, dict[str, str]] = {}
    for kind, (amount_fen, goods) in standards.items():
        if kind not in TargetKind.values:
            raise DomainError(_("Unknown kind of target."), field="standards")
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
            raise DomainError(_("A standard amount cannot be negative."), field="standards")
        goods = goods.strip()
        if len(goods) > 128:
            raise DomainError(_("Describe the goods in at most 128 characters."), field="standards")
        if amount_fen == 0 and not goods:
            raise DomainError(_("Give each kind of target cash, goods or both."), field="standards")
        stored[kind] = {"amount": str(to_yuan(amount_fen)), "goods": goods}
    for kind in kinds:
        if kind not in RULE_KINDS:
            raise DomainError(_("Unknown kind of target."), field="kinds")
        if kind not in stored:
            raise DomainError(
                _("Set the standard for %(kind)s.") % {"kind": TargetKind(kind).label},
                field="standards",
            )
    return stored


def _check_fund(fund: Fund) -> None:
    if not fund.active:
        raise DomainError(_("This fund is closed."), field="fund")
    if not fund.allows(AidKind.HOLIDAY_VISIT):
        raise DomainError(
            _("The fund %(fund)s may not pay %(kind)s (专款专用).")
            % {"fund": fund.name, "kind": AidKind.HOLIDAY_VISIT.label},
            field="fund",
        )


def open_campaign(
    user: User,
    *,
    name: str,
    organisation: Organisation,
    fund: Fund,
    year: int,
    starts_on: datetime.date,
    ends_on: datetime.date,
    standards: Mapping[str, tuple[int, str]],
    kinds: Iterable[str] = RULE_KINDS,
) -> Campaign:
    """Open a campaign and build its target list by rule for the chosen ``kinds``;
    ``standards`` gives (fen, goods) per target kind (include OTHER for people added by
    hand)."""
    require(user, Capability.RUN_CAMPAIGNS)
    require_within(user, organisation)
    name = name.strip()
    if not name:
        raise DomainError(_("Name the campaign."), field="name")
    if ends_on < starts_on:
        raise DomainError(_("The campaign cannot end before it starts."), field="ends_on")
    _check_fund(fund)
    kinds = [k for k in RULE_KINDS if k in set(kinds)] if kinds else []
    stored = _check_standards(standards, kinds)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            organisation=organisation,
            fund=fund,
            year=year,
            starts_on=starts_on,
            ends_on=ends_on,
            standards=stored,
            created_by=user,
        )
        for kind in kinds:
            build_targets(campaign, kind)
    return campaign


def build_targets(campaign: Campaign, kind: str) -> int:
    """Add the targets of one kind, skipping workers already on the list; returns how
    many were added. One INSERT … SELECT, whatever the size of the subtree."""
    standard = standard_of(campaign, kind)
    assert standard is not None
    rows = {
        TargetKind.FILED_HOUSEHOLD: _filed_households,
        TargetKind.MODEL_WORKER: _model_workers,
        TargetKind.GIG_WORKER: _gig_workers,
    }[TargetKind(kind)](campaign)
    select = rows.annotate(
        t_campaign=V(campaign.pk),
        t_kind=V(kind),
        t_amount=V(standard.amount_fen),
        t_goods=V(standard.goods),
    ).values(
        "t_campaign", "t_kind", "t_worker", "t_household", "t_file", "t_org", "t_amount", "t_goods"
    )
    # In worker order: the same subtree gives the same list, in the same order, every time.
    return insert_select(CampaignTarget, TARGET_COLUMNS, select.order_by("t_worker"))


def _already(campaign: Campaign) -> QuerySet[Any]:
    return CampaignTarget.objects.filter(campaign=campaign).values("worker_id")


def _household_of(worker_ref: str) -> Subquery:
    return Subquery(
        HouseholdMember.objects.filter(worker_id=OuterRef(worker_ref)).values("household_id")[:1]
    )


def _filed_households(campaign: Campaign) -> QuerySet[Any]:
    filed = HardshipFile.objects.filter(
        campaign.organisation.subtree_q("organisation__"), status=FileStatus.FILED
    )
    # One file per applicant (a worker could in theory apply for two households).
    first = filed.values("applicant_id").annotate(first=Min("pk")).values("first")
    return (
        HardshipFile.objects.filter(pk__in=first)
        .exclude(applicant_id__in=_already(campaign))
        .annotate(
            t_worker=F("applicant_id"),
            t_household=F("household_id"),
            t_file=F("pk"),
            t_org=F("organisation_id"),
        )
    )


def _model_workers(campaign: Campaign) -> QuerySet[Any]:
    return (
        Worker.objects.filter(
            campaign.organisation.subtree_q("organisation__"),
            pk__in=ModelWorker.objects.values("worker_id"),
        )
        .exclude(pk__in=_already(campaign))
        .annotate(
            t_worker=F("pk"),
            t_household=_household_of("pk"),
            t_file=V(None, output_field=BigIntegerField()),
            t_org=F("organisation_id"),
        )
    )


def _gig_workers(campaign: Campaign) -> QuerySet[Any]:
    # At most one active membership per worker (a database constraint): no duplicates.
    return (
        Membership.objects.filter(
            campaign.organisation.subtree_q("organisation__"),
            status=MembershipStatus.ACTIVE,
            employment_form__in=GIG_FORMS,
        )
        .exclude(worker_id__in=_already(campaign))
        .annotate(
            t_worker=F("worker_id"),
            t_household=_household_of("worker_id"),
            t_file=V(None, output_field=BigIntegerField()),
            t_org=F("organisation_id"),
        )
    )


def _require_open(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.OPEN:
        raise Conflict(_("This campaign is closed."))


def add_target(
    user: User, campaign: Campaign, worker: Worker, kind: str = TargetKind.OTHER
) -> CampaignTarget:
    """Add someone the rules did not find (e.g. a worker met on a home visit)."""
    if not (user.can(Capability.RUN_CAMPAIGNS) or user.can(Capability.PLAN_AID)):
        raise NotAllowed(_("Your role does not allow this."))
    if not visible_campaigns(user).filter(pk=campaign.pk).exists():
        raise NotAllowed(_("This is outside your organisation."))
    require_within(user, worker.organisation)
    if not campaign.organisation.contains(worker.organisation):
        raise DomainError(_("This worker is outside the campaign's organisation."), field="worker")
    if kind not in TargetKind.values:
        raise DomainError(_("Unknown kind of target."), field="kind")
    standard = standard_of(campaign, kind)
    if standard is None:
        raise DomainError(
            _("The campaign has no standard for %(kind)s.") % {"kind": TargetKind(kind).label},
            field="kind",
        )
    member = HouseholdMember.objects.filter(worker=worker).select_related("household").first()
    household = member.household if member else None
    file = (
        HardshipFile.objects.filter(household=household, status=FileStatus.FILED).first()
        if household
        else None
    )
    try:
        with transaction.atomic():
            _require_open(Campaign.objects.select_for_update().get(pk=campaign.pk))
            return CampaignTarget.objects.create(
                campaign=campaign,
                kind=kind,
                worker=worker,
                household=household,
                file=file,
                organisation=worker.organisation,
                amount_fen=standard.amount_fen,
                goods=standard.goods,
            )
    except IntegrityError:
        raise Conflict(_("This worker is already on the campaign's list.")) from None


def close_campaign(user: User, campaign: Campaign) -> Campaign:
    """No more visits are recorded once a campaign is closed."""
    require(user, Capability.RUN_CAMPAIGNS)
    require_within(user, campaign.organisation)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _require_open(locked)
        locked.status = CampaignStatus.CLOSED
        locked.save()
    return locked


# --- visits ----------------------------------------------------------------------------


def _check_visit(
    campaign: Campaign,
    target: CampaignTarget,
    visited_on: datetime.date,
    visitors: str,
    cash_fen: int,
    goods: str,
) -> None:
    if visited_on > today():
        raise DomainError(
            _("The visit date cannot be in the future (%(day)s).") % {"day": visited_on},
            field="visited_on",
        )
    if not campaign.starts_on <= visited_on <= campaign.ends_on:
        raise DomainError(
            _("The campaign runs from %(start)s to %(end)s.")
            % {"start": campaign.starts_on, "end": campaign.ends_on},
            field="visited_on",
        )
    if not visitors.strip():
        raise DomainError(_("Say who visited."), field="visitors")
    if isinstance(cash_fen, bool) or not isinstance(cash_fen, int) or cash_fen < 0:
        raise DomainError(_("An amount cannot be negative."), field="cash")
    if cash_fen > target.amount_fen:
        raise DomainError(
            _("At most %(cap)s yuan: the campaign's standard for %(kind)s.")
            % {"cap": format_fen(target.amount_fen), "kind": TargetKind(target.kind).label},
            field="cash",
        )
    if cash_fen == 0 and not goods.strip():
        raise DomainError(_("Record what was given: cash, goods or both."), field="goods")
    if len(goods) > 255:
        raise DomainError(_("Describe the goods in at most 255 characters."), field="goods")


def _check_photo(photo: File[Any] | None) -> None:
    if photo is None:
        return
    name = (photo.name or "").lower()
    if not name.endswith(PHOTO_TYPES):
        raise DomainError(_("The photo must be a JPEG, PNG, WebP or HEIC image."), field="photo")
    if photo.size is not None and photo.size > PHOTO_MAX_BYTES:
        raise DomainError(_("The photo is larger than 10 MB."), field="photo")


def record_visit(
    user: User,
    target: CampaignTarget,
    *,
    visited_on: datetime.date,
    visitors: str,
    cash_fen: int,
    goods: str,
    photo: File[Any] | None = None,
) -> Visit:
    """Record a visit done. Cash given is paid help: an assistance line of the campaign's
    fund, committed and paid on the budget above the target's union in one go."""
    require(user, Capability.PLAN_AID)
    require_within(user, target.organisation)
    _check_photo(photo)
    with transaction.atomic():
        locked = (
            CampaignTarget.objects.select_for_update(of=("self",))
            .select_related("campaign__fund", "campaign__created_by", "organisation", "file")
            .get(pk=target.pk)
        )
        campaign = locked.campaign
        _require_open(campaign)
        if Visit.objects.filter(target=locked).exists():
            raise Conflict(_("This visit is already recorded."))
        _check_visit(campaign, locked, visited_on, visitors, cash_fen, goods)
        line = _pay_cash(user, locked, cash_fen, visited_on) if cash_fen else None
        visit = Visit(
            target=locked,
            visited_on=visited_on,
            visitors=visitors.strip()[:255],
            cash_fen=cash_fen,
            goods=goods.strip(),
            line=line,
            recorded_by=user,
        )
        if photo is not None:
            visit.photo = photo  # type: ignore[assignment]
        try:
            with transaction.atomic():
                visit.save()
        except IntegrityError:
            raise Conflict(_("This visit is already recorded.")) from None
    return visit


def _pay_cash(
    user: User, target: CampaignTarget, cash_fen: int, visited_on: datetime.date
) -> AssistanceLine:
    campaign = target.campaign
    fund = campaign.fund
    _check_fund(fund)
    if fund.requires_file and (target.file is None or target.file.status != FileStatus.FILED):
        raise DomainError(_("The fund pays households with an active file only."), field="cash")
    budget = budget_above(fund, target.organisation, campaign.year)
    if budget is None:
        raise DomainError(
            _("No budget of the fund %(fund)s for %(year)s covers %(org)s.")
            % {"fund": fund.name, "year": campaign.year, "org": target.organisation.name},
            field="cash",
        )
    lock_budgets([budget.pk])
    try:
        require_available(budget, balance_of(budget), cash_fen)
    except DomainError as exc:
        raise DomainError(exc.message, field="cash") from None
    line = AssistanceLine.objects.create(
        worker_id=target.worker_id,
        file=target.file,
        household_id=target.household_id,
        organisation=target.organisation,
        year=campaign.year,
        kind=AidKind.HOLIDAY_VISIT,
        cash=True,
        amount_fen=cash_fen,
        proposed_fen=target.amount_fen,
        cap_fen=target.amount_fen,
        cap_rule="holiday_visit",
        cap_params={"campaign": campaign.name},
        description=campaign.name[:255],
        fund=fund,
        budget=budget,
        status=LineStatus.PAID,
        needs_level=BASE_LEVEL,
        created_by=user,
        # The standard was approved by the leader who opened the campaign; the cash is
        # handed over on the visit, so the line is paid on the day of the visit.
        approved_by=campaign.created_by,
        approved_at=timezone.now(),
        paid_on=visited_on,
    )
    post(budget, LedgerKind.COMMIT, cash_fen, line=line, memo=campaign.name[:255])
    post(budget, LedgerKind.PAY, cash_fen, line=line, memo=campaign.name[:255])
    return line


# --- progress --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressRow:
    """Targets and visits of one organisation's subtree (``organisation`` None: total)."""

    organisation: Organisation | None
    targets: int
    visited: int
    cash_fen: int

    @property
    def share(self) -> Decimal | None:
        """Per cent of the targets visited, to one decimal place."""
        if not self.targets:
            return None
        return (Decimal(self.visited * 100) / self.targets).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )


def progress(user: User, campaign: Campaign) -> list[ProgressRow]:
    """Per organisation one level below the user's (targets sitting at the user's own
    organisation get a row of their own), then the total: one grouped query."""
    organisation = user.organisation
    if organisation is None or not visible_campaigns(user).filter(pk=campaign.pk).exists():
        raise NotAllowed(_("This is outside your organisation."))
    child_path_length = (organisation.depth + 2) * (PATH_SEGMENT + len(PATH_SEP))
    rows = list(
        CampaignTarget.objects.filter(organisation.subtree_q("organisation__"), campaign=campaign)
        .annotate(branch=Substr("organisation__path", 1, child_path_length))
        .values("branch")
        .annotate(
            targets=Count("pk"),
            visited=Count("visit"),
            cash=Coalesce(Sum("visit__cash_fen"), V(0), output_field=BigIntegerField()),
        )
        .order_by("branch")
    )
    names = Organisation.objects.in_bulk([r["branch"] for r in rows], field_name="path")
    found = [
        ProgressRow(names.get(r["branch"]), r["targets"], r["visited"], r["cash"]) for r in rows
    ]
    total = ProgressRow(
        None,
        sum(r.targets for r in found),
        sum(r.visited for r in found),
        sum(r.cash_fen for r in found),
    )
    return [*found, total]
