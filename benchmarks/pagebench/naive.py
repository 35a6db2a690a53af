"""The baseline: the same questions answered the naive way, in this process, through the ORM.

This is how the pages are commonly first written: substring search over every field
(``__icontains`` / ``__contains``, which no B-tree index serves), one query per queue rule
merged and sorted in Python, and lists and the case page that touch related objects one row
at a time (N+1, no ``select_related``/``prefetch_related``). Scoping stays the project's
``for_user``: nobody would write that part any other way. No HTTP, no template: the figure
is the database work alone, so the ratio it gives understates the difference.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from gonghui.accounts.models import User
from gonghui.audit.models import AuditEntry
from gonghui.hardship.models import HardshipFile
from gonghui.hardship.queue import rules_for

from .mix import user_named
from .pages import CASE, QUEUE, PageRequest

PAGE_SIZE = 50


def touch_row(file: HardshipFile) -> None:
    """What a list row shows: the applicant and the union, each fetched on its own."""
    _ = (file.applicant.name, file.applicant.id_number, file.organisation.name)


def naive_queue(user: User, kind: str | None) -> int:
    """Each rule's files fetched whole, merged, sorted by due date in Python."""
    day = timezone.localdate()
    rows: dict[int, tuple[datetime.date, int, HardshipFile]] = {}
    for rule in rules_for(day):
        if not user.can(rule.capability) or kind not in (None, rule.kind):
            continue
        due_field = rule.due.name if isinstance(rule.due, F) else "applied_on"
        for file in HardshipFile.objects.for_user(user).filter(rule.when):
            rows.setdefault(file.pk, (getattr(file, due_field) or day, file.pk, file))
    ordered = sorted(rows.values(), key=lambda row: (row[0], row[1]))
    for _, _, file in ordered[:PAGE_SIZE]:
        touch_row(file)
    return len(ordered)


def naive_search(user: User, q: str) -> int:
    """One box, every field, substring match: a full scan of the joined tables."""
    files = (
        HardshipFile.objects.for_user(user)
        .filter(
            Q(applicant__name__icontains=q)
            | Q(applicant__id_number__contains=q)
            | Q(applicant__phone__contains=q)
            | Q(number__icontains=q)
        )
        .order_by("-applied_on", "-id")
    )
    total = files.count()
    for file in files[:PAGE_SIZE]:
        touch_row(file)
    return total


def naive_case(user: User, pk: int) -> int:
    """The case page's records, each relation walked row by row."""
    file = HardshipFile.objects.for_user(user).get(pk=pk)
    touched: list[Any] = [file.applicant, file.organisation, file.household.region, file.policy]
    touched += [file.created_by, file.submitted_by, file.reviewed_by, file.approved_by]
    for member in file.household.members.all():
        touched.append(member.worker)
    for line in [*file.incomelines.all(), *file.expenselines.all()]:  # type: ignore[attr-defined]
        touched.append(line.member)
    for visit in file.investigations.all():
        touched += [visit.investigator, *visit.attachments.all()]
    touched += list(file.attachments.all())
    touched += [review.reviewer for review in file.reviews.all()]
    touched += list(file.readings.all()[:24])
    touched += [follow_up.owner for follow_up in file.follow_ups.all()]
    touched += [event.actor for event in file.events.all()]
    touched += [entry.actor for entry in AuditEntry.objects.filter(file_id=file.pk)]
    return len(touched)


def answer(request: PageRequest) -> int:
    user = user_named(request.user)
    params = request.params
    if request.page == QUEUE:
        return naive_queue(user, _text(params.get("kind")))
    if request.page == CASE:
        return naive_case(user, int(params["pk"] or 0))
    return naive_search(user, str(params["q"]))


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def run_baseline(
    requests: Sequence[PageRequest], seconds: float, tick: Callable[[], None]
) -> list[tuple[PageRequest, float]]:
    """Answer ``requests`` one after another until done or ``seconds`` pass: (request, ms)."""
    deadline = time.monotonic() + seconds
    timings: list[tuple[PageRequest, float]] = []
    for request in requests:
        if time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        answer(request)
        timings.append((request, (time.perf_counter() - started) * 1000))
        tick()
    return timings
