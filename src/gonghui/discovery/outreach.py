"""The outreach worklist (issue 4, points 5 and 6): candidates the screening rules flagged,
in the queue of the grassroots union responsible, with their evidence in words; the
outcome of each contact; precision per rule; and coverage per organisation.

    worklist(user, rule=, status=)      # the scoped queue, newest first (one query a page)
    evidence_in_words(candidates)       # what each candidate was flagged for, list rows included
    record_outcome(user, candidate, …)  # contacted / filed / not eligible (reason) / unreachable
    file_opened(user, file)             # a file opened for a flagged worker: candidates → filed
    precision(user)                     # per rule and version, one grouped query
    coverage(user, organisation)        # per organisation one level down, plus the total

**Filed.** A candidate becomes *filed* when a hardship file is opened for the worker: the
page's one-click link opens the new-application page for the worker, and
:func:`file_opened` (to be called by ``hardship.services.open_application`` in the same
transaction) marks the worker's open candidates filed, each change audited. The worklist
also shows, set-based (one subquery), the latest file of each candidate's worker, so a file
opened some other way is visible and the outcome *filed* can be recorded with one click;
:func:`record_outcome` refuses *filed* while no file exists for the worker.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.audit.context import acting_as, current_actor, current_source
from gonghui.errors import DomainError, NotAllowed
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile, IncomeReading
from gonghui.organisations.models import PATH_SEGMENT, PATH_SEP, Organisation
from gonghui.people.choices import MembershipStatus
from gonghui.people.models import Membership
from gonghui.people.personal import shown

from . import lists
from .choices import CandidateStatus, SourceKind
from .models import Candidate, ListImport, ScreeningRule

# The outcomes a case worker records (``new`` is where every candidate starts).
OUTCOMES = (
    CandidateStatus.CONTACTED,
    CandidateStatus.FILED,
    CandidateStatus.NOT_ELIGIBLE,
    CandidateStatus.UNREACHABLE,
)
# Someone spoke with the worker.
REACHED = (CandidateStatus.CONTACTED, CandidateStatus.FILED, CandidateStatus.NOT_ELIGIBLE)
# Outcomes an opened file overrides (a "not eligible" stays: that was a decision).
BEFORE_FILING = (CandidateStatus.NEW, CandidateStatus.CONTACTED, CandidateStatus.UNREACHABLE)
# Evidence that is not a list row: the income readings of a filed household.
INCOME_READING = "income_reading"


def may_work(user: Any) -> bool:
    """Case workers and reviewers work the queue (within their subtree)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "organisation", None) is not None
        and (user.can(Capability.OPEN_FILE) or user.can(Capability.MANAGE_FILED))
    )


def require_worker(user: Any) -> None:
    if not may_work(user):
        raise NotAllowed(_("Your role does not work the outreach queue."))


def may_see_figures(user: Any) -> bool:
    """Precision and coverage: those who work the queue, and the leaders who judge it."""
    return may_work(user) or bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "organisation", None) is not None
        and user.can(Capability.RUN_COMPETITIONS)
    )


def require_figures(user: Any) -> None:
    if not may_see_figures(user):
        raise NotAllowed(_("Your role does not see the outreach figures."))


# --- the worklist -------------------------------------------------------------------------


def _files_of_worker() -> QuerySet[HardshipFile]:
    """Files of the outer candidate's worker: as applicant or as a member of the household."""
    worker = OuterRef("worker_id")
    return HardshipFile.objects.filter(
        Q(applicant_id=worker) | Q(household__members__worker_id=worker)
    ).order_by("-created_at", "-id")


def with_file(candidates: QuerySet[Candidate]) -> QuerySet[Candidate]:
    """Annotate each candidate with the latest file of its worker (``file_pk``,
    ``file_number``, ``file_status``): three correlated subqueries, no query per row."""
    files = _files_of_worker()
    return candidates.annotate(
        file_pk=Subquery(files.values("pk")[:1]),
        file_number=Subquery(files.values("number")[:1]),
        file_status=Subquery(files.values("status")[:1]),
    )


