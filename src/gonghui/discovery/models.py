"""Roster sources and their imports: what was read, what was loaded, and what was refused.

The rows themselves live in files beside the database (``settings.DATA_DIR/discovery``):
the accepted rows as Parquet (the analytical store), the refused rows with their reasons,
and the ids of the workers each import created. The database keeps the report and one
record per committed chunk, which is what makes an import resumable and reversible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.audit.models import Audited
from gonghui.choicelabels import ChoiceLabels
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import ScopedQuerySet
from gonghui.people.models import Worker

from .choices import (
    CandidateStatus,
    ImportPhase,
    ImportStatus,
    JobStatus,
    RuleStatus,
    RunKind,
    SourceKind,
)


def work_root() -> Path:
    return Path(getattr(settings, "GONGHUI_DISCOVERY_DIR", settings.DATA_DIR / "discovery"))


class RosterSourceQuerySet(ScopedQuerySet["RosterSource"]):
    def usable_by(self, user: Any) -> RosterSourceQuerySet:
        """Sources of the user's organisation and of the organisations above it: a county
        imports with the column mapping its province saved."""
        organisation = getattr(user, "organisation", None)
        if not getattr(user, "is_authenticated", False) or organisation is None:
            return self.none()
        return self.filter(organisation__in=organisation.ancestors())


class RosterSource(Audited):
    """A named supplier of rosters (e.g. 合肥市人社局企业职工名册) with its saved column
    mapping: header as written in the file → roster field."""

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("union"), on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=20, choices=SourceKind.choices, default=SourceKind.MEMBER_ROSTER
    )
    description = models.TextField(_("description"), blank=True)
    column_mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = RosterSourceQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("roster source")
        verbose_name_plural = _("roster sources")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"],
                name="roster_source_name_unique",
                violation_error_message=_("This union already has a source with this name."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def audit_org_path(self) -> str:
        return self.organisation.path


class ImportRecord(Audited):
    """What every import of a file keeps: who and when, the file's fingerprint, progress,
    the counts of its report and its headers. Rosters and external lists build on it."""

    work_folder = ""  # the folder under the discovery directory for this kind of import

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("union"), on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(_("size in bytes"))
    file_format = models.CharField(_("format"), max_length=8)
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)

    status = models.CharField(
        _("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    phase = models.CharField(
        _("phase"), max_length=12, choices=ImportPhase.choices, default=ImportPhase.WAITING
    )
    progress_done = models.BigIntegerField(_("progress"), default=0)
    progress_total = models.BigIntegerField(_("progress total"), default=0)

    rows_read = models.BigIntegerField(_("rows read"), default=0)
    rows_loaded = models.BigIntegerField(_("rows loaded"), default=0)
    rows_rejected = models.BigIntegerField(_("rows rejected"), default=0)
    rows_duplicate = models.BigIntegerField(_("duplicate rows in the file"), default=0)
    headers = models.JSONField(_("headers"), default=list, blank=True)
    columns = models.JSONField(_("columns"), default=dict, blank=True)
    ignored_headers = models.JSONField(_("ignored headers"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    # Progress moves many times a second; the audit trail records the state changes.
    audit_exclude = ("progress_done", "progress_total", "phase")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.file_name} ({self.pk})"

    def audit_org_path(self) -> str:
        return self.organisation.path

    @property
    def work_dir(self) -> Path:
        return work_root() / self.work_folder / f"{self.pk:08d}"

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class RosterImport(ImportRecord):
    """One roster file imported from a source: its fingerprint, progress and report."""

    work_folder = "imports"

    source = models.ForeignKey(
        RosterSource, verbose_name=_("source"), on_delete=models.PROTECT, related_name="imports"
    )
    # Set when the checked rows are in the analytical store; a resumed import starts loading.
    staged_at = models.DateTimeField(_("checked at"), null=True, blank=True)

    rows_accepted = models.BigIntegerField(_("rows accepted"), default=0)
    rows_existing = models.BigIntegerField(_("workers already registered"), default=0)
    chunks_total = models.IntegerField(_("chunks"), default=0)

    # The file's headers, field → header as mapped, and the headers nobody asked for.

    class Meta:
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")
        ordering = ["-created_at", "-id"]
        constraints = [
            # The same file is loaded at most once per source: a second upload of a done
            # import is refused, of an unfinished one resumes it; only after a rollback
            # may it be imported afresh.
            models.UniqueConstraint(
                fields=["source", "sha256"],
                condition=~models.Q(status="rolled_back"),
                name="roster_import_file_once",
                violation_error_message=_("This file has already been imported from this source."),
            )
        ]


class RosterImportChunk(ChoiceLabels):
    """A chunk of accepted rows committed to the registry in one transaction, together with
    this record: a resumed import skips the chunks it finds here, and a rollback removes
    exactly the workers ``first_worker_id``–``last_worker_id`` (keys handed out under a
    table lock, so nobody else's rows lie in between)."""

    roster_import = models.ForeignKey(RosterImport, on_delete=models.CASCADE, related_name="chunks")
    number = models.IntegerField()
    first_worker_id = models.BigIntegerField()
    last_worker_id = models.BigIntegerField()
    loaded = models.IntegerField()
    # ID numbers registered by someone else between the check and the load: not loaded.
    skipped = models.JSONField(default=list, blank=True)
    committed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["roster_import", "number"], name="roster_import_chunk_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.roster_import_id}#{self.number}"


class ListImport(ImportRecord):
    """One file of an external list (低保 recipients, medical expenses …) from a typed
    source: its period, its provenance (agency, file, who, when, SHA-256) and its report. The
    rows are in ``work_dir/rows.parquet``; nothing of them is in the database."""

    work_folder = "lists"

    source = models.ForeignKey(
        RosterSource, verbose_name=_("source"), on_delete=models.PROTECT, related_name="lists"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=SourceKind.choices)
    agency = models.CharField(_("agency"), max_length=100)
    period_from = models.DateField(_("period from"))
    period_to = models.DateField(_("period to"))

    rows_without_id = models.BigIntegerField(_("rows without a valid ID number"), default=0)

    class Meta:
        verbose_name = _("external list import")
        verbose_name_plural = _("external list imports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "sha256"],
                condition=~models.Q(status="rolled_back"),
                name="list_import_file_once",
                violation_error_message=_("This file has already been imported from this source."),
            ),
            models.CheckConstraint(
                condition=models.Q(period_from__lte=models.F("period_to")),
                name="list_import_period_ordered",
                violation_error_message=_("The period must end on or after its first day."),
            ),
        ]


