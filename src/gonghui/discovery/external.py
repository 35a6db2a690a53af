"""External list imports: the one set of functions the command line (and later the pages
and the API) call, with the guarantees of roster imports.

    imp = start_list_import(user, source, path, period_from, period_to, agency="市民政局")
    run_list_import(imp.pk, progress)       # check in DuckDB, write rows.parquet
    list_report(imp) · rejected_list_csv(user, imp) · rollback_list_import(user, imp)

The same file (SHA-256) from the same source is refused once done and resumes while
unfinished; an import killed halfway leaves no rows (``rows.parquet`` appears whole, by
rename, and only a *done* import is read by the screening), so running it again redoes it.
"""

from __future__ import annotations

import datetime
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gonghui import background
from gonghui.audit.models import log_export
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.organisations.models import Region

from . import engine, lists
from .choices import ImportPhase, ImportStatus, SourceKind
from .columns import check_mapping
from .models import ListImport, RosterSource
from .services import (
    Progress,
    _source,
    create_import,
    fingerprint,
    reason_label,
    reason_text,
    require_importer,
    stored_file,
)


def list_source(user: Any, name: str, kind: str, create: bool = False) -> RosterSource:
    """The list source of that name usable by the user, created for the user's
    organisation when asked; its kind must be an external list's."""
    require_importer(user)
    lists.fields(kind)
    found = RosterSource.objects.usable_by(user).filter(name=name).order_by("-organisation__depth")
    source = found.first()
    if source is None:
        if not create:
            raise DomainError(_("No source named “%(name)s”.") % {"name": name}, "source")
        source = RosterSource.objects.create(organisation=user.organisation, name=name, kind=kind)
    if source.kind != kind:
        raise DomainError(
            _("The source “%(name)s” delivers %(kind)s.")
            % {"name": name, "kind": SourceKind(source.kind).label},
            field="kind",
        )
    return source


def save_list_mapping(user: Any, source: RosterSource, mapping: dict[str, str]) -> RosterSource:
    require_importer(user)
    if not RosterSource.objects.for_user(user).filter(pk=source.pk).exists():
        raise NotAllowed(_("Only the union that owns a source may change its mapping."))
    fields = lists.field_names(source.kind)
    source.column_mapping = {**source.column_mapping, **check_mapping(mapping, fields)}
    source.save()
    return source


def start_list_import(
    user: Any,
    source: RosterSource,
    uploaded_path: Path | str,
    period_from: datetime.date,
    period_to: datetime.date,
    agency: str = "",
    file_name: str = "",
) -> ListImport:
    require_importer(user)
    lists.fields(source.kind)
    path = Path(uploaded_path)
    if not path.is_file():
        raise DomainError(_("There is no file at %(path)s.") % {"path": path}, field="file")
    if not RosterSource.objects.usable_by(user).filter(pk=source.pk).exists():
        raise NotAllowed(_("This source belongs to another union."))
    if period_from > period_to:
        raise DomainError(_("The period must end on or after its first day."), "period_to")
    sha, size = fingerprint(path)
    earlier = ListImport.objects.filter(source=source, sha256=sha).exclude(
        status=ImportStatus.ROLLED_BACK
    )
    if (found := earlier.first()) is not None:
        if found.status == ImportStatus.DONE:
            raise Conflict(
                _(
                    "This file was already imported from this source (import %(id)s, %(rows)d "
                    "rows); importing it again would change nothing."
                )
                % {"id": found.pk, "rows": found.rows_loaded},
                field="file",
            )
        return found
    return create_import(
        ListImport,
        user,
        source,
        path,
        file_name,
        sha,
        size,
        kind=source.kind,
        agency=(agency or source.name)[:100],
        period_from=period_from,
        period_to=period_to,
    )


def run_list_import(import_id: int, progress: Progress | None = None) -> ListImport:
    """Check the file and write its rows; safe to call again after a crash (redone whole)."""
    imp = ListImport.objects.select_related("source").get(pk=import_id)
    if imp.status in (ImportStatus.DONE, ImportStatus.ROLLED_BACK):
        return imp
    imp.status, imp.error = ImportStatus.RUNNING, ""
    imp.started_at = imp.started_at or timezone.now()
    imp.save()

    def report(phase: str, done: int, total: int) -> None:
        ListImport.objects.filter(pk=imp.pk).update(
            phase=phase, progress_done=done, progress_total=total
        )
        if progress:
            progress(phase, done, total)

    stopped = _("The import stopped: %(error)s. Run it again to resume.")
    with background.failure_recorded(partial(_fail, imp), stopped):
        lists.rows_path(imp.work_dir).unlink(missing_ok=True)
        report(ImportPhase.READING, 0, imp.size_bytes)
        result = lists.stage(
            stored_file(imp),
            imp.work_dir,
            imp.kind,
            imp.source.column_mapping,
            imp.pk,
            regions=list(Region.objects.values_list("code", flat=True)),
            today=timezone.localdate(),
            progress=report,
            memory_limit=getattr(settings, "GONGHUI_DUCKDB_MEMORY", "4GB"),
        )
    imp.refresh_from_db()
    imp.encoding, imp.file_format = result.encoding, result.file_format
    imp.headers, imp.columns, imp.ignored_headers = result.headers, result.columns, result.ignored
    imp.rows_read, imp.rows_loaded = result.rows_read, result.rows_accepted
    imp.rows_rejected, imp.rows_duplicate = result.rows_rejected, result.rows_duplicate
    imp.rows_without_id = result.rows_without_id
    imp.status, imp.phase = ImportStatus.DONE, ImportPhase.FINISHED
    imp.finished_at = timezone.now()
    imp.save()  # audited: the provenance and the figures of the import
    return imp


