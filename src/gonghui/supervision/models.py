"""Competitions (劳动竞赛): who competes in which tier, the indicators with their weights
and normalisation, the judges' innovation scores, and the snapshot of a frozen ranking."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.audit.models import Audited
from gonghui.hardship.models import staff_field
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import ScopedQuerySet


class Normalisation(models.TextChoices):
    RANK = "rank", _("By rank")
    MIN_MAX = "min_max", _("Min–max")


class CompetitionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FROZEN = "frozen", _("Frozen")


class Competition(Audited):
    """A labour competition over a period among the organisations of its tiers."""

    name = models.CharField(_("name"), max_length=128)
    organiser = models.ForeignKey(
        Organisation, verbose_name=_("organised by"), on_delete=models.PROTECT, related_name="+"
    )
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period until"))
    innovation_weight = models.DecimalField(
        _("innovation (工作思路创新): points"),
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        max_digits=8,
        decimal_places=2,
    )
    previous = models.ForeignKey(
        "self",
        verbose_name=_("previous period's competition"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    judges = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("judges"), blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=CompetitionStatus.choices,
        default=CompetitionStatus.OPEN,
    )
    created_by = staff_field(_("defined by"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organiser"

    class Meta:
        verbose_name = _("competition")
        verbose_name_plural = _("competitions")
        ordering = ["-period_end", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="competition_period_in_order",
                violation_error_message=_("The period ends before it starts."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def audit_org_path(self) -> str:
        return self.organiser.path


class Tier(Audited):
    """A group of organisations ranked against each other (e.g. all city federations)."""

    competition = models.ForeignKey(
        Competition, verbose_name=_("competition"), on_delete=models.CASCADE, related_name="tiers"
    )
    name = models.CharField(_("name"), max_length=64)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    organisations = models.ManyToManyField(
        Organisation, verbose_name=_("competitors"), related_name="+"
    )

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "name"],
                name="one_tier_name_per_competition",
                violation_error_message=_("The competition already has a tier of that name."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def audit_org_path(self) -> str:
        return self.competition.organiser.path


class CompetitionIndicator(Audited):
    """One indicator of a competition with its weight (points) and normalisation.
    Caps clip the raw value before normalising, so one outlier cannot flatten the rest."""

    competition = models.ForeignKey(
        Competition,
        verbose_name=_("competition"),
        on_delete=models.CASCADE,
        related_name="indicators",
    )
    code = models.CharField(_("indicator"), max_length=40)
    weight = models.DecimalField(
        _("points"), validators=[MinValueValidator(Decimal("0"))], max_digits=8, decimal_places=2
    )
    normalisation = models.CharField(
        _("normalisation"),
        max_length=8,
        choices=Normalisation.choices,
        default=Normalisation.MIN_MAX,
    )
    cap_low = models.DecimalField(
        _("values below count as"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    cap_high = models.DecimalField(
        _("values above count as"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("competition indicator")
        verbose_name_plural = _("competition indicators")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "code"],
                name="one_indicator_per_competition",
                violation_error_message=_("The competition already has this indicator."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.weight})"

    def audit_org_path(self) -> str:
        return self.competition.organiser.path


class JudgeScore(Audited):
    """One judge's innovation score (0–100) for one competitor, with their comment. Each
    judge's score is kept; the ranking uses the mean."""

    competition = models.ForeignKey(
        Competition,
        verbose_name=_("competition"),
        on_delete=models.CASCADE,
        related_name="judge_scores",
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("competitor"), on_delete=models.PROTECT, related_name="+"
    )
    judge = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("judge"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    score = models.DecimalField(
        _("score (0–100)"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        max_digits=8,
        decimal_places=2,
    )
    comment = models.TextField(_("comment"), blank=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("judge's score")
        verbose_name_plural = _("judges' scores")
        ordering = ["organisation_id", "judge_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "organisation", "judge"],
                name="one_score_per_judge_and_competitor",
                violation_error_message=_("This judge has already scored this union."),
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100),
                name="judge_score_0_to_100",
                violation_error_message=_("A score lies between 0 and 100."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.competition_id}:{self.organisation_id}:{self.judge_id} {self.score}"

    def audit_org_path(self) -> str:
        return self.organisation.path


class Snapshot(Audited):
    """A frozen ranking with every input behind it (indicator values with numerators and
    denominators, weights, judges' scores): later edits to files change nothing here."""

    competition = models.OneToOneField(
        Competition,
        verbose_name=_("competition"),
        on_delete=models.PROTECT,
        related_name="snapshot",
    )
    frozen_at = models.DateTimeField(_("frozen at"), auto_now_add=True)
    frozen_by = staff_field(_("frozen by"))
    data = models.JSONField(_("ranking and inputs"))

    class Meta:
        verbose_name = _("ranking snapshot")
        verbose_name_plural = _("ranking snapshots")

    def __str__(self) -> str:
        return f"{self.competition} @ {self.frozen_at:%Y-%m-%d}"

    def audit_org_path(self) -> str:
        return self.competition.organiser.path

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("A snapshot cannot be changed.")
        super().save(*args, **kwargs)
