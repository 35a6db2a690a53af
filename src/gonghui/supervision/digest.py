"""Alerts and the daily digest: what is overdue or due for a user on a day.

* :func:`overdue_for` — one user's overdue follow-ups (theirs), overdue supervision tasks
  and rectifications past their deadline (in their subtree, if their role deals with
  tasks), and periodic reviews due or late (in their subtree, if they manage filed
  households), as counts and short lists. The work queue shows these.
* :func:`build_all` — the digest of every active staff user (or of those given) for a day,
  set-based: one grouped query per kind of alert, rolled up the organisation tree in
  Python, then one INSERT of the digests not built yet. Building again changes nothing:
  a :class:`~gonghui.supervision.models.Digest` is kept per user and day.
* :func:`daily` — one user's digest of a day, built if missing.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import FollowUp, HardshipFile
from gonghui.organisations.models import Organisation
from gonghui.rows import instances

from . import followups, tasks
from .models import Digest, Finding, SupervisionTask

LIST_SIZE = 5
FOLLOW_UPS, TASKS, RECTIFICATIONS, REVIEWS = "follow_ups", "tasks", "rectifications", "reviews"


@dataclass(frozen=True)
class Item:
    """One line of a list: what, since when, and where to act on it."""

    label: str
    day: datetime.date
    url: str


@dataclass
class Alerts:
    counts: dict[str, int] = field(default_factory=dict)
    lists: dict[str, list[Item]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)


def kinds_for(user: User) -> list[str]:
    """Which alerts a user's role has a use for."""
    kinds = []
    if followups.may_follow_up(user):
        kinds += [FOLLOW_UPS, REVIEWS]
    if tasks.deals_with_tasks(user):
        kinds += [TASKS, RECTIFICATIONS]
    return kinds


# --- the items, as querysets ------------------------------------------------------------------


def _follow_ups(day: datetime.date) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(followups.overdue_q(day))


def _late_tasks(day: datetime.date) -> QuerySet[SupervisionTask]:
    return SupervisionTask.objects.filter(tasks.late_findings_q(day))


def _late_rectifications(day: datetime.date) -> QuerySet[Finding]:
    return Finding.objects.filter(tasks.late_rectifications_q(day))


def _reviews(day: datetime.date) -> QuerySet[HardshipFile]:
    return HardshipFile.objects.filter(status=FileStatus.FILED, review_due__lte=day)


def _follow_up_item(pk: int, number: str, due: datetime.date | None) -> Item:
    assert due is not None
    return Item(number, due, reverse("follow-up-detail", args=[pk]))


def _task_item(pk: int, title: str, due: datetime.date | None) -> Item:
    assert due is not None  # a late task or rectification has its date
    return Item(title, due, reverse("task-detail", args=[pk]))


# --- one user -----------------------------------------------------------------------------------


def overdue_for(user: User, day: datetime.date) -> Alerts:
    """The user's alerts: counts and the first few of each kind, oldest first."""
    alerts = Alerts()
    organisation = user.organisation
    if organisation is None or not user.is_active:
        return alerts
    kinds = kinds_for(user)
    if FOLLOW_UPS in kinds:
        mine = (
            _follow_ups(day)
            .filter(owner=user)
            .filter(organisation.subtree_q("file__organisation__"))
        )
        alerts.counts[FOLLOW_UPS] = mine.count()
        first = mine.order_by("due_on", "pk").values_list("pk", "file__number", "due_on")
        alerts.lists[FOLLOW_UPS] = [_follow_up_item(*row) for row in first[:LIST_SIZE]]
    if REVIEWS in kinds:
        reviews = _reviews(day).filter(organisation.subtree_q("organisation__"))
        alerts.counts[REVIEWS] = reviews.count()
        files = reviews.order_by("review_due", "pk").values_list("pk", "number", "review_due")
        alerts.lists[REVIEWS] = [
            Item(number, due, reverse("file-detail", args=[pk]))
            for pk, number, due in files[:LIST_SIZE]
            if due is not None
        ]
    if TASKS in kinds:
        late = _late_tasks(day).filter(organisation.subtree_q("organisation__"))
        alerts.counts[TASKS] = late.count()
        late_rows = late.order_by("due_on", "pk").values_list("pk", "title", "due_on")
        alerts.lists[TASKS] = [_task_item(*row) for row in late_rows[:LIST_SIZE]]
        findings = _late_rectifications(day).filter(organisation.subtree_q("task__organisation__"))
        alerts.counts[RECTIFICATIONS] = findings.count()
        points = findings.order_by("rectify_by", "pk").values_list(
            "task_id", "task__title", "rectify_by"
        )
        alerts.lists[RECTIFICATIONS] = [_task_item(*row) for row in points[:LIST_SIZE]]
    return alerts