def _fail(imp: ListImport, message: str) -> None:
    ListImport.objects.filter(pk=imp.pk).update(status=ImportStatus.FAILED, error=message)
    imp.refresh_from_db()


def rollback_list_import(user: Any, imp: ListImport) -> ListImport:
    """Take a list out of the screening (its rows are no longer read); audited."""
    require_importer(user)
    imp = ListImport.objects.for_user(user).get(pk=imp.pk)
    if imp.status == ImportStatus.RUNNING:
        raise Conflict(_("The import is running; stop it before rolling it back."), "status")
    imp.status = ImportStatus.ROLLED_BACK
    imp.save()
    lists.rows_path(imp.work_dir).unlink(missing_ok=True)
    return imp


def list_report(imp: ListImport) -> dict[str, Any]:
    return {
        "id": imp.pk,
        "kind": imp.kind,
        "kind_label": str(SourceKind(imp.kind).label),
        "agency": imp.agency,
        "period": [imp.period_from.isoformat(), imp.period_to.isoformat()],
        "file": imp.file_name,
        "sha256": imp.sha256,
        "imported_by": imp.created_by.get_username(),
        "imported_at": imp.created_at.isoformat(),
        "status": imp.status,
        "status_label": str(ImportStatus(imp.status).label),
        "percent": imp.percent,
        "encoding": imp.encoding,
        "rows_read": imp.rows_read,
        "rows_loaded": imp.rows_loaded,
        "rows_rejected": imp.rows_rejected,
        "rows_duplicate": imp.rows_duplicate,
        "rows_without_id": imp.rows_without_id,
        "columns": imp.columns,
        "ignored_headers": imp.ignored_headers,
        "error": imp.error,
    }


def list_reason_text(kind: str, code: str, detail: str | None, first_row: int | None) -> str:
    if code == "field_missing":
        return _("The %(field)s is empty.") % {"field": lists.label(kind, detail or "")}
    if code == "value_invalid":
        return _(
            "The %(field)s cannot be read (a date is written 2024-03-01, an amount 1234.50)."
        ) % {"field": lists.label(kind, detail or "")}
    return reason_text(code, detail, first_row)


def rejected_list_csv(user: Any, imp: ListImport, language: str | None = None) -> Path:
    """The refused rows as CSV (UTF-8 with BOM): row, column, reason, then the row as
    written. Logged as an export."""
    import csv

    import duckdb

    imp = ListImport.objects.for_user(user).get(pk=imp.pk)
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    target = imp.work_dir / f"rejected.{language}.csv"
    count = 0
    with translation.override(language):
        con = duckdb.connect()
        try:
            cursor = con.execute(
                "SELECT row_no, reason, detail, first_row, raw FROM read_parquet(?) ORDER BY 1",
                [str(engine.rejected_path(imp.work_dir))],
            )
            with open(target, "w", encoding="utf-8-sig", newline="") as out:
                writer = csv.writer(out)
                writer.writerow([_("row"), _("column"), _("reason"), *imp.headers])
                while rows := cursor.fetchmany(10_000):
                    for row_no, reason, detail, first_row, raw in rows:
                        field = detail if reason in ("field_missing", "value_invalid") else "name"
                        header = imp.columns.get(field, lists.label(imp.kind, field))
                        text = list_reason_text(imp.kind, reason, detail, first_row)
                        writer.writerow([row_no, header, text, *(raw or [])])
                        count += 1
        finally:
            con.close()
    log_export(user, "discovery.listimport.rejected", count, {"import": imp.pk}, _source())
    return target


__all__ = [
    "list_report",
    "list_source",
    "reason_label",
    "rejected_list_csv",
    "rollback_list_import",
    "run_list_import",
    "save_list_mapping",
    "start_list_import",
]
