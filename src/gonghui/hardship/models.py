"""Policies, living standards and the hardship file with its lines, visits and events."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.audit.models import Audited
from gonghui.choicelabels import ChoiceLabels
from gonghui.organisations.models import Organisation, Region
from gonghui.organisations.scoping import RegionScopedQuerySet, ScopedQuerySet
from gonghui.people.models import Household, HouseholdMember, Worker

from .choices import (
    EventKind,
    ExitKind,
    ExpenseKind,
    FileStatus,
    FollowUpStatus,
    HardshipCategory,
    HardshipCause,
    IncomeKind,
)
from .rules import PolicyTerms

MONEY_DIGITS, MONEY_PLACES = 14, 2


def money_field(verbose_name: Any = None, **kwargs: Any) -> models.DecimalField[Any, Any]:
    """Money in yuan with fen precision: a Decimal, never a float."""
    return models.DecimalField(
        verbose_name, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs
    )


NON_NEGATIVE = [MinValueValidator(Decimal("0"))]


def default_exclusions() -> list[str]:
    from .choices import Exclusion

    return list(Exclusion.values)


def staff_field(verbose_name: Any, optional: bool = False) -> models.ForeignKey[Any, Any]:
    """The staff member who took a step; kept (PROTECT) because the history names them."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose_name,
        null=optional,
        blank=optional,
        on_delete=models.PROTECT,
        related_name="+",
    )


def region_org_path(region_code: str) -> str:
    """The path of the highest organisation of a region, so that changes to the region's
    policy reach the auditors of that organisation's subtree."""
    path = (
        Organisation.objects.filter(region_id=region_code)
        .order_by("depth")
        .values_list("path", flat=True)
        .first()
    )
    return path or ""


def default_follow_up_months() -> list[int]:
    return [3, 6, 12]


class LivingStandard(Audited):
    """The local minimum living allowance (低保) in yuan per person per month."""

    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    monthly_amount = money_field(_("standard (yuan per person per month)"), validators=NON_NEGATIVE)

    objects = RegionScopedQuerySet.as_manager()
    scope_field = "region"

    class Meta:
        verbose_name = _("minimum living standard")
        verbose_name_plural = _("minimum living standards")
        ordering = ["region_id", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "valid_from"],
                name="one_standard_per_region_and_start",
                violation_error_message=_("This region already has a standard from that day."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.region.name} {self.valid_from:%Y-%m}: {self.monthly_amount}"

    def audit_org_path(self) -> str:
        return region_org_path(self.region_id)