def worklist(
    user: Any, rule: ScreeningRule | int | None = None, status: str | None = None
) -> QuerySet[Candidate]:
    """Candidates still found, in the user's subtree, newest first; optionally of one rule
    and one status."""
    require_worker(user)
    rows = Candidate.objects.for_user(user).filter(dropped_at__isnull=True)
    if rule:
        rows = rows.filter(rule=rule)
    if status:
        if status not in CandidateStatus.values:
            raise DomainError(_("Unknown status “%(status)s”.") % {"status": status}, "status")
        rows = rows.filter(status=status)
    rows = rows.select_related("worker", "organisation", "rule")
    return with_file(rows).order_by("-created_at", "-id")


@dataclass
class EvidenceLine:
    """One piece of evidence in words: the source, and the row's fields as (label, value)."""

    source: str
    import_id: int
    row: int
    provenance: str = ""  # agency, period and file of the list
    fields: list[tuple[str, str]] = field(default_factory=list)
    link: str = ""  # how a row without a usable ID number was tied to the worker


def _link_text(item: Mapping[str, Any]) -> str:
    """A row the fuzzy linkage tied to the worker says so (``screening.evidence_json``)."""
    if item.get("method") != "linked":
        return ""
    score = f"{float(item.get('score') or 0):.2f}"
    if item.get("by") == "reviewed":
        return _("linked by a reviewer (match probability %(score)s)") % {"score": score}
    return _("linked by the fuzzy linkage (match probability %(score)s)") % {"score": score}


