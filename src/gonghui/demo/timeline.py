"""The dates of a file's life, laid out backwards from where it stands today.

Each status has its own recipe, relative to ``today`` so that the work queue always has
notices ending in the next few days, notices just ended, reviews overdue and reviews due
within the month. The steps follow DESIGN §4.2: investigate within days of applying,
public notice of five working days, review after it ends, file, re-check yearly: each
periodic review falls due twelve months after filing or after the review before it, and
most are done by then, some late, a few not yet (overdue in the work queue).
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

from gonghui.hardship.calendar import is_working_day, last_of_working_days
from gonghui.hardship.choices import ExitKind, FileStatus
from gonghui.hardship.services import add_months

from .anhui import POLICY_FROM

DAY = datetime.timedelta(days=1)
NOTICE_DAYS = 5
EXIT_MONTHS = 6
REVIEW_MONTHS = 12  # the demo policy's review interval (Policy.review_interval_months)
FILED_YEARS = 3  # filed households were filed up to this many years ago
# Periodic reviews: done on time, done late, or not done yet (overdue). A review that fell
# due in the last few weeks is more often still waiting than one due months ago.
REVIEW_ON_TIME = 0.86
OVERDUE_RECENT, OVERDUE_OLD, RECENT_DAYS = 0.25, 0.03, 75


@dataclass(frozen=True)
class Review:
    """A periodic review that was done: the day it was due and the day it was done."""

    due: datetime.date
    done: datetime.date


@dataclass
class Steps:
    """When each step happened; ``None`` for steps the file has not reached."""

    applied: datetime.date
    visited: datetime.date | None = None
    notice_start: datetime.date | None = None
    notice_end: datetime.date | None = None
    reviewed: datetime.date | None = None
    filed: datetime.date | None = None
    rejected: datetime.date | None = None
    readings: list[datetime.date] = field(default_factory=list)  # first days of months
    exit_on: datetime.date | None = None
    reopened: datetime.date | None = None
    reviews: list[Review] = field(default_factory=list)  # periodic reviews done, in order

    @property
    def first_review_due(self) -> datetime.date | None:
        """The review due date set at filing."""
        return add_months(self.filed, REVIEW_MONTHS) if self.filed else None

    @property
    def review_due(self) -> datetime.date | None:
        """The next review: twelve months after the last review done, or after filing."""
        if self.reviews:
            return add_months(self.reviews[-1].done, REVIEW_MONTHS)
        return self.first_review_due

    @property
    def assessed_on(self) -> datetime.date:
        """The day whose policy decides the category: the application, or the reopening."""
        return self.reopened or self.applied


def days_back(today: datetime.date, low: int, high: int, rng: random.Random) -> datetime.date:
    return today - datetime.timedelta(days=rng.randint(low, high))


def next_working_day(day: datetime.date) -> datetime.date:
    while not is_working_day(day):
        day += DAY
    return day


def from_notice(rng: random.Random, start: datetime.date) -> Steps:
    """Application, visit and notice around a notice that starts on ``start``."""
    start = next_working_day(start)
    visited = start - datetime.timedelta(days=rng.randint(1, 4))
    applied = max(visited - datetime.timedelta(days=rng.randint(1, 5)), POLICY_FROM)
    end = last_of_working_days(start, NOTICE_DAYS)
    return Steps(applied, visited=max(visited, applied), notice_start=start, notice_end=end)


def through_filing(rng: random.Random, start: datetime.date) -> Steps:
    steps = from_notice(rng, start)
    assert steps.notice_end is not None
    steps.reviewed = steps.notice_end + datetime.timedelta(days=rng.randint(1, 5))
    steps.filed = steps.reviewed + datetime.timedelta(days=rng.randint(1, 7))
    return steps


def draft(rng: random.Random, today: datetime.date) -> Steps:
    return Steps(days_back(today, 0, 10, rng))


def investigated(rng: random.Random, today: datetime.date) -> Steps:
    applied = days_back(today, 2, 25, rng)
    return Steps(applied, visited=min(applied + datetime.timedelta(days=rng.randint(1, 5)), today))


def notice(rng: random.Random, today: datetime.date, ended: bool | None = None) -> Steps:
    """A notice still running (ending within days) or ended and waiting for review."""
    if ended is None:
        ended = rng.random() < 0.5
    start = days_back(today, 9, 16, rng) if ended else days_back(today, 0, 4, rng)
    steps = from_notice(rng, start)
    # Holidays stretch a notice (and may push its start past today): step back a week.
    while (steps.notice_start or today) > today or (ended and (steps.notice_end or today) >= today):
        start -= datetime.timedelta(days=7)
        steps = from_notice(rng, start)
    return steps


def reviewed(rng: random.Random, today: datetime.date) -> Steps:
    steps = notice(rng, today, ended=True)
    assert steps.notice_end is not None
    steps.reviewed = min(steps.notice_end + datetime.timedelta(days=rng.randint(1, 5)), today)
    return steps


def filed(rng: random.Random, today: datetime.date) -> Steps:
    """Filed up to three years ago (not before the policy), re-checked every year since:
    some reviews overdue, some due within the month."""
    earliest = max(
        POLICY_FROM + datetime.timedelta(days=45),
        today - datetime.timedelta(days=365 * FILED_YEARS),
    )
    back = rng.randint(1, max((today - earliest).days, 2))
    steps = through_filing(rng, today - datetime.timedelta(days=back + 16))
    assert steps.filed is not None and steps.reviewed is not None
    steps.filed = min(steps.filed, today - DAY)
    steps.reviewed = min(steps.reviewed, steps.filed)
    steps.reviews = review_cycle(rng, steps.filed, today, today)
    if rng.random() < 0.4:
        steps.readings = months_between(steps.filed, today, rng.randint(1, 6))
    return steps


def review_cycle(
    rng: random.Random, filed: datetime.date, until: datetime.date, today: datetime.date
) -> list[Review]:
    """The yearly reviews from filing until ``until`` (today for a filed household, the
    exit for one that left): each due twelve months after the last, done a few weeks early
    or on the day, sometimes late; a household still filed may have its last one waiting."""
    reviews: list[Review] = []
    last = filed
    while (due := add_months(last, REVIEW_MONTHS)) < until:
        draw = rng.random()
        waiting = OVERDUE_RECENT if (today - due).days <= RECENT_DAYS else OVERDUE_OLD
        if until == today and draw < waiting:
            break  # not done yet: overdue
        if rng.random() < REVIEW_ON_TIME:
            done = due - datetime.timedelta(days=rng.randint(0, 25))
        else:
            done = due + datetime.timedelta(days=rng.randint(1, 45))
        done = min(done, until - DAY)
        if done <= last:
            break
        reviews.append(Review(due, done))
        last = done
    return reviews


def months_between(after: datetime.date, before: datetime.date, count: int) -> list[datetime.date]:
    """Up to ``count`` consecutive months after ``after``'s month, ending before ``before``'s."""
    first = add_months(after.replace(day=1), 1)
    last = add_months(before.replace(day=1), -1)
    months: list[datetime.date] = []
    month = last
    while month >= first and len(months) < count:
        months.insert(0, month)
        month = add_months(month, -1)
    return months


def closed(rng: random.Random, today: datetime.date, exit_kind: str) -> Steps:
    """Filed, then out: out of hardship after six months above the standard, or for
    another reason at any time after filing."""
    if exit_kind == ExitKind.RECOVERED:
        start = POLICY_FROM + datetime.timedelta(
            days=rng.randint(10, (today - POLICY_FROM).days - 420)
        )
        steps = through_filing(rng, start)
        assert steps.filed is not None
        steps.readings = _recovery_months(rng, steps.filed, today)
        last = steps.readings[-1]
        steps.exit_on = min(
            add_months(last, 1) + datetime.timedelta(days=rng.randint(0, 14)), today - DAY
        )
        steps.reviews = review_cycle(rng, steps.filed, steps.exit_on, today)
        return steps
    start = POLICY_FROM + datetime.timedelta(days=rng.randint(10, (today - POLICY_FROM).days - 120))
    steps = through_filing(rng, start)
    assert steps.filed is not None
    room = (today - DAY - steps.filed).days
    steps.exit_on = steps.filed + datetime.timedelta(days=rng.randint(min(30, room), room))
    steps.readings = months_between(steps.filed, steps.exit_on, rng.randint(0, 3))
    steps.reviews = review_cycle(rng, steps.filed, steps.exit_on, today)
    return steps


def _recovery_months(
    rng: random.Random, filed: datetime.date, today: datetime.date
) -> list[datetime.date]:
    """Six to ten monthly readings after filing, the month of exit still before today."""
    available = months_between(filed, add_months(today, -1), 24)
    return available[: rng.randint(EXIT_MONTHS, min(10, len(available)))]


REJECT_STAGES = (FileStatus.DRAFT, FileStatus.INVESTIGATED, FileStatus.NOTICE, FileStatus.REVIEWED)


def rejected(rng: random.Random, today: datetime.date, stage: str) -> Steps:
    """Rejected from ``stage``: the case worker (before notice) or the reviewer (after)."""
    room = (today - POLICY_FROM).days - 60
    steps = through_filing(rng, POLICY_FROM + datetime.timedelta(days=rng.randint(10, room)))
    reached: datetime.date | None = {
        FileStatus.DRAFT: steps.applied,
        FileStatus.INVESTIGATED: steps.visited,
        FileStatus.NOTICE: steps.notice_start,
        FileStatus.REVIEWED: steps.reviewed,
    }[FileStatus(stage)]
    assert reached is not None
    steps.rejected = reached + datetime.timedelta(days=rng.randint(1, 4))
    keep = REJECT_STAGES.index(stage)
    steps.visited = steps.visited if keep >= 1 else None
    if keep < 2:
        steps.notice_start = steps.notice_end = None
    steps.reviewed = steps.reviewed if keep >= 3 else None
    steps.filed = None
    return steps


def reopened(rng: random.Random, today: datetime.date) -> Steps:
    """Out of hardship once, then back (防返困): the same file starts again as an application."""
    steps = closed(rng, today - datetime.timedelta(days=30), ExitKind.RECOVERED)
    steps.reopened = days_back(today, 0, 14, rng)
    return steps
