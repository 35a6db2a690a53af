"""The printable public-notice list (公示名单), grouped by union."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web.http import AuthedRequest

# A notice list is printed per union; a province-wide list is capped so a page stays a page.
MAX_ROWS = 2000


@login_required
def notice_list(request: AuthedRequest) -> HttpResponse:
    root = request.user.organisation
    org_id = request.GET.get("org", "")
    if org_id.isdigit():
        root = get_for_user_or_404(Organisation, request.user, pk=int(org_id))
    files = HardshipFile.objects.for_user(request.user).filter(status=FileStatus.NOTICE)
    if root is not None:
        files = files.filter(root.subtree_q("organisation__"))
    files = files.select_related("applicant", "organisation").order_by(
        "organisation__path", "notice_end", "number"
    )
    rows = list(files[: MAX_ROWS + 1])
    context = {
        "root": root,
        "files": rows[:MAX_ROWS],
        "truncated": len(rows) > MAX_ROWS,
        "max_rows": MAX_ROWS,
    }
    return render(request, "web/notices.html", context)
