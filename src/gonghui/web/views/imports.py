"""Import pages (issue 4, points 1 and 2): an administrator uploads a member roster or an
external list, watches it run (a progress bar that htmx refreshes every second), reads the
report and downloads the refused rows; a source's column mapping is completed on a page
when a file's headers are not recognised.

The work itself is :mod:`gonghui.discovery.services` (rosters) and
:mod:`gonghui.discovery.external` (lists), the functions the ``gonghui roster`` command
calls; the import runs in a background process (:mod:`gonghui.discovery.jobs`).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gonghui.accounts.choices import Capability
from gonghui.discovery import engine, external, jobs, lists, services
from gonghui.discovery.choices import ImportStatus, SourceKind
from gonghui.discovery.models import ListImport, RosterImport, RosterSource, work_root
from gonghui.errors import DomainError
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.web import importforms
from gonghui.web.http import (
    AuthedRequest,
    attach_error,
    error_status,
    paginate,
    render_page,
    require_capability,
)

Import = RosterImport | ListImport


@dataclass(frozen=True)
class Flow:
    """What differs between a roster and an external list on these pages."""

    kind: str  # jobs.ROSTER or jobs.LIST
    model: type[RosterImport] | type[ListImport]
    prefix: str  # of the URL names
    title: Promise
    form: type[importforms.UploadForm]
    report: Callable[[Any], dict[str, Any]]
    rejected: Callable[..., Path]
    save_mapping: Callable[[Any, RosterSource, dict[str, str]], RosterSource]
    stored_file: Callable[[Any], Path]

    def sources(self, user: Any) -> QuerySet[RosterSource]:
        usable = RosterSource.objects.usable_by(user).select_related("organisation")
        if self.kind == jobs.ROSTER:
            return usable.filter(kind=SourceKind.MEMBER_ROSTER)
        return usable.filter(kind__in=lists.LIST_KINDS)

    def target(self, source: RosterSource) -> importforms.Target:
        if self.kind == jobs.ROSTER:
            return importforms.roster_target()
        return importforms.list_target(source.kind)

    @property
    def index(self) -> str:
        return self.prefix + "s"

    def url(self, view: str = "") -> str:
        return f"{self.prefix}-{view}" if view else self.prefix


ROSTERS = Flow(
    kind=jobs.ROSTER,
    model=RosterImport,
    prefix="roster-import",
    title=gettext_lazy("Roster imports"),
    form=importforms.UploadForm,
    report=services.import_report,
    rejected=services.rejected_csv,
    save_mapping=services.save_mapping,
    stored_file=services.stored_file,
)
LISTS = Flow(
    kind=jobs.LIST,
    model=ListImport,
    prefix="list-import",
    title=gettext_lazy("External list imports"),
    form=importforms.ListUploadForm,
    report=external.list_report,
    rejected=external.rejected_list_csv,
    save_mapping=external.save_list_mapping,
    stored_file=external.stored_file,
)


# --- upload and the list of imports ---------------------------------------------------------


def _index(
    request: AuthedRequest,
    flow: Flow,
    form: importforms.UploadForm | None = None,
    status: int = 200,
) -> HttpResponse:
    imports = (
        flow.model.objects.for_user(request.user)
        .select_related("source", "created_by")
        .order_by("-created_at", "-id")
    )
    context = {
        "flow": flow,
        "form": form or flow.form(sources=flow.sources(request.user)),
        "page": paginate(request, imports, settings.GONGHUI_PAGE_SIZE),
        "ImportStatus": ImportStatus,
    }
    return render(request, "web/imports/index.html", context, status=status)


@contextmanager
def _on_disk(upload: UploadedFile) -> Iterator[Path]:
    """The upload as a file: Django's temporary file when it wrote one, otherwise a copy
    under the discovery directory (removed afterwards; the import keeps its own copy)."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        yield Path(temporary())
        return
    folder = work_root() / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("upload" + Path(upload.name or "").suffix.lower())
    try:
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _source(request: AuthedRequest, flow: Flow, data: dict[str, Any]) -> RosterSource:
    if data.get("source") is not None:
        source: RosterSource = data["source"]
        return source
    name = data["new_source"]
    if flow.kind == jobs.LIST:
        return external.list_source(request.user, name, data["kind"], create=True)
    source = services.source_for(request.user, name, create=True)
    if source.kind != SourceKind.MEMBER_ROSTER:
        raise DomainError(
            _("The source “%(name)s” delivers %(kind)s, not rosters.")
            % {"name": name, "kind": SourceKind(source.kind).label},
            field="new_source",
        )
    return source


