"""One append-only record of every change to an audited object."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete, post_init, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gonghui.choicelabels import ChoiceLabels

from .context import current_actor, current_source


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Changed")
    DELETE = "delete", _("Deleted")
    EXPORT = "export", _("Exported")


class AuditSource(models.TextChoices):
    SYSTEM = "system", _("System")
    WEB = "web", _("Web page")
    API = "api", _("API")
    CLI = "cli", _("Command line")


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries cannot be deleted.")


class AuditEntry(ChoiceLabels):
    """Who changed what, when, with the value before and after each field.

    Entries are append-only: the model refuses updates and deletes, and on PostgreSQL a
    trigger (migration 0002) refuses them in the database as well.
    """

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
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
    action = models.CharField(_("action"), max_length=8, choices=AuditAction.choices)
    model = models.CharField(_("record type"), max_length=64)
    object_id = models.CharField(_("record"), max_length=64)
    # The organisation path of the changed object, so an auditor sees only their subtree.
    org_path = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # The hardship file the change belongs to, if any: it feeds the case page timeline.
    file_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    changes = models.JSONField(_("changes"), default=dict)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["model", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.model}#{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries cannot be deleted.")


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a field value for the before/after record."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):  # hasattr(value, "url") raises when there is no file
        return value.name or ""
    return value


def snapshot(instance: models.Model, loaded: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-friendly field values of ``instance``, or of a copy of its ``__dict__``."""
    # Read __dict__, not getattr: a deferred field must not cost a query per instance.
    values = instance.__dict__ if loaded is None else loaded
    fields = instance._meta.concrete_fields
    return {f.attname: _plain(values[f.attname]) for f in fields if f.attname in values}


class Audited(ChoiceLabels):
    """Mixin: every save and delete of the model leaves an :class:`AuditEntry`.

    Subclasses may define ``audit_org_path()`` and ``audit_file_id()`` so that entries are
    scoped to an organisation and shown on a hardship file's timeline. Bulk operations
    (``bulk_create``, ``update``) bypass signals by design; the services that use them
    write their own entries with :func:`record`.
    """

    # Fields that change on every save and would only add noise to the history.
    audit_exclude: tuple[str, ...] = ("updated_at",)

    class Meta:
        abstract = True

    def audit_org_path(self) -> str:
        return ""

    def audit_file_id(self) -> int | None:
        return None


def record(
    instance: models.Model,
    action: str,
    changes: dict[str, Any],
) -> AuditEntry:
    org_path = instance.audit_org_path() if isinstance(instance, Audited) else ""
    file_id = instance.audit_file_id() if isinstance(instance, Audited) else None
    return AuditEntry.objects.create(
        actor=current_actor(),
        source=current_source(),
        action=action,
        model=instance._meta.label_lower,
        object_id=str(instance.pk),
        org_path=org_path,
        file_id=file_id,
        changes=changes,
    )


def log_export(
    user: Any, what: str, count: int, filters: dict[str, Any], source: str
) -> AuditEntry:
    """A bulk export is logged like a change: who took which records out, and how many."""
    organisation = getattr(user, "organisation", None)
    return AuditEntry.objects.create(
        actor=user if getattr(user, "is_authenticated", False) else None,
        source=source,
        action=AuditAction.EXPORT,
        model=what,
        object_id=str(count),
        org_path=organisation.path if organisation else "",
        changes={"filters": filters, "rows": count},
    )


def _remember_state(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    # Every instance loaded in a list passes here, and few are ever saved: keep a shallow
    # copy of the loaded values (one C-level dict copy) and turn it into the before-record
    # only on save. The values themselves are immutable or, for JSON fields, the same
    # objects the full snapshot held before.
    if isinstance(instance, Audited):
        instance._audit_loaded = instance.__dict__.copy() if instance.pk else None  # type: ignore[attr-defined]


def _before(instance: Audited) -> dict[str, Any] | None:
    loaded = getattr(instance, "_audit_loaded", None)
    return None if loaded is None else snapshot(instance, loaded)


def _record_save(
    sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any
) -> None:
    if not isinstance(instance, Audited) or kwargs.get("raw"):
        return
    after = snapshot(instance)
    before = None if created else _before(instance)
    diff = {
        name: [None if before is None else before.get(name), value]
        for name, value in after.items()
        if name not in instance.audit_exclude and (before is None or before.get(name) != value)
    }
    # The next save compares with this one (plain values pass through snapshot unchanged).
    instance._audit_loaded = after  # type: ignore[attr-defined]
    if diff:
        record(instance, AuditAction.CREATE if created else AuditAction.UPDATE, diff)


def _record_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if isinstance(instance, Audited):
        before = snapshot(instance)
        record(instance, AuditAction.DELETE, {k: [v, None] for k, v in before.items()})


post_init.connect(_remember_state, dispatch_uid="audit_post_init")
post_save.connect(_record_save, dispatch_uid="audit_post_save")
post_delete.connect(_record_delete, dispatch_uid="audit_post_delete")