class ScreeningRule(Audited):
    """A rule that flags candidates, kept as data: a SELECT over the analytical store's
    tables with named parameters (``docs/discovery.md``). Changing the definition or the
    parameters makes a new version; candidates keep the version that found them."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    builtin = models.BooleanField(_("built in"), default=False)
    version = models.PositiveIntegerField(_("version"), default=1)
    status = models.CharField(
        _("status"), max_length=8, choices=RuleStatus.choices, default=RuleStatus.DRAFT
    )
    definition = models.JSONField(_("definition"), default=dict)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    audit_exclude = ("changed_at",)

    class Meta:
        verbose_name = _("screening rule")
        verbose_name_plural = _("screening rules")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"

    @property
    def label(self) -> str:
        """The name in the active language (built-in names are translated msgids)."""
        from django.utils.translation import gettext

        return gettext(self.name) if self.builtin else self.name

    @property
    def text(self) -> str:
        from django.utils.translation import gettext

        return gettext(self.description) if self.builtin and self.description else self.description


class ScreeningRuleVersion(ChoiceLabels):
    """A rule as one of its versions was saved: the definition and the parameter values.
    A change of either makes a new version and keeps this one, so the ``rule_version`` a
    candidate or a run carries still names the SQL that found it. Never changed (the
    rule's own audit trail records who changed what)."""

    rule = models.ForeignKey(
        ScreeningRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="versions"
    )
    version = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"), default=dict)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("saved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("saved at"), auto_now_add=True)

    class Meta:
        verbose_name = _("screening rule version")
        verbose_name_plural = _("screening rule versions")
        ordering = ["rule_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="screening_rule_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"


class ScreeningJob(Audited):
    """A dry run or a run in the background, of one rule or (``rule`` empty) of every rule
    switched on when it started: what was asked, by whom, its state and progress, and the
    snapshot it reads. Run again after a crash, it reads the same snapshot and skips the
    rules it already did (``ScreeningRun.job``), so it gives the same result."""

    kind = models.CharField(_("kind"), max_length=8, choices=RunKind.choices)
    rule = models.ForeignKey(
        ScreeningRule,
        verbose_name=_("rule"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("union"), on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    as_of = models.DateField(_("as of"))
    engine = models.CharField(_("engine"), max_length=8, default="duckdb")
    status = models.CharField(
        _("status"), max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    error = models.TextField(_("error"), blank=True)
    # The rules it works through, fixed when it first starts (ids, in order).
    rule_ids = models.JSONField(_("rules"), default=list, blank=True)
    snapshot = models.CharField(_("snapshot"), max_length=64, blank=True)
    step = models.CharField(_("step"), max_length=64, blank=True)
    progress_done = models.IntegerField(_("progress"), default=0)
    progress_total = models.IntegerField(_("progress total"), default=0)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    # Progress moves during the run; the audit trail records the state changes.
    audit_exclude = ("progress_done", "progress_total", "step")

    class Meta:
        verbose_name = _("screening job")
        verbose_name_plural = _("screening jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.rule_id or 'all'} ({self.pk})"

    def audit_org_path(self) -> str:
        return self.organisation.path

    @property
    def work_dir(self) -> Path:
        """Where the background process keeps its marker and log."""
        return work_root() / "jobs" / f"{self.pk:08d}"

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def unfinished(self) -> bool:
        return self.status != JobStatus.DONE


class ScreeningRun(Audited):
    """One dry run or run of a rule: when, by whom, on which engine, which snapshot and
    list imports it read, and what it found per organisation (``summary``)."""

    rule = models.ForeignKey(
        ScreeningRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="runs"
    )
    rule_version = models.PositiveIntegerField(_("rule version"))
    kind = models.CharField(_("kind"), max_length=8, choices=RunKind.choices)
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("union"), on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    as_of = models.DateField(_("as of"))
    engine = models.CharField(_("engine"), max_length=8, default="duckdb")
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    list_imports = models.JSONField(_("list imports read"), default=list, blank=True)
    found = models.IntegerField(_("candidates found"), default=0)
    added = models.IntegerField(_("added"), default=0)
    dropped = models.IntegerField(_("dropped"), default=0)
    changed = models.IntegerField(_("evidence changed"), default=0)
    summary = models.JSONField(_("per organisation"), default=list, blank=True)
    milliseconds = models.BigIntegerField(_("duration (ms)"), default=0)
    job = models.ForeignKey(
        ScreeningJob,
        verbose_name=_("job"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
    )
    snapshot = models.CharField(_("snapshot"), max_length=64, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("screening run")
        verbose_name_plural = _("screening runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A job resumed after a crash does not do a rule twice.
            models.UniqueConstraint(
                fields=["job", "rule"],
                condition=models.Q(job__isnull=False),
                name="screening_run_once_per_job",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.kind} {self.pk}"

    def audit_org_path(self) -> str:
        return self.organisation.path


class CandidateQuerySet(ScopedQuerySet["Candidate"]):
    def active(self) -> CandidateQuerySet:
        return self.filter(dropped_at__isnull=True)


class Candidate(Audited):
    """A worker a rule flagged, in the work queue of the grassroots union responsible (the
    worker's organisation), with the evidence: which list rows, by source, import and row.
    One per worker and rule; a later run that no longer finds the worker sets
    ``dropped_at`` (the outcome already recorded stays)."""

    worker = models.ForeignKey(
        Worker, verbose_name=_("worker"), on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("union responsible"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    rule = models.ForeignKey(
        ScreeningRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="candidates"
    )
    rule_version = models.PositiveIntegerField(_("rule version"))
    evidence = models.JSONField(_("evidence"), default=list)
    status = models.CharField(
        _("status"), max_length=12, choices=CandidateStatus.choices, default=CandidateStatus.NEW
    )
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)
    dropped_at = models.DateTimeField(_("no longer found on"), null=True, blank=True)
    found_by = models.ForeignKey(
        ScreeningRun, verbose_name=_("run"), on_delete=models.PROTECT, related_name="+"
    )

    objects = CandidateQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("candidate")
        verbose_name_plural = _("candidates")
        ordering = ["organisation_id", "worker_id"]
        constraints = [
            models.UniqueConstraint(fields=["worker", "rule"], name="candidate_once_per_rule"),
        ]
        indexes = [models.Index(fields=["organisation", "status"], name="candidate_queue")]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.worker_id}"

    def audit_org_path(self) -> str:
        return self.organisation.path


# --- fuzzy linkage (issue 4, point 4): the review queue and the links ---------------------


class LinkKind(models.TextChoices):
    LINK = "link", _("List row to worker")
    DEDUPE = "dedupe", _("Worker registered twice")


class LinkDecision(models.TextChoices):
    PENDING = "pending", _("Pending")
    SAME_PERSON = "same_person", _("Same person")
    DIFFERENT_PEOPLE = "different_people", _("Different people")
    UNSURE = "unsure", _("Unsure")


class LinkMethod(models.TextChoices):
    AUTO = "auto", _("Linked by the model")
    REVIEWED = "reviewed", _("Decided by a reviewer")


class LinkReview(Audited):
    """A pair in the grey zone of the linkage, waiting for a person: a list row and a
    worker (``kind`` link) or two workers who may be one (``kind`` dedupe), with the match
    probability, the fields that agreed and the level reached per field. It sits in the
    queue of the worker's union. A run replaces the pending pairs of its list; decided
    pairs stay (and are the labels the model is re-trained on)."""

    kind = models.CharField(_("kind"), max_length=8, choices=LinkKind.choices)
    list_import = models.ForeignKey(
        ListImport,
        verbose_name=_("external list"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="link_reviews",
    )
    row_no = models.BigIntegerField(_("row"), null=True, blank=True)
    worker = models.ForeignKey(
        Worker, verbose_name=_("worker"), on_delete=models.CASCADE, related_name="+"
    )
    other_worker = models.ForeignKey(
        Worker,
        verbose_name=_("other worker"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("union responsible"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    rank = models.PositiveSmallIntegerField(_("rank"), default=1)
    # Scores, not money: a probability and its log-odds in bits.
    match_probability = models.FloatField(_("match probability"))
    match_weight = models.FloatField(_("match weight"))
    agreed = models.JSONField(_("fields that agreed"), default=list, blank=True)
    levels = models.JSONField(_("level per field"), default=dict, blank=True)
    run_key = models.CharField(_("run"), max_length=64, db_index=True)
    decision = models.CharField(
        _("decision"), max_length=16, choices=LinkDecision.choices, default=LinkDecision.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("link review")
        verbose_name_plural = _("link reviews")
        ordering = ["-match_probability", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "list_import", "row_no", "worker", "other_worker"],
                name="link_review_once",
            ),
            # NULLs are distinct in a unique constraint: one per kind, on what it names.
            models.UniqueConstraint(
                fields=["list_import", "row_no", "worker"],
                condition=models.Q(kind="link"),
                name="link_review_row_once",
            ),
            models.UniqueConstraint(
                fields=["worker", "other_worker"],
                condition=models.Q(kind="dedupe"),
                name="link_review_pair_once",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "decision"], name="link_review_queue"),
        ]

    def __str__(self) -> str:
        other = self.row_no if self.kind == LinkKind.LINK else self.other_worker_id
        return f"{self.kind}:{self.worker_id}~{other}"

    def audit_org_path(self) -> str:
        return self.organisation.path


class ListRowLink(Audited):
    """Which worker a row of an external list is: linked by the model above the threshold
    (``auto``) or by a reviewer's decision (``reviewed``, never replaced by a run)."""

    list_import = models.ForeignKey(
        ListImport,
        verbose_name=_("external list"),
        on_delete=models.CASCADE,
        related_name="row_links",
    )
    row_no = models.BigIntegerField(_("row"))
    worker = models.ForeignKey(
        Worker, verbose_name=_("worker"), on_delete=models.CASCADE, related_name="+"
    )
    probability = models.FloatField(_("match probability"))
    method = models.CharField(_("method"), max_length=8, choices=LinkMethod.choices)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "worker__organisation"

    class Meta:
        verbose_name = _("list row link")
        verbose_name_plural = _("list row links")
        ordering = ["list_import_id", "row_no"]
        constraints = [
            models.UniqueConstraint(fields=["list_import", "row_no"], name="list_row_link_once"),
        ]

    def __str__(self) -> str:
        return f"{self.list_import_id}#{self.row_no}→{self.worker_id}"

    def audit_org_path(self) -> str:
        return self.worker.organisation.path
