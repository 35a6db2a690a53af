"""The work queue: what waits for this user, by kind, with counts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.utils import timezone

from gonghui.hardship.queue import QueueKind, QueuePage, queue_counts
from gonghui.supervision import digest
from gonghui.web.http import AuthedRequest, render_page


class CountedPaginator(Paginator):
    """A paginator told how many objects there are, when the page has counted them already."""

    def __init__(self, object_list: Any, per_page: int, count: int) -> None:
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count  # fills the cached property


@login_required
def queue(request: AuthedRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    if kind not in QueueKind.values:
        kind = None
    today = timezone.localdate()
    counts = queue_counts(request.user, today)
    tabs = [(value, label, counts[value]) for value, label in QueueKind.choices if value in counts]
    total = sum(counts.values())
    # The tab counts already say how many files the list holds: no second COUNT query. The
    # list's SQL is compiled once per worker (hardship/queue.py, QueuePage).
    count = counts.get(kind, 0) if kind else total
    files = QueuePage(request.user, kind, count, today)
    paginator = CountedPaginator(files, settings.GONGHUI_PAGE_SIZE, count)
    context = {
        # Overdue follow-ups, tasks, rectifications and reviews, as of today's digest: on
        # the whole page only, not on every tab switch.
        "alerts": {} if request.htmx else digest.todays_counts(request.user, today),
        "kind": kind,
        "tabs": tabs,
        "total": total,
        "page": paginator.get_page(request.GET.get("page")),
        "QueueKind": QueueKind,
    }
    # htmx swaps only the panel (tabs and list) when a tab or a page link is followed.
    return render_page(request, "web/queue.html", "web/_queue_panel.html", context)