def overdue_counts(user: User, day: datetime.date) -> dict[str, int]:
    """The counts alone, for a badge in the work queue."""
    return overdue_for(user, day).counts


# --- everyone at once ----------------------------------------------------------------------------


def staff_users() -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, organisation__isnull=False)
        .exclude(role=Role.WORKER)
        .select_related("organisation")
    )


class Rollup:
    """Counts per organisation added up to every ancestor: a user's subtree count is the
    total at their organisation's path."""

    def __init__(self, per_org: Iterable[tuple[str, int]]) -> None:
        self.totals: dict[str, int] = defaultdict(int)
        from gonghui.organisations.models import PATH_SEGMENT, PATH_SEP

        step = PATH_SEGMENT + len(PATH_SEP)
        for path, count in per_org:
            for end in range(step, len(path) + 1, step):
                self.totals[path[:end]] += count

    def at(self, organisation: Organisation) -> int:
        return self.totals.get(organisation.path, 0)


def _per_org(queryset: QuerySet[Any], path: str) -> Rollup:
    rows = queryset.values(path).annotate(n=Count("pk")).order_by()
    return Rollup((row[path], row["n"]) for row in rows)


def _first_per_owner(day: datetime.date, owners: list[int]) -> dict[int, list[Item]]:
    rank = Window(RowNumber(), partition_by=[F("owner_id")], order_by=[F("due_on"), F("pk")])
    rows = (
        _follow_ups(day)
        .filter(owner_id__in=owners)
        .annotate(rank=rank)
        .filter(rank__lte=LIST_SIZE)
        .values_list("owner_id", "pk", "file__number", "due_on")
    )
    found: dict[int, list[Item]] = defaultdict(list)
    for owner, pk, number, due in rows:
        found[owner].append(_follow_up_item(pk, number, due))
    for items in found.values():
        items.sort(key=lambda item: (item.day, item.url))
    return found


def _by_path(rows: Iterable[tuple[str, Item]]) -> list[tuple[str, Item]]:
    return sorted(rows, key=lambda row: (row[1].day, row[1].url))


