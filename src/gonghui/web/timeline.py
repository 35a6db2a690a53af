"""The case page timeline and the audit log: events and field changes made readable."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gonghui.accounts.models import User
from gonghui.assistance.models import Budget, Payment
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.hardship.choices import Exclusion, FileStatus, HardshipCause
from gonghui.hardship.models import FileEvent
from gonghui.people.choices import Relation
from gonghui.people.models import Household, HouseholdMember
from gonghui.people.personal import PERSONAL_FIELDS, mask_card, shown
from gonghui.web.templatetags.gonghui import join_labels

# Recomputed on every assessment and shown elsewhere on the case page; on the timeline
# they would bury the changes a person made.
TIMELINE_SKIP = frozenset({"decision_trace", "policy_snapshot", "assessed_at", "updated_at"})
MAX_TEXT = 120
# (related model, primary key) -> how the record is named
Labels = dict[tuple[type[models.Model], Any], str]


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class TimelineItem:
    at: datetime.datetime
    actor: User | None
    is_event: bool
    title: str  # the event, or the kind of record that changed
    action: str  # for a change: created, changed or deleted
    note: str
    changes: tuple[Change, ...]


def _model(label: str) -> type[models.Model] | None:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, name: str) -> Any:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _target(field: models.ForeignKey[Any, Any]) -> type[models.Model]:
    return cast(type[models.Model], field.related_model)


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _local_time(text: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return text
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_value(field: Any, name: str, value: Any, labels: Labels, reveal: bool) -> str:
    """A stored before/after value as a person reads it."""
    if value is None or value == "" or value == []:
        return "—"
    if name in PERSONAL_FIELDS:
        return shown(str(value), PERSONAL_FIELDS[name], reveal)
    if name == "account_number":  # a bank card: histories never need the whole number
        return mask_card(str(value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if name in {"primary_cause", "secondary_causes"}:
        codes = value if isinstance(value, list) else [value]
        return join_labels(HardshipCause(int(c)).label for c in codes if str(c).isdigit())
    if name == "exclusions_found":
        return join_labels(Exclusion(c).label for c in value if c in Exclusion.values)
    if isinstance(field, models.ForeignKey):
        return labels.get((_target(field), value), f"#{value}")
    if isinstance(value, list):
        if any(isinstance(v, dict | list) for v in value):
            return ngettext("%(count)d entry", "%(count)d entries", len(value)) % {
                "count": len(value)
            }
        return _truncate(join_labels(value))
    if isinstance(value, dict):
        return "{…}"
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        return _local_time(value)
    choices = dict(field.flatchoices) if field is not None and field.choices else {}
    if value in choices:
        return str(choices[value])
    return _truncate(str(value))


def _related_ids(entries: Sequence[AuditEntry]) -> dict[type[models.Model], set[Any]]:
    """The ids each foreign key of the entries' changes points to, by related model."""
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    for entry in entries:
        model = _model(entry.model)
        for name, pair in entry.changes.items():
            field = _field(model, name)
            if isinstance(field, models.ForeignKey) and isinstance(pair, list):
                wanted[_target(field)].update(v for v in pair if isinstance(v, int | str))
    return wanted


def _household_labels(ids: set[Any]) -> Labels:
    # Household.__str__ looks its head up: one query for all of them instead.
    heads = HouseholdMember.objects.filter(household__in=ids, relation=Relation.SELF)
    return {
        (Household, pk): _("Household of %(name)s") % {"name": name}
        for pk, name in heads.values_list("household_id", "name")
    }


# What a record's __str__ reads of other records: loaded with it, not one query per record.
STR_RELATED: dict[type[models.Model], tuple[str, ...]] = {
    Budget: ("fund", "organisation"),
    Payment: ("batch",),
}


def related_labels(entries: Sequence[AuditEntry]) -> Labels:
    """How each record a change points to is named: one query per kind of record."""
    labels: Labels = {}
    for model, ids in _related_ids(entries).items():
        if model is Household:
            labels.update(_household_labels(ids))
        elif model.__str__ is not models.Model.__str__:
            # Without a __str__ of its own, "Investigation object (3)" says no more than "#3".
            related = STR_RELATED.get(model, ())
            found = model._default_manager.select_related(*related).in_bulk(ids)
            labels.update({(model, pk): str(obj) for pk, obj in found.items()})
    return labels


def describe(
    entries: Sequence[AuditEntry], reveal: bool = False, skip: Iterable[str] = ()
) -> list[tuple[AuditEntry, str, tuple[Change, ...]]]:
    """Each entry with the name of its kind of record and its readable changes."""
    labels = related_labels(entries)
    skipped = set(skip)
    described = []
    for entry in entries:
        model = _model(entry.model)
        subject = str(model._meta.verbose_name) if model else entry.model
        changes = []
        for name, pair in entry.changes.items():
            if name in skipped or not isinstance(pair, list) or len(pair) != 2:
                continue
            field = _field(model, name)
            label = str(field.verbose_name) if field is not None else name
            before, after = (format_value(field, name, v, labels, reveal) for v in pair)
            changes.append(Change(label, before, after))
        described.append((entry, subject, tuple(changes)))
    return described


def _event_item(event: FileEvent) -> TimelineItem:
    changes: tuple[Change, ...] = ()
    if event.from_status and event.from_status != event.to_status:
        changes = (
            Change(
                _("status"),
                str(FileStatus(event.from_status).label),
                str(FileStatus(event.to_status).label),
            ),
        )
    return TimelineItem(
        at=event.at,
        actor=event.actor,
        is_event=True,
        title=event.get_kind_display(),
        action="",
        note=event.note,
        changes=changes,
    )


def file_timeline(
    events: Iterable[FileEvent], entries: Sequence[AuditEntry], reveal: bool
) -> list[TimelineItem]:
    """Events and audited changes of one file, newest first."""
    items = [_event_item(event) for event in events]
    for entry, subject, changes in describe(entries, reveal, skip=TIMELINE_SKIP):
        if not changes and entry.action == AuditAction.UPDATE:
            continue
        items.append(
            TimelineItem(
                at=entry.at,
                actor=entry.actor,
                is_event=False,
                title=subject,
                action=entry.get_action_display(),
                note="",
                changes=changes,
            )
        )
    return sorted(items, key=lambda item: item.at, reverse=True)
