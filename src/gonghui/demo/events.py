"""The timeline of a file: one FileEvent per step, as the services would have written them."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.hardship.choices import EventKind, FileStatus

from .staff import User
from .timeline import Steps

if TYPE_CHECKING:
    from .files import Cast, ReviewDone, Story
    from .plans import Plan

Status = FileStatus
# Events after which services.assess runs again: assessed_at is the time of the last one.
REASSESSING = frozenset(
    {
        EventKind.CREATED,
        EventKind.EDITED,
        EventKind.INVESTIGATED,
        EventKind.NOTICE,
        EventKind.REOPENED,
    }
)
REOPEN_REASON = "家庭成员再次患病，收入明显下降，申请重新纳入帮扶"
REVIEW_NOTE = "材料齐全，公示无异议，同意上报"


@dataclass
class Event:
    day: datetime.date
    actor: User
    kind: str
    before: str
    after: str
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime.datetime | None = None

    def row(self) -> tuple[Any, ...]:
        return (self.at, self.actor.pk, self.kind, self.before, self.after, self.note, self.data)


def stamp(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    """A moment in office hours, local time."""
    tz = timezone.get_current_timezone()
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)


Reading = tuple[datetime.date, Decimal, Decimal]  # month, per-capita income, standard


def history(
    rng: random.Random,
    plan: Plan,
    steps: Steps,
    cast: Cast,
    story: Story,
    readings: list[Reading],
    reviews: list[ReviewDone],
    today: datetime.date,
) -> list[Event]:
    events = _way_in(steps, cast, story) + _filed_life(steps, cast, story, readings, reviews, today)
    if steps.rejected:
        actor = cast.creator if plan.stage in (Status.DRAFT, Status.INVESTIGATED) else cast.reviewer
        events.append(
            Event(
                steps.rejected,
                actor,
                EventKind.REJECTED,
                events[-1].after,
                Status.REJECTED,
                story.rejection,
            )
        )
    if steps.reopened:
        events.append(
            Event(
                steps.reopened,
                cast.creator,
                EventKind.REOPENED,
                Status.CLOSED,
                Status.DRAFT,
                REOPEN_REASON,
            )
        )
    _clock(rng, events)
    return events


def _way_in(steps: Steps, cast: Cast, story: Story) -> list[Event]:
    """Application to filing: each step the file has reached."""
    events = [
        Event(steps.applied, cast.creator, EventKind.CREATED, "", Status.DRAFT),
        Event(
            steps.applied, cast.creator, EventKind.EDITED, Status.DRAFT, Status.DRAFT, _("Finances")
        ),
    ]
    if steps.visited:
        step = Event(
            steps.visited,
            cast.investigator,
            EventKind.INVESTIGATED,
            Status.DRAFT,
            Status.INVESTIGATED,
        )
        step.note = story.findings[:200]
        events.append(step)
    if steps.notice_start and steps.notice_end:
        data = {"notice_end": steps.notice_end.isoformat()}
        kind = EventKind.NOTICE
        events.append(
            Event(
                steps.notice_start,
                cast.submitter,
                kind,
                Status.INVESTIGATED,
                Status.NOTICE,
                data=data,
            )
        )
    if steps.reviewed:
        kind = EventKind.REVIEWED
        events.append(
            Event(steps.reviewed, cast.reviewer, kind, Status.NOTICE, Status.REVIEWED, REVIEW_NOTE)
        )
    if steps.filed and steps.first_review_due:
        data = {"review_due": steps.first_review_due.isoformat()}
        events.append(
            Event(
                steps.filed,
                cast.approver,
                EventKind.FILED,
                Status.REVIEWED,
                Status.FILED,
                data=data,
            )
        )
    return events


def _filed_life(
    steps: Steps,
    cast: Cast,
    story: Story,
    readings: list[Reading],
    reviews: list[ReviewDone],
    today: datetime.date,
) -> list[Event]:
    """Monthly readings and periodic reviews in the order of their days, then the exit."""
    events = []
    for review in reviews:
        data = {
            "from": review.previous,
            "to": review.result.category,
            "per_capita": str(review.result.per_capita),
        }
        events.append(
            Event(
                review.done,
                review.reviewer,
                EventKind.ANNUAL_REVIEW,
                Status.FILED,
                Status.FILED,
                review.note,
                data,
            )
        )
    for month, income, _standard in readings:
        recorded = _recorded_on(month, steps.exit_on or today)
        data = {"month": month.isoformat(), "per_capita": str(income)}
        events.append(
            Event(
                recorded,
                cast.creator,
                EventKind.INCOME_READING,
                Status.FILED,
                Status.FILED,
                data=data,
            )
        )
    events.sort(key=lambda event: event.day)  # stable: a review before a reading that day
    if steps.exit_on:
        data = {"exit_kind": story.exit_kind}
        kind = EventKind.EXITED
        events.append(
            Event(
                steps.exit_on,
                cast.creator,
                kind,
                Status.FILED,
                Status.CLOSED,
                story.exit_reason,
                data,
            )
        )
    return events


def _recorded_on(month: datetime.date, latest: datetime.date) -> datetime.date:
    """A month's income is recorded early the next month (never after the exit or today)."""
    return min((month.replace(day=28) + datetime.timedelta(days=4)).replace(day=5), latest)


def _clock(rng: random.Random, events: list[Event]) -> None:
    """Times in office hours, strictly increasing along the timeline."""
    previous: datetime.datetime | None = None
    for event in events:
        at = stamp(event.day, rng.randint(8, 16), rng.randint(0, 59))
        if previous is not None and at <= previous:
            at = previous + datetime.timedelta(minutes=rng.randint(3, 40))
        event.at = previous = at
