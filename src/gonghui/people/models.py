"""Workers keyed by resident ID number, their memberships and their households."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gonghui.audit.models import Audited
from gonghui.organisations.models import Organisation, Region
from gonghui.organisations.scoping import ScopedQuerySet

from . import idnumber
from .choices import (
    Disability,
    Employment,
    EmploymentForm,
    Health,
    MembershipStatus,
    Relation,
    Schooling,
    Sex,
)


class WorkerQuerySet(ScopedQuerySet["Worker"]):
    def current(self) -> WorkerQuerySet:
        """Workers not merged into another record (``people/merge.py``)."""
        return self.filter(merged_into__isnull=True)

    def holding(self, id_number: str) -> WorkerQuerySet:
        """The current worker known by this ID number: its own, or that of a record merged
        into it (the person registered twice under a mistyped number is found by either).
        Chains were flattened at merge time, so one level is enough."""
        merged = Worker.objects.filter(id_number=id_number, merged_into__isnull=False)
        return self.filter(
            models.Q(id_number=id_number) | models.Q(pk__in=merged.values("merged_into_id"))
        )

    def for_user(self, user: Any, *, merged: bool = False) -> WorkerQuerySet:
        """The user's workers. A record merged into another one is hidden from every list,
        search and choice (it lives on only as the survivor's history) unless ``merged``
        asks for it: the page that redirects an old link to the survivor does."""
        workers: WorkerQuerySet = super().for_user(user)  # type: ignore[assignment]
        return workers if merged else workers.current()


class Worker(Audited):
    """A person, keyed by resident ID number; birth date and sex come from the number.

    A person registered twice is merged (``people/merge.py``): the duplicate record stays,
    with its ID number, marked ``merged_into`` the survivor, and everything that pointed at
    it points at the survivor."""

    id_number = models.CharField(_("ID number"), max_length=18, unique=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64, db_index=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, editable=False)
    birth_date = models.DateField(_("date of birth"), editable=False)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    region = models.ForeignKey(
        Region,
        verbose_name=_("region of residence"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("union"),
        on_delete=models.PROTECT,
        related_name="workers",
        help_text=_("The union responsible for this worker."),
    )
    employer = models.CharField(_("employer"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="merged_records",
    )
    merged_at = models.DateTimeField(_("merged on"), null=True, blank=True, editable=False)

    objects = WorkerQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("worker")
        verbose_name_plural = _("workers")

    def __str__(self) -> str:
        return self.name

    def audit_org_path(self) -> str:
        return self.organisation.path

    def clean_fields(self, exclude: Any = None) -> None:
        # Full-width digits, spaces and old 15-digit numbers are tidied before the
        # 18-character field limit is checked, so the person gets the real message.
        self.id_number = idnumber.tidy(self.id_number)
        super().clean_fields(exclude)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        try:
            info = idnumber.validate_id_number(self.id_number)
            self.id_number, self.birth_date, self.sex = info.number, info.birth_date, info.sex
        except ValidationError as exc:
            errors["id_number"] = exc
        if self.phone:
            try:
                self.phone = idnumber.validate_phone(self.phone)
            except ValidationError as exc:
                errors["phone"] = exc
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Derived fields always follow the number, whoever saves.
        if self.id_number and len(self.id_number) == 18:
            self.birth_date = datetime.date(
                int(self.id_number[6:10]), int(self.id_number[10:12]), int(self.id_number[12:14])
            )
            self.sex = Sex.MALE if int(self.id_number[16]) % 2 else Sex.FEMALE
        super().save(*args, **kwargs)

    def age_on(self, day: datetime.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


class Membership(Audited):
    """A worker's membership of a union, with the form of employment."""

    worker = models.ForeignKey(
        Worker, verbose_name=_("worker"), on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("union"), on_delete=models.PROTECT, related_name="+"
    )
    since = models.DateField(_("member since"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=MembershipStatus.choices,
        default=MembershipStatus.ACTIVE,
    )
    employment_form = models.CharField(
        _("employment form"),
        max_length=16,
        choices=EmploymentForm.choices,
        default=EmploymentForm.STANDARD,
    )

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["worker"],
                condition=models.Q(status="active"),
                name="one_active_membership",
                violation_error_message=_("This worker already has an active membership."),
            )
        ]

    def audit_org_path(self) -> str:
        return self.organisation.path


class Household(Audited):
    """People who live together and share income; the unit a hardship file is about."""

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("union"), on_delete=models.PROTECT, related_name="households"
    )
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT)
    address = models.CharField(_("address"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        head = self.members.filter(relation=Relation.SELF).first()
        return str(_("Household of %(name)s") % {"name": head.name if head else self.pk})

    def audit_org_path(self) -> str:
        return self.organisation.path


class HouseholdMember(Audited):
    """One member of a household; a member may or may not be a registered worker."""

    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.CASCADE, related_name="members"
    )
    worker = models.ForeignKey(
        Worker,
        verbose_name=_("worker"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="household_memberships",
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64)
    id_number = models.CharField(_("ID number"), max_length=18, blank=True)
    relation = models.CharField(_("relation"), max_length=12, choices=Relation.choices)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    health = models.CharField(
        _("health"), max_length=10, choices=Health.choices, default=Health.HEALTHY
    )
    disability = models.CharField(
        _("disability"), max_length=4, choices=Disability.choices, default=Disability.NONE
    )
    schooling = models.CharField(
        _("schooling"), max_length=12, choices=Schooling.choices, default=Schooling.NONE
    )
    employment = models.CharField(
        _("employment"), max_length=12, choices=Employment.choices, default=Employment.EMPLOYED
    )
    monthly_income = models.DecimalField(
        _("monthly income (yuan)"), max_digits=12, decimal_places=2, default=Decimal("0")
    )

    objects = ScopedQuerySet.as_manager()
    scope_field = "household__organisation"

    class Meta:
        verbose_name = _("household member")
        verbose_name_plural = _("household members")
        ordering = ["household_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker"],
                name="worker_in_one_household",
                violation_error_message=_("This worker already belongs to another household."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def audit_org_path(self) -> str:
        return self.household.organisation.path

    def clean_fields(self, exclude: Any = None) -> None:
        self.id_number = idnumber.tidy(self.id_number)
        super().clean_fields(exclude)

    def clean(self) -> None:
        if self.id_number:
            try:
                info = idnumber.validate_id_number(self.id_number)
            except ValidationError as exc:
                raise ValidationError({"id_number": exc}) from None
            self.id_number, self.birth_date = info.number, info.birth_date
