"""The linkage review queue (issue 4, point 4): pairs the model could not settle, in the
queue of the worker's union, side by side, with a decision of same person / different
people / unsure and a note.

Reviews come through the one scoping rule (``LinkReview.objects.for_user``), so a pair
outside the user's subtree is a 404; the decision is one call to
:func:`gonghui.discovery.linking.decide`. ID numbers and phones are always masked here: the
page compares a list row with a worker who may not be that person, which is not a page
about one household (``people/personal.py``); the levels per field tell how they differ.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gonghui.discovery import linking
from gonghui.discovery.models import LinkDecision, LinkKind, LinkReview, ListImport
from gonghui.errors import DomainError
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people.models import Worker
from gonghui.people.personal import may_reveal, shown
from gonghui.web.http import AuthedRequest, attach_error, error_status, paginate

FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "birth_date": gettext_lazy("Date of birth"),
    "phone": gettext_lazy("Phone"),
    "region": gettext_lazy("Region"),
    "sex": gettext_lazy("Sex"),
    "id_number": gettext_lazy("ID number"),
}
LEVEL_LABELS = {
    "exact": gettext_lazy("the same"),
    "pinyin": gettext_lazy("same pinyin"),
    "swapped": gettext_lazy("swapped"),
    "one_character": gettext_lazy("one character apart"),
    "surname": gettext_lazy("surname only"),
    "one_digit": gettext_lazy("one digit apart"),
    "city": gettext_lazy("same city"),
    "one_typo": gettext_lazy("one typo apart"),
    "two_typos": gettext_lazy("two typos apart"),
    "different": gettext_lazy("different"),
    "null": gettext_lazy("missing on one side"),
}
FILTERS = ("pending", "decided", "all")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[(d.value, d.label) for d in linking.DECISIONS],
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


def _require_queue(request: AuthedRequest) -> None:
    if not (linking.may_decide(request.user) or linking.may_run(request.user)):
        raise PermissionDenied


def _row_side(review: LinkReview, rows: dict[tuple[int, int], dict[str, Any]]) -> dict[str, Any]:
    if review.kind == LinkKind.LINK and review.list_import_id is not None:
        assert review.row_no is not None
        return rows.get((review.list_import_id, review.row_no), {"row_no": review.row_no})
    return {}


def _rows_of(reviews: list[LinkReview]) -> dict[tuple[int, int], dict[str, Any]]:
    """The list rows the reviews name, read from each list's Parquet file at once."""
    wanted: dict[int, list[int]] = {}
    for review in reviews:
        if review.list_import_id is not None and review.row_no is not None:
            wanted.setdefault(review.list_import_id, []).append(review.row_no)
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for imp in ListImport.objects.filter(pk__in=wanted):
        for row_no, row in linking.list_rows(imp, wanted[imp.pk]).items():
            found[(imp.pk, row_no)] = row
    return found


@login_required
def review_list(request: AuthedRequest) -> HttpResponse:
    """The user's subtree's pairs, most likely first; pending ones unless asked."""
    _require_queue(request)
    shown_filter = request.GET.get("show", "pending")
    if shown_filter not in FILTERS:
        shown_filter = "pending"
    reviews = LinkReview.objects.for_user(request.user).select_related(
        "worker", "other_worker", "list_import", "organisation"
    )
    if shown_filter == "pending":
        reviews = reviews.filter(decision=LinkDecision.PENDING)
    elif shown_filter == "decided":
        reviews = reviews.exclude(decision=LinkDecision.PENDING)
    kind = request.GET.get("kind", "")
    if kind in LinkKind.values:
        reviews = reviews.filter(kind=kind)
    list_id = request.GET.get("list", "")
    if list_id.isdigit():
        reviews = reviews.filter(list_import_id=int(list_id))
    page = paginate(
        request, reviews.order_by("-match_probability", "id"), settings.GONGHUI_PAGE_SIZE
    )
    items = list(page.object_list)
    rows = _rows_of(items)
    context = {
        "page": page,
        "items": [(review, _row_side(review, rows)) for review in items],
        "show": shown_filter,
        "kind": kind,
        "field_labels": FIELD_LABELS,
    }
    return render(request, "web/linkage/reviews.html", context)


def _person(worker: Worker | None, reveal: bool) -> dict[str, Any]:
    if worker is None:
        return {}
    return {
        "name": worker.name,
        "id_number": shown(worker.id_number, "id", reveal),
        "birth_date": worker.birth_date,
        "phone": shown(worker.phone, "phone", reveal),
        "region": worker.region_id or "",
        "organisation": worker.organisation.name,
        "pk": worker.pk,
    }


def _review_page(
    request: AuthedRequest,
    review: LinkReview,
    form: DecisionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    reveal = may_reveal(request.user, single_household=False)
    if review.kind == LinkKind.LINK:
        row = _row_side(review, _rows_of([review]))
        other = {
            **row,
            "id_number": shown(row.get("id_number"), "id", reveal),
            "phone": shown(row.get("phone"), "phone", reveal),
        }
    else:
        other = _person(review.other_worker, reveal)
    fields = [
        {
            "field": name,
            "label": FIELD_LABELS.get(name, name),
            "level": LEVEL_LABELS.get(level, level),
            "agreed": name in review.agreed,
        }
        for name, level in review.levels.items()
    ]
    context = {
        "review": review,
        "worker": _person(review.worker, reveal),
        "other": other,
        "fields": fields,
        "percent": f"{review.match_probability * 100:.1f}",
        "may_decide": linking.may_decide(request.user),
        "form": form or DecisionForm(initial={"note": review.note}),
    }
    return render(request, "web/linkage/review.html", context, status=status)


@login_required
def review_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    review = get_for_user_or_404(
        LinkReview.objects.select_related(
            "worker__organisation",
            "other_worker__organisation",
            "list_import",
            "decided_by",
            "organisation",
        ),
        request.user,
        pk=pk,
    )
    _require_queue(request)
    if request.method != "POST":
        return _review_page(request, review)
    if not linking.may_decide(request.user):
        raise PermissionDenied
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _review_page(request, review, form, 400)
    try:
        linking.decide(
            request.user, review, form.cleaned_data["decision"], form.cleaned_data["note"]
        )
    except DomainError as exc:
        attach_error(request, form, exc)
        return _review_page(request, review, form, error_status(exc))
    messages.success(request, _("The decision is recorded."))
    following = (
        LinkReview.objects.for_user(request.user)
        .filter(decision=LinkDecision.PENDING)
        .order_by("-match_probability", "id")
        .first()
    )
    if following is not None:
        return redirect("link-review", pk=following.pk)
    return redirect("link-review-list")