def gather(users: list[User], day: datetime.date) -> dict[int, Alerts]:
    """Every user's alerts in a handful of queries, whatever the number of users."""
    ids = [u.pk for u in users]
    follow_up_counts = dict(
        _follow_ups(day)
        .filter(owner_id__in=ids)
        .values_list("owner_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    follow_up_lists = _first_per_owner(day, ids)
    reviews = _per_org(_reviews(day), "organisation__path")
    late_tasks = _by_path(
        (path, _task_item(pk, title, due))
        for pk, title, due, path in _late_tasks(day).values_list(
            "pk", "title", "due_on", "organisation__path"
        )
    )
    late_rectifications = _by_path(
        (path, _task_item(pk, title, due))
        for pk, title, due, path in _late_rectifications(day).values_list(
            "task_id", "task__title", "rectify_by", "task__organisation__path"
        )
    )
    found = {}
    for user in users:
        alerts = Alerts()
        kinds = kinds_for(user)
        assert user.organisation is not None
        prefix = user.organisation.path
        if FOLLOW_UPS in kinds:
            alerts.counts[FOLLOW_UPS] = follow_up_counts.get(user.pk, 0)
            alerts.lists[FOLLOW_UPS] = follow_up_lists.get(user.pk, [])
        if REVIEWS in kinds:
            alerts.counts[REVIEWS] = reviews.at(user.organisation)
            alerts.lists[REVIEWS] = []
        if TASKS in kinds:
            for kind, rows in ((TASKS, late_tasks), (RECTIFICATIONS, late_rectifications)):
                items = [item for path, item in rows if path.startswith(prefix)]
                alerts.counts[kind] = len(items)
                alerts.lists[kind] = items[:LIST_SIZE]
        found[user.pk] = alerts
    return found


# --- the digest ---------------------------------------------------------------------------------


def headlines(alerts: Alerts) -> list[str]:
    lines = []
    n = alerts.count(FOLLOW_UPS)
    if n:
        lines.append(
            ngettext("%(count)d follow-up is overdue.", "%(count)d follow-ups are overdue.", n)
            % {"count": n}
        )
    n = alerts.count(TASKS)
    if n:
        lines.append(
            ngettext(
                "%(count)d supervision task is overdue.",
                "%(count)d supervision tasks are overdue.",
                n,
            )
            % {"count": n}
        )
    n = alerts.count(RECTIFICATIONS)
    if n:
        lines.append(
            ngettext(
                "%(count)d rectification is past its deadline.",
                "%(count)d rectifications are past their deadline.",
                n,
            )
            % {"count": n}
        )
    n = alerts.count(REVIEWS)
    if n:
        lines.append(
            ngettext("%(count)d periodic review is due.", "%(count)d periodic reviews are due.", n)
            % {"count": n}
        )
    return lines


def section_titles() -> dict[str, str]:
    return {
        FOLLOW_UPS: _("Overdue follow-ups"),
        TASKS: _("Overdue supervision tasks"),
        RECTIFICATIONS: _("Rectifications past their deadline"),
        REVIEWS: _("Periodic reviews due"),
    }


def compose(user: User, day: datetime.date, alerts: Alerts) -> tuple[str, str]:
    """The digest as plain text and as HTML (everything escaped)."""
    title = _("Daily digest for %(name)s, %(day)s") % {"name": str(user), "day": day.isoformat()}
    lines = headlines(alerts) or [_("Nothing is overdue today.")]
    text = [title, "", *[f"- {line}" for line in lines]]
    html = [format_html("<h2>{}</h2>", title)]
    html.append(
        format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in lines)))
    )
    for kind, heading in section_titles().items():
        items = alerts.lists.get(kind) or []
        if not items:
            continue
        text += ["", heading + ":"]
        text += [f"  {item.day.isoformat()}  {item.label}" for item in items]
        html.append(format_html("<h3>{}</h3>", heading))
        rows = ((item.url, item.label, item.day.isoformat()) for item in items)
        html.append(
            format_html(
                "<ul>{}</ul>",
                format_html_join("", '<li><a href="{}">{}</a> {}</li>', rows),
            )
        )
    return "\n".join(text) + "\n", "\n".join(html)


def build_all(day: datetime.date, users: Iterable[User] | None = None) -> int:
    """The digests of ``day`` for every active staff user (or ``users``) that has none yet,
    in the site's language. Returns how many were built."""
    chosen = list(users) if users is not None else list(staff_users())
    have = set(
        Digest.objects.filter(day=day, user__in=[u.pk for u in chosen]).values_list(
            "user_id", flat=True
        )
    )
    missing = [u for u in chosen if u.pk not in have and u.organisation is not None]
    if not missing:
        return 0
    language = settings.LANGUAGE_CODE
    with translation.override(language):
        alerts = gather(missing, day)
        digests = []
        for user in missing:
            text, html = compose(user, day, alerts[user.pk])
            digests.append(
                Digest(
                    user=user,
                    day=day,
                    language=language,
                    counts=alerts[user.pk].counts,
                    text=text,
                    html=html,
                )
            )
    # Two builds at once: the second one's rows are ignored (one digest per user and day).
    Digest.objects.bulk_create(digests, batch_size=500, ignore_conflicts=True)
    return len(digests)


def daily(user: User, day: datetime.date) -> Digest | None:
    """The user's digest of ``day``, built if missing (None for an account with no
    organisation, which has nothing to be alerted to)."""
    if user.organisation is None:
        return None
    build_all(day, [user])
    return Digest.objects.filter(user=user, day=day).first()


def _digest_of(user: int, day: datetime.date) -> QuerySet[Digest]:
    return Digest.objects.filter(user=user, day=day).only("counts")


def todays_counts(user: User, day: datetime.date) -> dict[str, int]:
    """The counts of the user's digest of ``day`` for the work queue's alert line: one
    query once the day's digest exists (the first page of the day builds it)."""
    found = instances(Digest, ("todays-counts",), _digest_of, user.pk, day)
    if found:
        return dict(found[0].counts)
    built = daily(user, day)
    return dict(built.counts) if built is not None else {}
