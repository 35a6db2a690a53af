"""Competitions (劳动竞赛): who competes in which tier, the indicators with their weights
and normalisation, the judges' innovation scores, and the snapshot of a frozen ranking."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gonghui.audit.models import Audited
from gonghui.choicelabels import ChoiceLabels
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


# --- follow-ups, supervision tasks and the daily digest (issue 5, point 1) -----------------


class FollowUpReason(models.TextChoices):
    PAYMENT = "payment", _("After a payment")
    EXIT = "exit", _("After exit")
    REVIEW = "review", _("At review time")
    MANUAL = "manual", _("Scheduled by hand")


class FollowUpPlan(Audited):
    """Why a follow-up (:class:`~gonghui.hardship.models.FollowUp`) was scheduled and what
    it is for. A follow-up without a plan was scheduled by an exit (the older path).

    ``file`` repeats the follow-up's file so that the database itself allows one
    follow-up per file and payment batch, and one per periodic review."""

    follow_up = models.OneToOneField(
        "hardship.FollowUp",
        verbose_name=_("follow-up"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="plan",
    )
    file = models.ForeignKey(
        "hardship.HardshipFile", verbose_name=_("file"), on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(_("scheduled"), max_length=8, choices=FollowUpReason.choices)
    purpose = models.CharField(_("purpose"), max_length=255)
    batch = models.ForeignKey(
        "assistance.PaymentBatch",
        verbose_name=_("payment batch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    review = models.ForeignKey(
        "hardship.PeriodicReview",
        verbose_name=_("periodic review"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_by = staff_field(_("scheduled by"), optional=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()
    scope_field = "file__organisation"

    class Meta:
        verbose_name = _("follow-up plan")
        verbose_name_plural = _("follow-up plans")
        constraints = [
            models.UniqueConstraint(
                fields=["file", "batch"],
                condition=models.Q(batch__isnull=False),
                name="one_follow_up_per_file_and_batch",
                violation_error_message=_("This file already has a follow-up for this batch."),
            ),
            models.UniqueConstraint(
                fields=["review"],
                condition=models.Q(review__isnull=False),
                name="one_follow_up_per_review",
                violation_error_message=_("This review already has its follow-up."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.follow_up_id} {self.reason}"

    def audit_org_path(self) -> str:
        return self.file.organisation.path

    def audit_file_id(self) -> int | None:
        return self.file_id


class TaskKind(models.TextChoices):
    SPOT_CHECK = "spot_check", _("Spot check of files")
    SITE_INSPECTION = "site", _("Site inspection")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    FINDINGS = "findings", _("Findings recorded")
    RECTIFIED = "rectified", _("Rectified")
    CLOSED = "closed", pgettext_lazy("task", "Closed")


class FindingResult(models.TextChoices):
    PENDING = "", _("Not checked yet")
    OK = "ok", _("No problem")
    PROBLEM = "problem", _("Problem")


class SupervisionTask(Audited):
    """A task an upper union gives a lower one in its subtree: a spot check of a share of
    its filed files (drawn at assignment from ``seed``), or a site inspection."""

    kind = models.CharField(_("kind"), max_length=12, choices=TaskKind.choices)
    title = models.CharField(_("title"), max_length=128)
    instructions = models.TextField(_("instructions"), blank=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("assigned to"),
        on_delete=models.PROTECT,
        related_name="supervision_tasks",
    )
    assigned_by_organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("assigned by (union)"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    assigned_by = staff_field(_("assigned by"))
    assigned_on = models.DateField(_("assigned on"))
    due_on = models.DateField(_("due on"))
    share_percent = models.PositiveSmallIntegerField(
        _("share of files checked (%)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    seed = models.BigIntegerField(_("draw seed"), default=0)
    population = models.PositiveIntegerField(_("filed files at assignment"), default=0)
    population_digest = models.CharField(
        _("fingerprint of the files drawn from"), max_length=64, blank=True
    )
    status = models.CharField(
        _("status"), max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    summary = models.TextField(_("summary of findings"), blank=True)
    findings_on = models.DateField(_("findings recorded on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    closed_by = staff_field(_("closed by"), optional=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("supervision task")
        verbose_name_plural = _("supervision tasks")
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["status", "due_on"], name="task_status_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(share_percent__gte=1, share_percent__lte=100),
                name="task_share_1_to_100",
                violation_error_message=_("The share lies between 1 and 100 %."),
            ),
            models.CheckConstraint(
                condition=models.Q(due_on__gte=models.F("assigned_on")),
                name="task_due_after_assignment",
                violation_error_message=_("The task is due before it is assigned."),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def audit_org_path(self) -> str:
        return self.organisation.path


class Finding(Audited):
    """One checked item of a task: a drawn file (spot check) or a point found on site,
    with its result and, for a problem, the rectification."""

    task = models.ForeignKey(
        SupervisionTask, verbose_name=_("task"), on_delete=models.CASCADE, related_name="findings"
    )
    file = models.ForeignKey(
        "hardship.HardshipFile",
        verbose_name=_("file"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    position = models.PositiveIntegerField(_("order"), default=0)
    result = models.CharField(
        _("result"), max_length=8, choices=FindingResult.choices, default="", blank=True
    )
    description = models.TextField(_("description"), blank=True)
    checked_on = models.DateField(_("checked on"), null=True, blank=True)
    checked_by = staff_field(_("checked by"), optional=True)
    rectify_by = models.DateField(_("rectify by"), null=True, blank=True)
    rectified_on = models.DateField(_("rectified on"), null=True, blank=True)
    evidence = models.TextField(_("evidence of rectification"), blank=True)
    rectified_by = staff_field(_("rectification recorded by"), optional=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "task__organisation"

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["task_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "file"],
                condition=models.Q(file__isnull=False),
                name="one_finding_per_task_and_file",
                violation_error_message=_("This file is already part of the task."),
            ),
            models.CheckConstraint(
                condition=~models.Q(result="problem") | models.Q(rectify_by__isnull=False),
                name="problem_has_rectification_deadline",
                violation_error_message=_("A problem needs a rectification deadline."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_id}:{self.position} {self.result}"

    def audit_org_path(self) -> str:
        return self.task.organisation.path

    def audit_file_id(self) -> int | None:
        return self.file_id


class Digest(ChoiceLabels):
    """A user's daily digest: what is overdue or due for them that day, as text and HTML.
    One per user and day; building it again returns the stored one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="digests",
    )
    day = models.DateField(_("day"))
    language = models.CharField(_("language"), max_length=8)
    counts = models.JSONField(_("counts"), default=dict)
    text = models.TextField(_("text"))
    html = models.TextField(_("HTML"))
    created_at = models.DateTimeField(_("built at"), default=timezone.now)

    class Meta:
        verbose_name = _("daily digest")
        verbose_name_plural = _("daily digests")
        ordering = ["-day", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="one_digest_per_user_and_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"


# --- the indicator value store (materialised values) -----------------------------------------


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    CURRENT = "current", _("Current")
    SUPERSEDED = "superseded", _("Superseded")
    FAILED = "failed", _("Failed")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("the daily schedule")
    USER = "user", _("recompute now")
    PAGE = "page", _("the first view of the period")
    COMMAND = "command", _("the command line")


class IndicatorRun(ChoiceLabels):
    """One computation of the indicators for one period, for every organisation: what a page
    says its values are "as of". Its values are read only while it is ``current``; a run
    becomes current when all its values are written, and the run it replaces becomes
    ``superseded`` in the same transaction (``supervision.store``)."""

    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period until"))
    codes = models.JSONField(_("indicators"), default=list)
    status = models.CharField(
        _("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    trigger = models.CharField(_("started by"), max_length=12, choices=RunTrigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The records are read from this moment on: the values are "as of" it.
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    rows = models.PositiveIntegerField(_("values"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("indicator computation")
        verbose_name_plural = _("indicator computations")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(
                fields=["period_start", "period_end", "status"], name="indicator_run_period_idx"
            )
        ]
        constraints = [
            # Two refreshes of the same period never run at once (the store also holds a
            # lock per period; this is the database's word on it).
            models.UniqueConstraint(
                fields=["period_start", "period_end"],
                condition=models.Q(status="running"),
                name="one_running_indicator_run_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.period_start}–{self.period_end} {self.status} @ {self.started_at:%Y-%m-%d}"


class IndicatorValue(ChoiceLabels):
    """One stored value: an indicator for one organisation's subtree, as its run computed it
    (``indicators.Value``: the value, None for no data; numerator, None for a median; and
    the denominator). The period and the computation time are the run's."""

    # No index of their own: the unique (run, organisation, code) serves the reads and the
    # deletion of a run's values, and one index less keeps writing a run's values fast.
    run = models.ForeignKey(
        IndicatorRun,
        verbose_name=_("computation"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    code = models.CharField(_("indicator"), max_length=64)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    value = models.DecimalField(_("value"), max_digits=24, decimal_places=4, null=True, blank=True)
    numerator = models.BigIntegerField(_("numerator"), null=True, blank=True)
    denominator = models.BigIntegerField(_("denominator"))

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("indicator value")
        verbose_name_plural = _("indicator values")
        constraints = [
            models.UniqueConstraint(
                fields=["run", "organisation", "code"], name="one_value_per_run_org_code"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.organisation_id} = {self.value}"