def _start(request: AuthedRequest, flow: Flow, source: RosterSource, path: Path, data: Any) -> Any:
    name = data["file"].name
    if flow.kind == jobs.LIST:
        return external.start_list_import(
            request.user,
            source,
            path,
            data["period_from"],
            data["period_to"],
            agency=data.get("agency", ""),
            file_name=name,
        )
    return services.start_import(request.user, source, path, name)


def _upload(request: AuthedRequest, flow: Flow) -> HttpResponse:
    form = flow.form(request.POST, request.FILES, sources=flow.sources(request.user))
    if not form.is_valid():
        return _index(request, flow, form, 400)
    data = form.cleaned_data
    try:
        with _on_disk(data["file"]) as path:
            headers = importforms.file_headers(path)
            source = _source(request, flow, data)
            imp = _start(request, flow, source, path, data)
    except DomainError as exc:
        attach_error(request, form, exc)
        return _index(request, flow, form, error_status(exc))
    missing = flow.target(imp.source).missing(headers, imp.source.column_mapping)
    if missing:
        messages.warning(request, _missing_text(flow, imp, headers))
        return redirect(flow.url("mapping"), pk=imp.pk)
    if jobs.state(imp) != "running":
        jobs.start(imp.pk, request.user, flow.kind)
    return redirect(flow.url(), pk=imp.pk)


def _missing_text(flow: Flow, imp: Import, headers: list[str]) -> str:
    target = flow.target(imp.source)
    found = set(target.recognise(headers, imp.source.column_mapping).values())
    absent = "、".join(target.label(f) for f in target.required if f not in found)
    return _(
        "No column of the file is known to hold the %(fields)s. Choose below which column "
        "holds it; the choice is saved for the source “%(source)s” and the import starts."
    ) % {"fields": absent, "source": imp.source.name}


def _imports(request: AuthedRequest, flow: Flow) -> HttpResponse:
    require_capability(request, Capability.IMPORT_ROSTERS)
    if request.method == "POST":
        return _upload(request, flow)
    return _index(request, flow)


@login_required
def roster_imports(request: AuthedRequest) -> HttpResponse:
    return _imports(request, ROSTERS)


@login_required
def list_imports(request: AuthedRequest) -> HttpResponse:
    return _imports(request, LISTS)


# --- one import: progress and report ------------------------------------------------------


def _get(request: AuthedRequest, flow: Flow, pk: int) -> Any:
    require_capability(request, Capability.IMPORT_ROSTERS)
    found = flow.model.objects.select_related("source", "created_by", "organisation")
    return get_for_user_or_404(found, request.user, pk=pk)


def _urls(flow: Flow, imp: Any) -> dict[str, str]:
    return {
        "detail": reverse(flow.url(), args=[imp.pk]),
        **{
            view: reverse(flow.url(view), args=[imp.pk])
            for view in ("mapping", "resume", "rejected")
        },
    }


def _detail(request: AuthedRequest, flow: Flow, imp: Any) -> HttpResponse:
    state = jobs.state(imp)
    report = flow.report(imp)
    refused = imp.rows_rejected + imp.rows_duplicate
    context = {
        "flow": flow,
        "imp": imp,
        "urls": _urls(flow, imp),
        "report": report,
        "state": state,
        "polling": state == "running",
        "may_resume": imp.status == ImportStatus.FAILED or state == "stopped",
        "may_start": imp.status == ImportStatus.QUEUED and state == "idle",
        "has_rejected": refused > 0 and engine.rejected_path(imp.work_dir).exists(),
        "command": " ".join(jobs.command(imp.pk, request.user.get_username(), flow.kind)[1:]),
        "ImportStatus": ImportStatus,
    }
    return render_page(request, "web/imports/detail.html", "web/imports/_progress.html", context)


@login_required
def roster_import(request: AuthedRequest, pk: int) -> HttpResponse:
    return _detail(request, ROSTERS, _get(request, ROSTERS, pk))


@login_required
def list_import(request: AuthedRequest, pk: int) -> HttpResponse:
    return _detail(request, LISTS, _get(request, LISTS, pk))