def _value(kind: str, value: Any) -> str:
    from gonghui.assistance.money import format_fen

    if value is None or value == "":
        return ""
    if kind == "money":
        return format_fen(int(value))
    if kind == "bool":
        return _("yes") if value else _("no")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _list_rows(imp: ListImport, row_numbers: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The rows of one list import by number, read from its Parquet file."""
    path = lists.rows_path(imp.work_dir)
    numbers = sorted({int(n) for n in row_numbers})
    if not path.exists() or not numbers:
        return {}
    con = duckdb.connect()
    try:
        cursor = con.execute(
            "SELECT * FROM read_parquet(?) WHERE row_no IN (SELECT unnest(?))", [str(path), numbers]
        )
        names = [d[0] for d in cursor.description]
        return {
            int(r[names.index("row_no")]): dict(zip(names, r, strict=True))
            for r in cursor.fetchall()
        }
    finally:
        con.close()


def _row_fields(kind: str, row: dict[str, Any], reveal: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in lists.fields(kind):
        column = "region_id" if item.name == "region" else item.name
        value = row.get(column)
        if item.name == "id_number" and not value and row.get("id_given"):
            value = row["id_given"]
        text = _value(item.kind, value)
        if item.name in ("id_number", "phone") and text:
            text = shown(text, "id" if item.name == "id_number" else "phone", reveal)
        if text:
            out.append((str(item.label), text))
    return out


def evidence_in_words(
    candidates: Sequence[Candidate], reveal: bool = False
) -> dict[int, list[EvidenceLine]]:
    """Candidate pk → its evidence, each list row with its source kind, the import's agency
    and period, and the row's fields (ID numbers and phones masked unless ``reveal``).
    Two database queries whatever the number of candidates, plus one Parquet read per list
    import named on the page."""
    wanted: dict[int, set[int]] = defaultdict(set)
    readings: set[int] = set()
    for candidate in candidates:
        for item in candidate.evidence:
            if item["source"] == INCOME_READING:
                readings.add(int(item["row"]))
            else:
                wanted[int(item["import"])].add(int(item["row"]))
    imports = ListImport.objects.in_bulk(list(wanted)) if wanted else {}
    rows = {pk: _list_rows(imp, wanted[pk]) for pk, imp in imports.items()}
    income = IncomeReading.objects.in_bulk(list(readings)) if readings else {}
    kinds = dict(SourceKind.choices)
    found: dict[int, list[EvidenceLine]] = {}
    for candidate in candidates:
        lines = []
        for item in candidate.evidence:
            source, import_id, row_no = str(item["source"]), int(item["import"]), int(item["row"])
            if source == INCOME_READING:
                line = EvidenceLine(str(_("Income reading")), import_id, row_no)
                reading = income.get(row_no)
                if reading is not None:
                    line.fields = [
                        (_("month"), reading.month.strftime("%Y-%m")),
                        (_("per-capita income"), str(reading.per_capita_income)),
                        (_("living standard"), str(reading.living_standard)),
                    ]
                lines.append(line)
                continue
            line = EvidenceLine(str(kinds.get(source, source)), import_id, row_no)
            line.link = _link_text(item)
            imp = imports.get(import_id)
            if imp is not None:
                line.provenance = _("%(agency)s, %(start)s to %(end)s, %(file)s") % {
                    "agency": imp.agency,
                    "start": imp.period_from.isoformat(),
                    "end": imp.period_to.isoformat(),
                    "file": imp.file_name,
                }
                row = rows.get(import_id, {}).get(row_no)
                if row is not None:
                    line.fields = _row_fields(imp.kind, row, reveal)
            lines.append(line)
        found[candidate.pk] = lines
    return found


# --- outcomes -----------------------------------------------------------------------------


def has_file(candidate: Candidate) -> bool:
    return HardshipFile.objects.filter(
        Q(applicant_id=candidate.worker_id) | Q(household__members__worker_id=candidate.worker_id)
    ).exists()


def record_outcome(user: Any, candidate: Candidate, status: str, reason: str = "") -> Candidate:
    """The outcome of the contact with a candidate, audited (``Candidate`` is audited on
    save). *Not eligible* needs a reason; *filed* needs a file opened for the worker."""
    require_worker(user)
    reason = (reason or "").strip()
    if status not in OUTCOMES:
        raise DomainError(_("Choose an outcome."), field="status")
    if status == CandidateStatus.NOT_ELIGIBLE and not reason:
        raise DomainError(_("Say why the worker is not eligible."), field="reason")
    with transaction.atomic():
        found = Candidate.objects.for_user(user).select_for_update().filter(pk=candidate.pk).first()
        if found is None:
            raise NotAllowed(_("This candidate is outside your organisation."))
        if found.dropped_at is not None:
            raise DomainError(
                _("The rules no longer flag this worker; there is nothing to record."),
                field="status",
            )
        if status == CandidateStatus.FILED and not has_file(found):
            raise DomainError(
                _("No file is opened for this worker yet: start the application first."),
                field="status",
            )
        found.status = status
        found.reason = reason
        with acting_as(current_actor() or user, current_source()):
            found.save(update_fields=["status", "reason", "updated_at"])
    return found


def file_opened(user: Any, file: HardshipFile) -> int:
    """A file was opened: the open candidates of its applicant and of the household's
    registered workers become *filed* (each save audited). Returns how many changed."""
    workers = {file.applicant_id} | set(
        file.household.members.filter(worker__isnull=False).values_list("worker_id", flat=True)
    )
    changed = 0
    with transaction.atomic(), acting_as(current_actor() or user, current_source()):
        for candidate in Candidate.objects.select_for_update().filter(
            worker_id__in=workers, status__in=BEFORE_FILING, dropped_at__isnull=True
        ):
            candidate.status = CandidateStatus.FILED
            candidate.reason = _("File %(number)s opened.") % {"number": file.number}
            candidate.save(update_fields=["status", "reason", "updated_at"])
            changed += 1
    return changed


# --- precision per rule -------------------------------------------------------------------


def _share(part: int, whole: int) -> Decimal | None:
    """Per cent to one decimal place; None when there is nothing to divide by."""
    if not whole:
        return None
    return (Decimal(part * 100) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _counts() -> dict[str, Any]:
    return {
        "candidates": Count("pk"),
        "contacted": Count("pk", filter=Q(status=CandidateStatus.CONTACTED)),
        "filed": Count("pk", filter=Q(status=CandidateStatus.FILED)),
        "not_eligible": Count("pk", filter=Q(status=CandidateStatus.NOT_ELIGIBLE)),
        "unreachable": Count("pk", filter=Q(status=CandidateStatus.UNREACHABLE)),
        "dropped": Count("pk", filter=Q(dropped_at__isnull=False)),
    }


@dataclass
class RulePrecision:
    code: str
    label: str
    version: int
    candidates: int
    contacted: int
    filed: int
    not_eligible: int
    unreachable: int
    dropped: int  # no longer found by the rule (their outcomes still count)

    @property
    def precision(self) -> Decimal | None:
        """Per cent of the decided candidates that were filed: filed / (filed + not eligible)."""
        return _share(self.filed, self.filed + self.not_eligible)


def precision(user: Any) -> list[RulePrecision]:
    """Per rule and version, the candidates in the user's subtree and their outcomes: one
    grouped query. Candidates a later run dropped keep their outcome and count."""
    require_figures(user)
    grouped = (
        Candidate.objects.for_user(user)
        .values("rule__code", "rule__name", "rule__builtin", "rule_version")
        .annotate(**_counts())
        .order_by("rule__code", "rule_version")
    )
    out = []
    for r in grouped:
        name = r["rule__name"]
        out.append(
            RulePrecision(
                code=r["rule__code"],
                label=_(name) if r["rule__builtin"] else name,
                version=r["rule_version"],
                candidates=r["candidates"],
                contacted=r["contacted"],
                filed=r["filed"],
                not_eligible=r["not_eligible"],
                unreachable=r["unreachable"],
                dropped=r["dropped"],
            )
        )
    return out


# --- coverage -----------------------------------------------------------------------------


@dataclass
class CoverageRow:
    """One organisation's subtree (``organisation`` None: the total)."""

    organisation: Organisation | None
    own: bool  # the figures of the organisation itself, not of a child's subtree
    members: int = 0
    candidates: int = 0  # workers flagged by a rule still finding them
    contacted: int = 0  # of them, reached (contacted, filed or found not eligible)
    filed: int = 0  # hardship files filed
    rejected: int = 0  # hardship files rejected

    @property
    def candidate_share(self) -> Decimal | None:
        """Per cent of the members flagged."""
        return _share(self.candidates, self.members)

    @property
    def contacted_share(self) -> Decimal | None:
        return _share(self.contacted, self.candidates)


def check_reach(user: Any, organisation: Organisation) -> None:
    require_figures(user)
    if not user.organisation.contains(organisation):
        raise NotAllowed(_("This is outside your organisation."))


def coverage(user: Any, organisation: Organisation | None = None) -> list[CoverageRow]:
    """Members, candidates, contacted, filed and rejected per organisation one level below
    ``organisation`` (the user's by default), a row for what sits at the organisation
    itself when there is any, then the total: three grouped queries and one for the
    children: four queries, whatever the size of the tree."""
    organisation = organisation or user.organisation
    check_reach(user, organisation)
    width = len(organisation.path) + PATH_SEGMENT + len(PATH_SEP)

    def grouped(queryset: QuerySet[Any], path: str, **counts: Any) -> dict[str, dict[str, int]]:
        rows = (
            queryset.filter(organisation.subtree_q(f"{path}__"))
            .annotate(branch=Substr(f"{path}__path", 1, width))
            .values("branch")
            .annotate(**counts)
            .order_by()
        )
        return {r.pop("branch"): r for r in rows}

    members = grouped(
        Membership.objects.filter(status=MembershipStatus.ACTIVE),
        "organisation",
        members=Count("pk"),
    )
    candidates = grouped(
        Candidate.objects.active(),
        "organisation",
        candidates=Count("worker_id", distinct=True),
        contacted=Count("worker_id", distinct=True, filter=Q(status__in=REACHED)),
    )
    files = grouped(
        HardshipFile.objects.all(),
        "organisation",
        filed=Count("pk", filter=Q(status=FileStatus.FILED)),
        rejected=Count("pk", filter=Q(status=FileStatus.REJECTED)),
    )
    children = list(Organisation.objects.filter(parent=organisation).order_by("path"))
    branches = {o.path: o for o in children}
    rows: dict[str, CoverageRow] = {o.path: CoverageRow(o, own=False) for o in children}
    for table in (members, candidates, files):
        for branch, values in table.items():
            row = rows.get(branch)
            if row is None:
                own = branch == organisation.path
                row = rows[branch] = CoverageRow(
                    organisation if own else branches.get(branch), own=own
                )
            for key, value in values.items():
                setattr(row, key, value)
    # Own figures first, then the children in tree order.
    ordered = sorted(
        (r for r in rows.values() if r.organisation is not None),
        key=lambda r: "" if r.own else r.organisation.path,  # type: ignore[union-attr]
    )
    total = CoverageRow(None, own=False)
    for key in ("members", "candidates", "contacted", "filed", "rejected"):
        setattr(total, key, sum(getattr(r, key) for r in ordered))
    return [*ordered, total]
