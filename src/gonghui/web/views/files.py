"""Finding files and the case page: the whole household on one screen."""

from __future__ import annotations

import mimetypes
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.forms import BaseForm
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.audit.models import AuditEntry
from gonghui.hardship import rules, services
from gonghui.hardship.choices import FileStatus, HardshipCategory
from gonghui.hardship.models import Attachment, HardshipFile
from gonghui.hardship.search import search_files, surname_too_broad
from gonghui.organisations.scoping import get_for_user_or_404_compiled
from gonghui.people.models import HouseholdMember
from gonghui.people.personal import may_reveal
from gonghui.rows import attach, children, in_bulk, instances
from gonghui.web.actions import action_forms, available_actions
from gonghui.web.duenext import due_next
from gonghui.web.forms import FileFilterForm
from gonghui.web.http import AuthedRequest, paginate, render_page
from gonghui.web.timeline import file_timeline
from gonghui.web.views.aid_money import household_money_context

# The columns a list of files shows (web/templatetags/gonghui.py, queue_rows and
# result_rows): a 50-row page builds 150 model instances, and a file has 37 columns,
# among them the decision trace and the policy snapshot.
LIST_FIELDS = (
    "number",
    "status",
    "category",
    "proposed_category",
    "applied_on",
    "applicant__name",
    "applicant__id_number",
    "applicant__phone",
    "organisation__name",
)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})
TIMELINE_LIMIT = 300
STAFF_NAME = ("username", "display_name")  # what User.__str__ reads
READINGS_SHOWN = 24


@login_required
def file_list(request: AuthedRequest) -> HttpResponse:
    form = FileFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    q = data.get("q", "").strip()
    files = search_files(request.user, q) if q else HardshipFile.objects.for_user(request.user)
    if data.get("status"):
        files = files.filter(status=data["status"])
    if data.get("category"):
        category = data["category"]
        files = files.filter(Q(category=category) | Q(category="", proposed_category=category))
    # The list shows the applicant and the union: no household join, only the shown columns.
    files = (
        files.select_related(None)
        .select_related("applicant", "organisation")
        .only(*LIST_FIELDS)
        .order_by("-applied_on", "-id")
    )
    context = {
        "form": form,
        "q": q,
        "surname_too_broad": surname_too_broad(request.user, q),
        "page": paginate(request, files, settings.GONGHUI_PAGE_SIZE, few=bool(q)),
    }
    return render_page(request, "web/files/list.html", "web/files/_results.html", context)


def case_file(request: AuthedRequest, pk: int) -> HardshipFile:
    """The file with everything the case page reads from its row, or a 404 for outsiders."""
    # The staff who took each step (created_by, ...) are not shown: no join for them.
    return get_for_user_or_404_compiled(
        HardshipFile,
        "case-file",
        lambda: HardshipFile.objects.with_people().select_related("policy"),
        request.user,
        pk,
    )


def _age(member: Any, today: Any) -> int | None:
    born = member.worker.birth_date if member.worker else member.birth_date
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _household(file: HardshipFile, today: Any) -> dict[str, Any]:
    members = instances(
        HouseholdMember,
        ("members",),
        lambda household: HouseholdMember.objects.filter(household=household).select_related(
            "worker"
        ),
        file.household_id,
    )
    attach(members, "household", {file.household_id: file.household})
    for member in members:
        member.age = _age(member, today)  # type: ignore[attr-defined]
    # A line's member is one of the household's, already loaded: no join for it.
    by_pk = {member.pk: member for member in members}
    incomes = _rows(file.incomelines)  # type: ignore[attr-defined]
    expenses = _rows(file.expenselines)  # type: ignore[attr-defined]
    attach(incomes, "member", by_pk)
    attach(expenses, "member", by_pk)
    return {
        "members": members,
        "incomes": incomes,
        "expenses": expenses,
        "income_total": sum((line.amount for line in incomes), Decimal("0")),
        "expense_total": sum((line.amount for line in expenses), Decimal("0")),
        "member_income_total": sum((m.monthly_income for m in members), Decimal("0")),
    }


def _rows(related: Any, limit: int | None = None) -> list[Any]:
    """The file's rows of a related table (``file.attachments``...), as ``.all()`` gives
    them, through SQL compiled once per process (:func:`gonghui.rows.children`): the
    page reads ten such lists, and compiling them was a fifth of its CPU."""
    file = related.instance
    found = children(related.model, related.field.name, file.pk, limit=limit)
    attach(found, related.field.name, {file.pk: file})  # row.file: no query
    return found