class Policy(Audited):
    """A region's rules for a period. Editing raises the version; files keep a snapshot."""

    name = models.CharField(_("name"), max_length=128)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    relative_multiplier = models.DecimalField(
        _("relative hardship: multiple of the standard"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("2"),
    )
    accident_multiplier = models.DecimalField(
        _("accident hardship: multiple of the standard"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("3"),
    )
    accident_cost_ratio = models.DecimalField(
        _("accident test: hardship costs above this share of yearly income"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.80"),
    )
    minimum_wage = money_field(_("local minimum wage (yuan a month)"), default=Decimal("0"))
    count_union_aid = models.BooleanField(_("count union aid as income"), default=True)
    count_holiday_gifts = models.BooleanField(_("count small holiday gifts"), default=False)
    count_basic_pension = models.BooleanField(_("count the basic resident pension"), default=False)
    exclusions = models.JSONField(_("exclusions in force"), default=default_exclusions)
    review_interval_months = models.PositiveSmallIntegerField(
        _("review every (months)"), default=12
    )
    notice_working_days = models.PositiveSmallIntegerField(
        _("public notice (working days)"), default=5
    )
    investigation_days = models.PositiveSmallIntegerField(_("investigate within (days)"), default=5)
    exit_months = models.PositiveSmallIntegerField(
        _("months above the standard before exit"), default=6
    )
    follow_up_months = models.JSONField(
        _("follow-ups after exit (months)"), default=default_follow_up_months
    )
    # The limits the "within the limit" indicators measure against (issue 5).
    filing_limit_days = models.PositiveSmallIntegerField(
        _("file within (days of the application)"), default=30
    )
    help_limit_days = models.PositiveSmallIntegerField(
        _("first help within (days of filing)"), default=30
    )
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = RegionScopedQuerySet.as_manager()
    scope_field = "region"

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        ordering = ["region_id", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(relative_multiplier__gte=1),
                name="relative_multiplier_at_least_one",
                violation_error_message=_("The relative multiple must be at least 1."),
            ),
            models.CheckConstraint(
                condition=models.Q(review_interval_months__lte=12),
                name="review_at_least_yearly",
                violation_error_message=_("Files are reviewed at least once a year."),
            ),
            models.CheckConstraint(
                condition=models.Q(notice_working_days__gte=5),
                name="notice_at_least_five_days",
                violation_error_message=_("Public notice lasts at least 5 working days."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def audit_org_path(self) -> str:
        return region_org_path(self.region_id)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            self.version += 1
        super().save(*args, **kwargs)

    def terms(self, living_standard: Decimal) -> PolicyTerms:
        return PolicyTerms(
            living_standard=living_standard,
            relative_multiplier=self.relative_multiplier,
            accident_multiplier=self.accident_multiplier,
            accident_cost_ratio=self.accident_cost_ratio,
            minimum_wage=self.minimum_wage,
            count_union_aid=self.count_union_aid,
            count_holiday_gifts=self.count_holiday_gifts,
            count_basic_pension=self.count_basic_pension,
            exclusions=frozenset(self.exclusions),
            exit_months=self.exit_months,
        )


class HardshipFileQuerySet(ScopedQuerySet["HardshipFile"]):
    def with_people(self) -> HardshipFileQuerySet:
        return self.select_related("applicant", "organisation", "household__region")

    def for_user(self, user: Any) -> HardshipFileQuerySet:
        return super().for_user(user)  # type: ignore[return-value]


class HardshipFile(Audited):
    """The file (建档立卡) of one household in hardship, from application to exit."""

    number = models.CharField(_("file number"), max_length=32, unique=True)
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.PROTECT, related_name="files"
    )
    applicant = models.ForeignKey(
        Worker, verbose_name=_("applicant"), on_delete=models.PROTECT, related_name="files"
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("union responsible"),
        on_delete=models.PROTECT,
        related_name="hardship_files",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=FileStatus.choices, default=FileStatus.DRAFT
    )
    applied_on = models.DateField(_("applied on"))
    income_pledge = models.BooleanField(_("income pledge signed"), default=False)
    finance_check_authorised = models.BooleanField(
        _("family finance check authorised"), default=False
    )
    primary_cause = models.PositiveSmallIntegerField(
        _("primary cause"), choices=HardshipCause.choices
    )
    secondary_causes = models.JSONField(_("secondary causes"), default=list, blank=True)
    exclusions_found = models.JSONField(_("exclusions found"), default=list, blank=True)
    idle_able_members = models.PositiveSmallIntegerField(
        _("able members of working age without a job"), default=0
    )

    # The latest assessment, with the policy it was made under.
    per_capita_income = money_field(_("per-capita monthly net income"), null=True, blank=True)
    proposed_category = models.CharField(
        _("proposed category"), max_length=10, choices=HardshipCategory.choices, blank=True
    )
    decision_trace = models.JSONField(_("decision trace"), default=list, blank=True)
    policy = models.ForeignKey(
        Policy, verbose_name=_("policy"), null=True, blank=True, on_delete=models.PROTECT
    )
    policy_version = models.PositiveIntegerField(_("policy version"), null=True, blank=True)
    policy_snapshot = models.JSONField(default=dict, blank=True)
    assessed_at = models.DateTimeField(null=True, blank=True)

    category = models.CharField(
        _("category"), max_length=10, choices=HardshipCategory.choices, blank=True
    )
    created_by = staff_field(_("opened by"))
    submitted_by = staff_field(_("submitted by"), optional=True)
    reviewed_by = staff_field(_("reviewed by"), optional=True)
    approved_by = staff_field(_("approved by"), optional=True)
    notice_start = models.DateField(_("public notice from"), null=True, blank=True)
    notice_end = models.DateField(_("public notice until"), null=True, blank=True)
    filed_on = models.DateField(_("filed on"), null=True, blank=True)
    review_due = models.DateField(_("review due"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    exit_kind = models.CharField(_("exit"), max_length=12, choices=ExitKind.choices, blank=True)
    exit_on = models.DateField(_("exited on"), null=True, blank=True)
    exit_reason = models.TextField(_("exit notes"), blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = HardshipFileQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("hardship file")
        verbose_name_plural = _("hardship files")
        ordering = ["-applied_on", "-id"]
        indexes = [
            # Work queue: reviews due and notices ending, per status, in date order.
            models.Index(fields=["status", "review_due"], name="file_status_review_idx"),
            models.Index(fields=["status", "notice_end"], name="file_status_notice_idx"),
            # A union's work queue (hardship/queue.py): by status, then the dates its rules
            # read. "Periodic review due" reads a county's few rows instead of every filed
            # file in the province (14 ms -> 0.6 ms on the demo at 100,000 files), and the
            # tab counts and the ordered page read the index alone, not the wide file rows
            # (hence exit_on and id, the follow-up rule's due date and its EXISTS).
            models.Index(
                fields=[
                    "organisation",
                    "status",
                    "review_due",
                    "applied_on",
                    "notice_end",
                    "exit_on",
                    "id",
                ],
                name="file_queue_idx",
            ),
            models.Index(fields=["status", "applied_on"], name="file_status_applied_idx"),
            # File search lists newest first: the top of a page without sorting every match.
            models.Index(fields=["-applied_on", "-id"], name="file_applied_desc_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["household"],
                condition=~models.Q(status__in=["rejected", "closed"]),
                name="one_open_file_per_household",
                violation_error_message=_("This household already has an open file."),
            )
        ]

    def __str__(self) -> str:
        return self.number

    def audit_org_path(self) -> str:
        return self.organisation.path

    def audit_file_id(self) -> int | None:
        return self.pk

    @property
    def causes(self) -> list[int]:
        return [self.primary_cause, *self.secondary_causes]

    def terms(self) -> PolicyTerms | None:
        return PolicyTerms.from_json(self.policy_snapshot) if self.policy_snapshot else None


class OfFile:
    """Mixin for records that belong to a hardship file: audited under the file's
    organisation and shown on the file's timeline."""

    file: HardshipFile
    file_id: int

    def audit_org_path(self) -> str:
        return self.file.organisation.path

    def audit_file_id(self) -> int | None:
        return self.file_id


class FileLine(OfFile, Audited):
    """Base of the money lines of a file: a kind and a total over 12 months."""

    file = models.ForeignKey(
        HardshipFile, verbose_name=_("file"), on_delete=models.CASCADE, related_name="%(class)ss"
    )
    member = models.ForeignKey(
        HouseholdMember,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    amount = money_field(_("amount over 12 months (yuan)"), validators=NON_NEGATIVE)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        abstract = True


class IncomeLine(FileLine):
    """Income of the household over the 12 months before applying."""

    kind = models.CharField(_("kind"), max_length=16, choices=IncomeKind.choices)

    class Meta:
        verbose_name = _("income")
        verbose_name_plural = _("income")
        ordering = ["id"]


class ExpenseLine(FileLine):
    """A rigid expense over the 12 months before applying."""

    kind = models.CharField(_("kind"), max_length=16, choices=ExpenseKind.choices)

    class Meta:
        verbose_name = _("rigid expense")
        verbose_name_plural = _("rigid expenses")
        ordering = ["id"]


class Investigation(OfFile, Audited):
    """The home visit (入户调查) of a file."""

    file = models.ForeignKey(
        HardshipFile,
        verbose_name=_("file"),
        on_delete=models.CASCADE,
        related_name="investigations",
    )
    visited_on = models.DateField(_("visited on"))
    investigator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("investigator"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    co_investigators = models.CharField(_("with"), max_length=128, blank=True)
    findings = models.TextField(_("findings"))
    household_confirmed = models.BooleanField(
        _("household members and income confirmed on site"), default=True
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("home investigation")
        verbose_name_plural = _("home investigations")
        ordering = ["-visited_on", "-id"]


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"files/{instance.file_id}/{filename}"


class Attachment(OfFile, Audited):
    """A photo or document attached to a file, usually from the home visit."""

    file = models.ForeignKey(
        HardshipFile, verbose_name=_("file"), on_delete=models.CASCADE, related_name="attachments"
    )
    investigation = models.ForeignKey(
        Investigation,
        verbose_name=_("home investigation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    upload = models.FileField(_("file"), upload_to=attachment_path)
    caption = models.CharField(_("caption"), max_length=128, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")


class FileEvent(ChoiceLabels):
    """One step in a file's life, shown on its timeline. Written only by the services."""

    file = models.ForeignKey(
        HardshipFile, verbose_name=_("file"), on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(_("when"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("event"), max_length=16, choices=EventKind.choices)
    from_status = models.CharField(max_length=12, choices=FileStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=FileStatus.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("file event")
        verbose_name_plural = _("file events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.file_id} {self.kind} {self.at:%Y-%m-%d}"


class PeriodicReview(OfFile, Audited):
    """A periodic re-check (年审/复核) of a filed household, with its own assessment."""

    file = models.ForeignKey(
        HardshipFile, verbose_name=_("file"), on_delete=models.CASCADE, related_name="reviews"
    )
    due_on = models.DateField(_("due on"))
    done_on = models.DateField(_("done on"))
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    per_capita_income = money_field(_("per-capita monthly net income"))
    previous_category = models.CharField(
        _("previous category"), max_length=10, choices=HardshipCategory.choices
    )
    category = models.CharField(_("category"), max_length=10, choices=HardshipCategory.choices)
    decision_trace = models.JSONField(default=list)
    policy_snapshot = models.JSONField(default=dict)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("periodic review")
        verbose_name_plural = _("periodic reviews")
        ordering = ["-done_on", "-id"]


class IncomeReading(OfFile, Audited):
    """Per-capita income of a filed household in one month, for the exit rule."""

    file = models.ForeignKey(
        HardshipFile, verbose_name=_("file"), on_delete=models.CASCADE, related_name="readings"
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    per_capita_income = money_field(_("per-capita income"))
    living_standard = money_field(_("standard that month"))

    class Meta:
        verbose_name = _("monthly income reading")
        verbose_name_plural = _("monthly income readings")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(
                fields=["file", "month"],
                name="one_reading_per_month",
                violation_error_message=_("That month is already recorded."),
            )
        ]


class FollowUp(OfFile, Audited):
    """A scheduled contact with a household after exit (and, later, after help)."""

    file = models.ForeignKey(
        HardshipFile, verbose_name=_("file"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    due_on = models.DateField(_("due on"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=8, choices=FollowUpStatus.choices, default=FollowUpStatus.DUE
    )
    done_on = models.DateField(_("done on"), null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["due_on"]
        indexes = [
            models.Index(fields=["status", "due_on"], name="followup_status_due_idx"),
            # The work queue's "follow-up due" test is an EXISTS per closed file.
            models.Index(fields=["file", "status", "due_on"], name="followup_file_status_due_idx"),
        ]


def first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)
