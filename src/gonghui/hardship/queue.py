"""The work queue: what needs this user now, one query whatever the number of files.

Each queue kind is a filter over the user's scoped files; a file shows under the first
kind that matches it, so the list can be annotated with its reason and due date in SQL.
Which kinds a user sees follows from their capabilities.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

from django.db import connections, models
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.organisations.models import Organisation
from gonghui.people.models import Worker
from gonghui.rows import Shape, compiled

from .choices import FileStatus, FollowUpStatus
from .models import FollowUp, HardshipFile

NOTICE_SOON_DAYS = 3
REVIEW_SOON_DAYS = 30
INVESTIGATION_DAYS = 5  # DESIGN §4.2: investigate at home within 5 days


class QueueKind(models.TextChoices):
    OVERDUE = "overdue", _("Overdue")
    INVESTIGATE = "investigate", _("To investigate")
    SUBMIT = "submit", _("To submit for public notice")
    NOTICE_ENDING = "notice_ending", _("Public notice ending")
    TO_REVIEW = "to_review", _("To review")
    TO_APPROVE = "to_approve", _("To approve and file")
    REVIEW_DUE = "review_due", _("Periodic review due")
    FOLLOW_UP = "follow_up", _("Follow-up due")


@dataclass(frozen=True)
class Rule:
    kind: str
    capability: str
    when: Q
    due: models.Expression | F
    # What tells this rule's files apart among files that some rule matched, when it is
    # cheaper than ``when`` (see the follow-up rule).
    among_matches: Q | None = None

    @property
    def listed_when(self) -> Q:
        return self.when if self.among_matches is None else self.among_matches


def rules_for(day: datetime.date) -> list[Rule]:
    """In priority order: a file is listed under the first rule that matches."""
    late_investigation = day - datetime.timedelta(days=INVESTIGATION_DAYS)
    return [
        Rule(
            QueueKind.OVERDUE,
            Capability.MANAGE_FILED,
            Q(status=FileStatus.FILED, review_due__lt=day),
            F("review_due"),
        ),
        Rule(
            QueueKind.OVERDUE,
            Capability.INVESTIGATE,
            Q(status=FileStatus.DRAFT, applied_on__lt=late_investigation),
            F("applied_on"),
        ),
        Rule(
            QueueKind.INVESTIGATE,
            Capability.INVESTIGATE,
            Q(status=FileStatus.DRAFT),
            F("applied_on"),
        ),
        Rule(
            QueueKind.SUBMIT,
            Capability.OPEN_FILE,
            Q(status=FileStatus.INVESTIGATED),
            F("applied_on"),
        ),
        Rule(
            QueueKind.TO_REVIEW,
            Capability.APPROVE,
            Q(status=FileStatus.NOTICE, notice_end__lt=day),
            F("notice_end"),
        ),
        Rule(
            QueueKind.NOTICE_ENDING,
            Capability.OPEN_FILE,
            Q(
                status=FileStatus.NOTICE,
                notice_end__gte=day,
                notice_end__lte=day + datetime.timedelta(days=NOTICE_SOON_DAYS),
            ),
            F("notice_end"),
        ),
        Rule(
            QueueKind.TO_APPROVE, Capability.APPROVE, Q(status=FileStatus.REVIEWED), F("applied_on")
        ),
        Rule(
            QueueKind.REVIEW_DUE,
            Capability.MANAGE_FILED,
            Q(
                status=FileStatus.FILED,
                review_due__gte=day,
                review_due__lte=day + datetime.timedelta(days=REVIEW_SOON_DAYS),
            ),
            F("review_due"),
        ),
        Rule(
            QueueKind.FOLLOW_UP,
            Capability.MANAGE_FILED,
            Q(status=FileStatus.CLOSED)
            & Q(
                Exists(
                    FollowUp.objects.filter(
                        file=OuterRef("pk"), status=FollowUpStatus.DUE, due_on__lte=day
                    )
                )
            ),
            F("exit_on"),
            # A closed file is matched by no other rule, so among matched files "closed"
            # alone means this rule. In the reason and due-date CASE, PostgreSQL turned
            # the EXISTS into a hash of every due follow-up in the province, built again
            # for each CASE of every queue query (1.5 ms each on the 1M demo).
            among_matches=Q(status=FileStatus.CLOSED),
        ),
    ]


def _rules(user: User, kind: str | None, day: datetime.date) -> list[Rule]:
    return [
        rule
        for rule in rules_for(day)
        if user.can(rule.capability) and (kind is None or rule.kind == kind)
    ]


def _reason(rules: list[Rule]) -> Case:
    """The kind of the first of ``rules`` a file matches (of files some rule matched)."""
    whens = [When(rule.listed_when, then=Value(rule.kind)) for rule in rules]
    return Case(*whens, output_field=models.CharField())


def _due(rules: list[Rule]) -> Case:
    """The due date the first of ``rules`` a file matches gives it."""
    whens = [When(rule.listed_when, then=rule.due) for rule in rules]
    return Case(*whens, output_field=models.DateField())


def _matching_any(rules: list[Rule]) -> Q:
    matches = Q()
    for rule in rules:
        matches |= rule.when
    return matches


def work_queue(
    user: User, kind: str | None = None, today: datetime.date | None = None
) -> models.QuerySet[HardshipFile]:
    day = today or timezone.localdate()
    rules = _rules(user, None, day)
    wanted = [rule for rule in rules if kind is None or rule.kind == kind]
    if not wanted:
        return HardshipFile.objects.none()
    # The reason is the first of ALL the user's rules that matches, so a file is listed
    # under exactly one tab, the same one that counts it.
    files = (
        HardshipFile.objects.for_user(user)
        .filter(_matching_any(wanted))
        .annotate(queue_reason=_reason(rules), queue_due=_due(rules))
        .select_related("applicant", "organisation")
        .order_by("queue_due", "id")
    )
    return files.filter(queue_reason=kind) if kind else files


def queue_counts(user: User, today: datetime.date | None = None) -> dict[str, int]:
    """How many files wait under each kind, in one query grouped by the listed reason."""
    day = today or timezone.localdate()
    rules = _rules(user, None, day)
    counts = {rule.kind: 0 for rule in rules}
    if not rules:
        return counts

    # Grouping by the same CASE the list shows counts each file under its first matching
    # kind, like the list; the SQL grows with the number of rules, not with its square as
    # one filtered COUNT per rule (each excluding the rules before it) did.
    def build() -> models.QuerySet[Any]:
        return (
            HardshipFile.objects.for_user(user)
            .filter(_matching_any(rules))
            .order_by()
            .values(reason=_reason(rules))
            .annotate(files=Count("id"))
        )

    for reason, files in _run(compiled(("counts", *_key(user, rules, None, day)), build)):
        counts[reason] += files
    return counts


# --- the web page's list: the SQL compiled once -----------------------------------------------
#
# The queue's CASE (nine rules, one with an EXISTS) costs Django about 3 ms to compile, more
# than SQLite takes to run it. Its text depends only on which rules the user has and the tab;
# the day and the union are parameters. So each worker process compiles it once per union,
# set of rules, tab and day, and keeps the SQL and its parameters (a few hundred entries).

# The columns a row of the queue shows (web/templatetags/gonghui.py, queue_rows), as
# (table, column) of the page query below: the file, its applicant and its union.
ROW_COLUMNS = (
    (HardshipFile, "id"),
    (HardshipFile, "number"),
    (HardshipFile, "status"),
    (HardshipFile, "category"),
    (HardshipFile, "proposed_category"),
    (HardshipFile, "applied_on"),
    (Worker, "name"),
    (Worker, "id_number"),
    (Worker, "phone"),
    (Organisation, "name"),
)
# What the page query's inner part gives (work_queue's annotations): see _page_sql.
PAGE_ORDER = ("pk", "queue_reason", "queue_due")
SHAPES: dict[type[models.Model], Shape] = {
    model: Shape(model, alias)
    for model, alias in ((HardshipFile, "f"), (Worker, "w"), (Organisation, "o"))
}


def _key(user: User, rules: list[Rule], kind: str | None, day: datetime.date) -> tuple[Any, ...]:
    organisation = user.organisation
    where = (organisation.pk, organisation.path) if organisation is not None else (None, None)
    return (
        HardshipFile.objects.db,
        *where,
        tuple(rule.kind + ":" + rule.capability for rule in rules),
        kind,
        day,
    )


def _page_sql(ordered: str) -> str:
    """One page of the queue: the ordered (file, reason, due) rows, sliced, and only then
    joined to the file, its applicant and its union for the columns the page shows.

    Why not one ORM query: PostgreSQL then reads the applicant of every matching file (830
    for a county) before sorting, and the wide file rows, to show 50. The inner query reads
    the queue index alone (``file_queue_idx`` holds every column the rules read); the joins
    touch the page's 50 rows (a county's queue page: 11 ms -> 4 ms on the 1M demo)."""
    connection = connections[HardshipFile.objects.db]
    quote = connection.ops.quote_name

    def table(model: type[models.Model]) -> str:
        return SHAPES[model].table(connection)

    def column(model: type[models.Model], name: str) -> str:
        return SHAPES[model].column(connection, name)

    def inner(name: str) -> str:  # a column of the ordered rows, by its alias there
        return f"q.{quote(name)}"

    shown = [column(model, name) for model, name in ROW_COLUMNS]
    shown += [inner("queue_reason"), inner("queue_due")]
    file, worker, union = HardshipFile, Worker, Organisation
    return (
        f"SELECT {', '.join(shown)} FROM ({ordered} LIMIT %s OFFSET %s) q "
        f"JOIN {table(file)} ON {column(file, 'pk')} = {inner('pk')} "
        f"JOIN {table(worker)} ON {column(worker, 'pk')} = {column(file, 'applicant')} "
        f"JOIN {table(union)} ON {column(union, 'pk')} = {column(file, 'organisation')} "
        f"ORDER BY {inner('queue_due')}, {inner('pk')}"
    )


def _run(query: tuple[str, tuple[Any, ...]], *more: Any) -> list[Any]:
    sql, params = query
    with connections[HardshipFile.objects.db].cursor() as cursor:
        cursor.execute(sql, (*params, *more))
        return list(cursor.fetchall())


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    id_number: str
    phone: str


@dataclass(frozen=True, slots=True)
class Union:
    name: str


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One listed file with the columns the queue shows, as ``work_queue`` gives them."""

    pk: int
    number: str
    status: str
    category: str
    proposed_category: str
    applied_on: datetime.date | None
    applicant: Person
    organisation: Union
    queue_reason: str
    queue_due: datetime.date | None


