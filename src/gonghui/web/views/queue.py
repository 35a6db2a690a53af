"""The work queue: what waits for this user, by kind, with counts."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse

from gonghui.hardship.queue import QueueKind, queue_counts, work_queue
from gonghui.web.http import AuthedRequest, paginate, render_page


@login_required
def queue(request: AuthedRequest) -> HttpResponse:
    kind = request.GET.get("kind") or None
    if kind not in QueueKind.values:
        kind = None
    counts = queue_counts(request.user)
    tabs = [(value, label, counts[value]) for value, label in QueueKind.choices if value in counts]
    files = work_queue(request.user, kind).select_related("applicant", "organisation")
    context = {
        "kind": kind,
        "tabs": tabs,
        "total": sum(counts.values()),
        "page": paginate(request, files, settings.GONGHUI_PAGE_SIZE),
        "QueueKind": QueueKind,
    }
    # htmx swaps only the panel (tabs and list) when a tab or a page link is followed.
    return render_page(request, "web/queue.html", "web/_queue_panel.html", context)