def _records(file: HardshipFile) -> dict[str, Any]:
    # One query for every attachment of the file, shared out to the visits here.
    attachments: dict[int | None, list[Attachment]] = defaultdict(list)
    for attachment in _rows(file.attachments):  # type: ignore[attr-defined]
        suffix = Path(attachment.upload.name).suffix.lower()
        attachment.is_image = suffix in IMAGE_SUFFIXES  # type: ignore[attr-defined]
        attachments[attachment.investigation_id].append(attachment)
    investigations = _rows(file.investigations)  # type: ignore[attr-defined]
    for visit in investigations:
        visit.items = attachments.get(visit.pk, [])  # type: ignore[attr-defined]
    return {
        "investigations": investigations,
        "loose_attachments": attachments.get(None, []),
        **_after_filing(file),
    }


def _after_filing(file: HardshipFile) -> dict[str, Any]:
    """Periodic reviews, income readings and follow-ups, which only a filed file has."""
    if file.filed_on is None:  # set on approval and kept through exit and reopening
        return {"reviews": [], "readings": [], "months_above": 0, "follow_ups": []}
    # A filed file needs every reading for its streak above the standard; the page shows 24.
    every = file.status == FileStatus.FILED
    readings = _rows(file.readings, None if every else READINGS_SHOWN)  # type: ignore[attr-defined]
    streak = rules.months_above_standard(
        (r.month, r.per_capita_income, r.living_standard) for r in readings
    )
    return {
        "reviews": _rows(file.reviews),  # type: ignore[attr-defined]
        "readings": readings[:READINGS_SHOWN],
        "months_above": streak if every else 0,
        "follow_ups": _rows(file.follow_ups),  # type: ignore[attr-defined]
    }


def _name_staff(*lists: tuple[list[Any], str]) -> None:
    """Give the rows of each list their staff member (``field``: investigator, actor...),
    all of them in one query of the columns a name needs (``User.__str__``).

    Why: joined to each of five lists, the user table (a dozen columns, the password hash
    among them) cost the case page five joins' worth of SQL compiling and model building.
    """
    wanted = {getattr(row, f"{field}_id") for rows, field in lists for row in rows}
    wanted.discard(None)
    staff = in_bulk(User, ("staff",), _staff, wanted)
    for rows, field in lists:
        attach(rows, field, staff)


def _staff(pks: list[int]) -> QuerySet[User]:
    return User.objects.only(*STAFF_NAME).filter(pk__in=pks)


def case_context(
    request: AuthedRequest, file: HardshipFile, bound: dict[str, BaseForm] | None = None
) -> dict[str, Any]:
    today = timezone.localdate()
    reveal = may_reveal(request.user, single_household=True)
    records = _records(file)
    entries = children(AuditEntry, "file_id", file.pk, limit=TIMELINE_LIMIT)
    events = _rows(file.events)  # type: ignore[attr-defined]
    _name_staff(
        (records["investigations"], "investigator"),
        (records["reviews"], "reviewer"),
        (records["follow_ups"], "owner"),
        (entries, "actor"),
        (events, "actor"),
    )
    actions = available_actions(request.user, file)
    household = _household(file, today)
    return {
        "file": file,
        "show_personal": True,
        "today": today,
        **household,
        **records,
        "snapshot": file.policy_snapshot or {},
        "category_label": HardshipCategory(file.category).label if file.category else "",
        "due": due_next(file, today, records["follow_ups"], records["months_above"]),
        "timeline": file_timeline(events, entries, reveal),
        "actions": actions,
        "forms": action_forms(actions, file, today, bound or {}),
        "can_edit_finances": (
            request.user.can(Capability.OPEN_FILE) and file.status in services.EDITABLE
        ),
        # Every yuan the household had this year, from every fund, against the caps.
        # The section reuses the page's file (its union) and household members.
        **household_money_context(
            request.user,
            file.household,
            today.year,
            file=file,
            members=household["members"],
        ),
    }


def render_case(
    request: AuthedRequest,
    file: HardshipFile,
    bound: dict[str, BaseForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = case_context(request, file, bound)
    # A refused action re-renders the case page at its POST-only URL; links that come
    # back to "this page" (the language switch) must go to the case page itself.
    context["page_url"] = reverse("file-detail", args=[file.pk])
    return render(request, "web/files/detail.html", context, status=status)


@login_required
def file_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return render_case(request, case_file(request, pk))


@login_required
def attachment(request: AuthedRequest, pk: int) -> FileResponse:
    """Photos from home visits are personal data: served only inside the user's scope."""
    scoped = Attachment.objects.filter(file__in=HardshipFile.objects.for_user(request.user))
    item = get_object_or_404(scoped, pk=pk)
    name = Path(item.upload.name).name
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(item.upload.open("rb"), filename=name, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
