"""The audit log for auditors: every change in their subtree, read-only."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpResponse

from gonghui.accounts.choices import Capability
from gonghui.audit.models import Audited, AuditEntry
from gonghui.web.forms import AuditFilterForm
from gonghui.web.http import AuthedRequest, paginate, render_page, require_capability
from gonghui.web.timeline import describe


def audited_models() -> list[tuple[str, str]]:
    return sorted(
        (model._meta.label_lower, str(model._meta.verbose_name))
        for model in apps.get_models()
        if issubclass(model, Audited)
    )


@login_required
def audit_list(request: AuthedRequest) -> HttpResponse:
    require_capability(request, Capability.READ_AUDIT)
    organisation = request.user.organisation
    entries: QuerySet[AuditEntry] = AuditEntry.objects.none()
    if organisation is not None:
        # Entries carry the path of the changed object's organisation: a subtree is a range.
        entries = AuditEntry.objects.filter(organisation.subtree_q("org_"))
    form = AuditFilterForm(request.GET, models=audited_models())
    entries = form.filter(entries).select_related("actor").order_by("-at", "-id")
    page = paginate(request, entries, settings.GONGHUI_PAGE_SIZE)
    context = {"form": form, "page": page, "rows": describe(list(page.object_list))}
    return render_page(request, "web/audit.html", "web/_audit_rows.html", context)
