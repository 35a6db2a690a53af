"""The linkage review queue (issue 4, point 4): pairs the model could not settle, in the
queue of the worker's union, side by side, with a decision of same person / different
people / unsure and a note.

Reviews come through the one scoping rule (``LinkReview.objects.for_user``), so a pair
outside the user's subtree is a 404; the decision is one call to
:func:`gonghui.discovery.linking.decide`. ID numbers and phones are always masked here: the
page compares a list row with a worker who may not be that person, which is not a page
about one household (``people/personal.py``); the levels per field tell how they differ.

A pair of workers decided "same person" is then merged from the same page by someone who
edits people: they see what each record holds, pick the record that stays (the suggestion:
a valid ID number, then more history) and confirm; :func:`gonghui.people.merge.merge_workers`
does the rest. The queue's "to merge" view lists the pairs waiting for that.
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
from django.views.decorators.http import require_POST

from gonghui.discovery import linking
from gonghui.discovery.models import LinkDecision, LinkKind, LinkReview, ListImport
from gonghui.errors import DomainError
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people import merge
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
FILTERS = ("pending", "decided", "to_merge", "all")


class MergeForm(forms.Form):
    survivor = forms.TypedChoiceField(
        label=gettext_lazy("The record that stays"), coerce=int, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, workers: tuple[Worker, Worker], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workers = {w.pk: w for w in workers}
        field = self.fields["survivor"]
        field.choices = [  # type: ignore[attr-defined]
            (w.pk, _("Worker %(pk)s · %(union)s") % {"pk": w.pk, "union": w.organisation.name})
            for w in workers
        ]


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
    elif shown_filter == "to_merge":
        reviews = reviews.filter(pk__in=linking.to_merge(request.user).values("pk"))
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
    merge_form: MergeForm | None = None,
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
        **_merge_context(request, review, merge_form),
    }
    return render(request, "web/linkage/review.html", context, status=status)


def _pair(review: LinkReview) -> tuple[Worker, Worker] | None:
    if review.kind != LinkKind.DEDUPE or review.other_worker is None:
        return None
    return review.other_worker, review.worker


def _merge_context(
    request: AuthedRequest, review: LinkReview, form: MergeForm | None
) -> dict[str, Any]:
    """What the page shows about merging a pair of workers: done, waiting for someone who
    edits people, or the form with what each record holds."""
    pair = _pair(review)
    if pair is None:
        return {}
    merged = next((w for w in pair if w.merged_into_id in {p.pk for p in pair}), None)
    if merged is not None:
        return {"merged": merged}
    if review.decision != LinkDecision.SAME_PERSON:
        return {}
    user = request.user
    in_scope = Worker.objects.for_user(user).filter(pk__in=[w.pk for w in pair]).count() == 2
    if not (merge.may_merge(user) and in_scope):
        return {"merge_waits": True}
    held = merge.holdings(*pair)
    first, second = (held[w.pk] for w in pair)
    keys = [key for key in first if first[key] or second[key]]
    stays = merge.default_survivor(*pair, held=held)
    goes = pair[0] if stays == pair[1] else pair[1]
    return {
        "merge_form": form or MergeForm(workers=pair, initial={"survivor": stays.pk}),
        "holdings": [(merge.relation_label(k), first[k], second[k]) for k in keys],
        "suggested": stays,
        "four_eyes": review.decided_by_id == user.pk and merge.carries_money(held[goes.pk]),
    }


def _review(request: AuthedRequest, pk: int) -> LinkReview:
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
    return review


@login_required
def review_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    review = _review(request, pk)
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
    same = form.cleaned_data["decision"] == LinkDecision.SAME_PERSON
    if same and _pair(review) is not None and merge.may_merge(request.user):
        messages.success(
            request, _("The decision is recorded. Choose the record that stays and merge them.")
        )
        return redirect("link-review", pk=review.pk)
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


@login_required
@require_POST
def review_merge(request: AuthedRequest, pk: int) -> HttpResponse:
    """Merge the pair: the chosen record stays, the other is merged into it."""
    review = _review(request, pk)
    pair = _pair(review)
    if pair is None or not merge.may_merge(request.user):
        raise PermissionDenied
    form = MergeForm(request.POST, workers=pair)
    if not form.is_valid():
        return _review_page(request, review, status=400, merge_form=form)
    survivor = form.workers[form.cleaned_data["survivor"]]
    duplicate = pair[0] if survivor == pair[1] else pair[1]
    try:
        result = merge.merge_workers(request.user, survivor, duplicate, review)
    except DomainError as exc:
        attach_error(request, form, exc)
        return _review_page(request, review, status=error_status(exc), merge_form=form)
    names = {"duplicate": duplicate.pk, "survivor": survivor.pk, "name": survivor.name}
    if result.already:
        messages.info(
            request, _("Worker %(duplicate)s was already merged into %(survivor)s.") % names
        )
    else:
        messages.success(
            request, _("Worker %(duplicate)s is merged into %(survivor)s (%(name)s).") % names
        )
    return redirect("link-review", pk=review.pk)
