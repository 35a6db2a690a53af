"""Funds, budgets down the organisation tree, the ledger, assistance lines, payments and
holiday-visit campaigns.

All money here is integer fen (``BigIntegerField``). Balances are never stored: they are
sums over :class:`LedgerEntry`, which is append-only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.audit.models import Audited, AuditSource
from gonghui.choicelabels import ChoiceLabels
from gonghui.hardship.models import HardshipFile, money_field, region_org_path, staff_field
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.models import Organisation, Region
from gonghui.organisations.scoping import RegionScopedQuerySet, ScopedQuerySet
from gonghui.people.models import Household, HouseholdMember, Worker

from .choices import (
    AidKind,
    BatchStatus,
    CampaignStatus,
    FundSource,
    LedgerKind,
    LineStatus,
    PaymentStatus,
    TargetKind,
)


def fen_field(verbose_name: Any, **kwargs: Any) -> models.BigIntegerField[Any, Any]:
    """An amount in fen (1 yuan = 100 fen): exact integer arithmetic in every database."""
    return models.BigIntegerField(verbose_name, **kwargs)


class Fund(Audited):
    """A pot of money with one source and the purposes it may be spent on (专款专用)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=128)
    source = models.CharField(_("source"), max_length=12, choices=FundSource.choices)
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("managed by"), on_delete=models.PROTECT, related_name="+"
    )
    purposes = models.JSONField(_("allowed purposes"), default=list)
    requires_file = models.BooleanField(
        _("pays only households with an active hardship file"), default=True
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("fund")
        verbose_name_plural = _("funds")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def audit_org_path(self) -> str:
        return self.organisation.path

    def allows(self, kind: str) -> bool:
        return kind in self.purposes


class Budget(Audited):
    """What one organisation may spend from one fund in one year. The amount is not a
    column: it is the sum of the budget's ledger entries."""

    fund = models.ForeignKey(
        Fund, verbose_name=_("fund"), on_delete=models.PROTECT, related_name="budgets"
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="+"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    parent = models.ForeignKey(
        "self",
        verbose_name=_("allocated from"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        ordering = ["year", "fund_id", "organisation__path"]
        constraints = [
            models.UniqueConstraint(
                fields=["fund", "organisation", "year"],
                name="one_budget_per_fund_org_year",
                violation_error_message=_(
                    "This organisation already has a budget of this fund for that year."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.fund.code} {self.organisation.name} {self.year}"

    def audit_org_path(self) -> str:
        return self.organisation.path


class LedgerEntryQuerySet(ScopedQuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Ledger entries cannot be changed; post a correcting entry.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ledger entries cannot be deleted; post a correcting entry.")


class LedgerEntry(ChoiceLabels):
    """One movement of money on one budget. Append-only: corrections are new entries.

    The effect of each kind on the budget's available, committed and paid money is fixed
    in :mod:`gonghui.assistance.ledger`; an auditor rebuilds every balance by summing."""

    budget = models.ForeignKey(
        Budget, verbose_name=_("budget"), on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LedgerKind.choices)
    amount_fen = fen_field(_("amount (fen)"))
    at = models.DateTimeField(_("when"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source = models.CharField(
        _("source"), max_length=16, choices=AuditSource.choices, default=AuditSource.SYSTEM
    )
    counterpart = models.ForeignKey(
        Budget,
        verbose_name=_("other budget"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    line = models.ForeignKey(
        "AssistanceLine",
        verbose_name=_("assistance line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
    )
    payment = models.ForeignKey(
        "Payment",
        verbose_name=_("payment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
    )
    memo = models.CharField(_("memo"), max_length=255, blank=True)

    objects = LedgerEntryQuerySet.as_manager()
    scope_field = "budget__organisation"

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["budget", "kind"], name="ledger_budget_kind_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_fen__gt=0),
                name="ledger_amount_positive",
                violation_error_message=_(
                    "A ledger amount is positive; its kind gives the direction."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.kind} {self.amount_fen}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Ledger entries cannot be changed; post a correcting entry.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ledger entries cannot be deleted; post a correcting entry.")


def default_education_amounts() -> dict[str, str]:
    # DESIGN §4.3: 金秋助学, e.g. 5,000 for university and 3,000 for high school.
    return {"university": "5000", "graduate": "5000", "senior": "3000", "vocational": "3000"}


def default_approval_levels() -> list[list[str]]:
    # DESIGN §4.3: above 20,000 the province approves, above 50,000 the national federation.
    return [["20000", OrganisationKind.PROVINCE], ["50000", OrganisationKind.NATIONAL]]


class AidPolicy(Audited):
    """A region's caps for assistance in a period (DESIGN §4.3). Editing raises the version."""

    name = models.CharField(_("name"), max_length=128)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    deep_living_months = models.PositiveSmallIntegerField(
        _("deep hardship: living aid, months of the standard a year"), default=10
    )
    relative_living_months = models.PositiveSmallIntegerField(
        _("relative hardship: living aid, months of the standard a year"), default=8
    )
    relative_one_kind = models.BooleanField(
        _("relative hardship: one kind of aid only"), default=True
    )
    living_per_person = models.BooleanField(
        _("living aid counts every household member"), default=True
    )
    medical_ratio = models.DecimalField(
        _("medical aid: share of the self-paid part"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.80"),
    )
    medical_cap = money_field(_("medical aid: cap (yuan)"), default=Decimal("16000"))
    major_illness_cap = money_field(_("major-illness aid: cap (yuan)"), default=Decimal("30000"))
    accident_ratio = models.DecimalField(
        _("accident aid: share of the hardship cost"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.15"),
    )
    accident_cap = money_field(_("accident aid: cap (yuan)"), default=Decimal("10000"))
    education_amounts = models.JSONField(
        _("education aid by school level (yuan)"), default=default_education_amounts
    )
    person_year_cap = money_field(_("cap per person a year (yuan)"), default=Decimal("20000"))
    household_year_cap = money_field(_("cap per household a year (yuan)"), default=Decimal("40000"))
    approval_levels = models.JSONField(
        _("amounts that need a higher level to approve"), default=default_approval_levels
    )
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = RegionScopedQuerySet.as_manager()
    scope_field = "region"

    class Meta:
        verbose_name = _("assistance policy")
        verbose_name_plural = _("assistance policies")
        ordering = ["region_id", "-valid_from"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def audit_org_path(self) -> str:
        return region_org_path(self.region_id)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            self.version += 1
        super().save(*args, **kwargs)


class AssistanceLineQuerySet(ScopedQuerySet["AssistanceLine"]):
    def for_user(self, user: Any) -> AssistanceLineQuerySet:
        return super().for_user(user)  # type: ignore[return-value]


class AssistanceLine(Audited):
    """One piece of help for a filed household: an amount from a fund, or non-cash help.

    ``proposed_fen``, ``cap_fen`` and ``cap_rule`` keep what the rules proposed and which
    rule capped it, so the case page can say why an amount is what it is."""

    # The person paid (by name, to their card): the applicant of the file, or the worker
    # visited in a campaign who may have no file at all.
    worker = models.ForeignKey(
        Worker, verbose_name=_("recipient"), on_delete=models.PROTECT, related_name="aid_lines"
    )
    file = models.ForeignKey(
        HardshipFile,
        verbose_name=_("file"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="aid_lines",
    )
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    member = models.ForeignKey(
        HouseholdMember,
        verbose_name=_("for member"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("union responsible"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    year = models.PositiveSmallIntegerField(_("year"))
    kind = models.CharField(_("kind"), max_length=16, choices=AidKind.choices)
    cash = models.BooleanField(_("cash"), default=True)
    amount_fen = fen_field(_("amount (fen)"), default=0)
    proposed_fen = fen_field(_("proposed (fen)"), default=0)
    cap_fen = fen_field(_("cap (fen)"), null=True, blank=True)
    cap_rule = models.CharField(_("capped by"), max_length=32, blank=True)
    cap_params = models.JSONField(default=dict, blank=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    fund = models.ForeignKey(
        Fund,
        verbose_name=_("fund"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lines",
    )
    budget = models.ForeignKey(
        Budget,
        verbose_name=_("budget"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lines",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=LineStatus.choices, default=LineStatus.PLANNED
    )
    needs_level = models.CharField(
        _("approved at level"), max_length=12, choices=OrganisationKind.choices, blank=True
    )
    created_by = staff_field(_("planned by"))
    approved_by = staff_field(_("approved by"), optional=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    failure_reason = models.CharField(_("reason for failure"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = AssistanceLineQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("assistance line")
        verbose_name_plural = _("assistance lines")
        ordering = ["-year", "id"]
        indexes = [
            models.Index(fields=["household", "year"], name="aid_household_year_idx"),
            models.Index(fields=["worker", "year"], name="aid_worker_year_idx"),
            models.Index(fields=["status", "fund"], name="aid_status_fund_idx"),
            models.Index(fields=["organisation", "status"], name="aid_org_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_fen__gte=0),
                name="aid_amount_not_negative",
                violation_error_message=_("An amount cannot be negative."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_fen} #{self.pk}"

    def audit_org_path(self) -> str:
        return self.organisation.path

    def audit_file_id(self) -> int | None:
        return self.file_id


class BankAccount(Audited):
    """A worker's bank card, paid by name: the holder is the worker (实名)."""

    worker = models.ForeignKey(
        Worker, verbose_name=_("worker"), on_delete=models.PROTECT, related_name="bank_accounts"
    )
    bank_name = models.CharField(_("bank"), max_length=64)
    account_number = models.CharField(_("card number"), max_length=32)
    holder_name = models.CharField(_("account holder"), max_length=64)
    active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "worker__organisation"

    class Meta:
        verbose_name = _("bank account")
        verbose_name_plural = _("bank accounts")
        ordering = ["-active", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker"],
                condition=models.Q(active=True),
                name="one_active_account_per_worker",
                violation_error_message=_("This worker already has a card in use."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.account_number[-4:]}"

    def audit_org_path(self) -> str:
        return self.worker.organisation.path


class PaymentBatch(Audited):
    """Approved lines of one fund sent to the bank together."""

    number = models.CharField(_("batch number"), max_length=32, unique=True)
    fund = models.ForeignKey(Fund, verbose_name=_("fund"), on_delete=models.PROTECT)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("paying organisation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=BatchStatus.choices, default=BatchStatus.OPEN
    )
    payment_count = models.PositiveIntegerField(_("payments"), default=0)
    total_fen = fen_field(_("total (fen)"), default=0)
    created_by = staff_field(_("prepared by"))
    exported_at = models.DateTimeField(_("exported at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    # SHA-256 of every bank result file applied, so importing one twice changes nothing.
    result_digests = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("payment batch")
        verbose_name_plural = _("payment batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number

    def audit_org_path(self) -> str:
        return self.organisation.path


class Payment(ChoiceLabels):
    """One transfer in a batch. A line has at most one payment that is pending or paid
    (a database constraint), so nothing is ever paid twice."""

    batch = models.ForeignKey(
        PaymentBatch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="payments"
    )
    line = models.ForeignKey(
        AssistanceLine,
        verbose_name=_("assistance line"),
        on_delete=models.PROTECT,
        related_name="payments",
    )
    amount_fen = fen_field(_("amount (fen)"))
    payee_name = models.CharField(_("payee"), max_length=64)
    bank_name = models.CharField(_("bank"), max_length=64)
    account_number = models.CharField(_("card number"), max_length=32)
    status = models.CharField(
        _("status"), max_length=8, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    failure_reason = models.CharField(_("reason for failure"), max_length=255, blank=True)
    bank_reference = models.CharField(_("bank reference"), max_length=64, blank=True)
    settled_on = models.DateField(_("settled on"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "batch__organisation"

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line"],
                condition=models.Q(status__in=["pending", "paid"]),
                name="one_live_payment_per_line",
                violation_error_message=_("This line is already being paid or has been paid."),
            ),
            models.CheckConstraint(
                condition=models.Q(amount_fen__gt=0),
                name="payment_amount_positive",
                violation_error_message=_("A payment is positive."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch.number}#{self.pk}"


class ModelWorker(Audited):
    """A worker honoured as a model worker (劳动模范), kept for holiday visits."""

    worker = models.ForeignKey(
        Worker, verbose_name=_("worker"), on_delete=models.PROTECT, related_name="honours"
    )
    title = models.CharField(_("title"), max_length=64)
    level = models.CharField(_("level"), max_length=12, choices=OrganisationKind.choices)
    year = models.PositiveSmallIntegerField(_("year"))

    objects = ScopedQuerySet.as_manager()
    scope_field = "worker__organisation"

    class Meta:
        verbose_name = _("model worker")
        verbose_name_plural = _("model workers")
        ordering = ["-year", "id"]

    def __str__(self) -> str:
        return f"{self.title} {self.year}"

    def audit_org_path(self) -> str:
        return self.worker.organisation.path


def default_standards() -> dict[str, dict[str, str]]:
    return {}


class Campaign(Audited):
    """A holiday-visit campaign (送温暖), e.g. New Year and Spring Festival."""

    name = models.CharField(_("name"), max_length=128)
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organised by"), on_delete=models.PROTECT, related_name="+"
    )
    fund = models.ForeignKey(Fund, verbose_name=_("fund"), on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField(_("budget year"))
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    status = models.CharField(
        _("status"), max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.OPEN
    )
    # Per target kind: {"amount": "500", "goods": "rice and oil"} (yuan as a string).
    standards = models.JSONField(_("standard per kind"), default=default_standards)
    created_by = staff_field(_("opened by"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("holiday-visit campaign")
        verbose_name_plural = _("holiday-visit campaigns")
        ordering = ["-starts_on", "-id"]

    def __str__(self) -> str:
        return self.name

    def audit_org_path(self) -> str:
        return self.organisation.path


class CampaignTarget(ChoiceLabels):
    """Someone the campaign means to visit, with the standard for their kind."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="targets"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=TargetKind.choices)
    worker = models.ForeignKey(Worker, verbose_name=_("worker"), on_delete=models.PROTECT)
    household = models.ForeignKey(
        Household, verbose_name=_("household"), null=True, blank=True, on_delete=models.PROTECT
    )
    file = models.ForeignKey(
        HardshipFile,
        verbose_name=_("file"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("union responsible"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    amount_fen = fen_field(_("standard amount (fen)"), default=0)
    goods = models.CharField(_("standard goods"), max_length=128, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")
        ordering = ["id"]
        indexes = [models.Index(fields=["campaign", "organisation"], name="target_org_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "worker"], name="one_target_per_worker_and_campaign"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.worker_id}"


def visit_photo_path(instance: Visit, filename: str) -> str:
    return f"visits/{instance.target.campaign_id}/{filename}"


class Visit(Audited):
    """A holiday visit done: when, who went, what was given (cash goes through the ledger
    as an assistance line)."""

    target = models.OneToOneField(
        CampaignTarget, verbose_name=_("target"), on_delete=models.PROTECT, related_name="visit"
    )
    visited_on = models.DateField(_("visited on"))
    visitors = models.CharField(_("visited by"), max_length=255)
    cash_fen = fen_field(_("cash given (fen)"), default=0)
    goods = models.CharField(_("goods given"), max_length=255, blank=True)
    photo = models.FileField(_("photo"), upload_to=visit_photo_path, blank=True)
    line = models.ForeignKey(
        AssistanceLine,
        verbose_name=_("assistance line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_by = staff_field(_("recorded by"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "target__organisation"

    class Meta:
        verbose_name = _("holiday visit")
        verbose_name_plural = _("holiday visits")
        ordering = ["-visited_on", "-id"]

    def __str__(self) -> str:
        return f"{self.target} {self.visited_on}"

    def audit_org_path(self) -> str:
        return self.target.organisation.path