def _resume(request: AuthedRequest, flow: Flow, pk: int) -> HttpResponse:
    imp = _get(request, flow, pk)
    unfinished = imp.status in (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.FAILED)
    if not unfinished or jobs.state(imp) == "running":
        messages.error(
            request, _("This import is running or finished; there is nothing to resume.")
        )
    else:
        jobs.start(imp.pk, request.user, flow.kind)
        messages.success(request, _("The import goes on from where it stopped."))
    return redirect(flow.url(), pk=imp.pk)


@login_required
@require_POST
def roster_import_resume(request: AuthedRequest, pk: int) -> HttpResponse:
    return _resume(request, ROSTERS, pk)


@login_required
@require_POST
def list_import_resume(request: AuthedRequest, pk: int) -> HttpResponse:
    return _resume(request, LISTS, pk)


def _rejected(request: AuthedRequest, flow: Flow, pk: int) -> HttpResponseBase:
    """The refused rows with their reasons, in the page's language (logged as an export)."""
    imp = _get(request, flow, pk)
    if (
        imp.rows_rejected + imp.rows_duplicate == 0
        or not engine.rejected_path(imp.work_dir).exists()
    ):
        messages.info(request, _("This import refused no rows."))
        return redirect(flow.url(), pk=imp.pk)
    path = flow.rejected(request.user, imp, translation.get_language())
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
        as_attachment=True,
        filename=f"rejected-{flow.kind}-{imp.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )
    return response


@login_required
def roster_import_rejected(request: AuthedRequest, pk: int) -> HttpResponseBase:
    return _rejected(request, ROSTERS, pk)


@login_required
def list_import_rejected(request: AuthedRequest, pk: int) -> HttpResponseBase:
    return _rejected(request, LISTS, pk)


# --- the column mapping of the import's source ------------------------------------------------


def _mapping(request: AuthedRequest, flow: Flow, pk: int) -> HttpResponse:
    imp = _get(request, flow, pk)
    source: RosterSource = imp.source
    target = flow.target(source)
    context: dict[str, Any] = {"flow": flow, "imp": imp, "urls": _urls(flow, imp)}
    try:
        headers = importforms.file_headers(flow.stored_file(imp))
    except (DomainError, OSError) as exc:
        gone = _("The file of this import is no longer on the server.")
        messages.error(request, str(exc) if isinstance(exc, DomainError) else gone)
        return render(request, "web/imports/mapping.html", {**context, "form": None}, status=400)
    known = target.recognise(headers, source.column_mapping)
    unknown = [(i, h) for i, h in enumerate(headers) if h not in known]
    form = importforms.MappingForm(request.POST or None, columns=unknown, target=target)
    context.update(
        form=form,
        known=[(h, target.label(f)) for h, f in known.items()],
        missing=_missing_text(flow, imp, headers)
        if target.missing(headers, source.column_mapping)
        else "",
    )
    if request.method != "POST":
        return render(request, "web/imports/mapping.html", context)
    status = 400
    if form.is_valid():
        try:
            if chosen := form.mapping():
                source = flow.save_mapping(request.user, source, chosen)
        except DomainError as exc:
            attach_error(request, form, exc)
            status = error_status(exc)
        else:
            imp.source = source
            if target.missing(headers, source.column_mapping):
                form.add_error(None, _missing_text(flow, imp, headers))
            else:
                return _after_mapping(request, flow, imp)
    return render(request, "web/imports/mapping.html", context, status=status)


def _after_mapping(request: AuthedRequest, flow: Flow, imp: Any) -> HttpResponse:
    if imp.status in (ImportStatus.QUEUED, ImportStatus.FAILED) and jobs.state(imp) != "running":
        jobs.start(imp.pk, request.user, flow.kind)
        messages.success(request, _("The column mapping is saved; the import starts."))
    else:
        messages.success(request, _("The column mapping is saved for the next file."))
    return redirect(flow.url(), pk=imp.pk)


@login_required
def roster_import_mapping(request: AuthedRequest, pk: int) -> HttpResponse:
    return _mapping(request, ROSTERS, pk)


@login_required
def list_import_mapping(request: AuthedRequest, pk: int) -> HttpResponse:
    return _mapping(request, LISTS, pk)