def _date(value: Any) -> datetime.date | None:
    """SQLite hands dates back as text (a raw cursor skips Django's converters)."""
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    if isinstance(value, datetime.datetime):
        return value.date()
    return value  # type: ignore[no-any-return]


def _row(values: Sequence[Any]) -> QueueRow:
    pk, number, status, category, proposed, applied, name, id_number, phone, union = values[:10]
    reason, due = values[10:]
    return QueueRow(
        pk,
        number,
        status,
        category,
        proposed,
        _date(applied),
        Person(name, id_number, phone or ""),
        Union(union),
        reason or "",
        _date(due),
    )


class QueuePage(Sequence[QueueRow]):
    """The work queue for the web page: sliced by the paginator, each slice one query on SQL
    compiled once (see above); the rows carry only the columns the page shows."""

    def __init__(
        self, user: User, kind: str | None, count: int, today: datetime.date | None = None
    ) -> None:
        self.user = user
        self.kind = kind
        self.count_ = count
        self.day = today or timezone.localdate()

    def __len__(self) -> int:
        return self.count_

    def count(self) -> int:  # type: ignore[override]
        return self.count_

    @overload
    def __getitem__(self, index: int) -> QueueRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[QueueRow]: ...

    def __getitem__(self, index: int | slice) -> QueueRow | list[QueueRow]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop, _step = index.indices(self.count_)
        if stop <= start:
            return []
        rules = _rules(self.user, None, self.day)
        if not any(self.kind is None or rule.kind == self.kind for rule in rules):
            return []
        key = ("list", *_key(self.user, rules, self.kind, self.day))

        def build() -> models.QuerySet[Any]:
            files = work_queue(self.user, self.kind, self.day)
            return files.select_related(None).values_list(*PAGE_ORDER)

        found = _run(compiled(key, build, _page_sql), stop - start, start)
        return [_row(values) for values in found]
