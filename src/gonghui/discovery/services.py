"""Roster imports: the one set of functions that the command line, and later the pages and
the API, call.

    imp = start_import(user, source, path)      # fingerprint, refuse a file already loaded
    run_import(imp.pk, progress)                 # check in DuckDB, then load chunk by chunk
    import_report(imp)                           # the figures a page or the terminal shows
    rejected_csv(user, imp)                      # the refused rows, with reasons (logged)
    rollback_import(user, imp)                   # take the loaded workers out again

Semantics of a second import: the same file (same SHA-256) from the same source is refused
once it is done, and resumes the earlier import while that one is unfinished; a different
file naming workers already registered loads only the new ones — existing workers are never
changed by a roster (counted as "already registered"). So importing twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gonghui import background
from gonghui.accounts.choices import Capability
from gonghui.audit.context import current_actor, current_source
from gonghui.audit.models import AuditAction, AuditEntry, AuditSource, log_export
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.organisations.models import Organisation, Region
from gonghui.people.models import Worker

from . import engine, loader
from .choices import ImportPhase, ImportStatus, RosterField
from .columns import check_mapping
from .models import RosterImport, RosterSource

Progress = Callable[[str, int, int], None]
CHUNK_ROWS = 100_000
HASH_BLOCK = 8 << 20


def require_importer(user: Any) -> None:
    if not (getattr(user, "is_authenticated", False) and user.can(Capability.IMPORT_ROSTERS)):
        raise NotAllowed(_("Your role may not import rosters."))


def chunk_rows() -> int:
    return int(getattr(settings, "GONGHUI_ROSTER_CHUNK", CHUNK_ROWS))


# --- sources ------------------------------------------------------------------------------


def source_for(user: Any, name: str, create: bool = False) -> RosterSource:
    """The source of that name usable by the user (theirs or one above); created for the
    user's organisation when asked."""
    require_importer(user)
    found = RosterSource.objects.usable_by(user).filter(name=name).order_by("-organisation__depth")
    source = found.first()
    if source is None:
        if not create:
            raise DomainError(_("No roster source named “%(name)s”.") % {"name": name}, "source")
        source = RosterSource.objects.create(organisation=user.organisation, name=name)
    return source


def save_mapping(user: Any, source: RosterSource, mapping: Mapping[str, str]) -> RosterSource:
    """Add header → field pairs to the source's saved mapping (audited)."""
    require_importer(user)
    if not RosterSource.objects.for_user(user).filter(pk=source.pk).exists():
        raise NotAllowed(_("Only the union that owns a source may change its mapping."))
    source.column_mapping = {**source.column_mapping, **check_mapping(mapping)}
    source.save()
    return source


# --- starting and running -----------------------------------------------------------------


def fingerprint(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def start_import(
    user: Any, source: RosterSource, uploaded_path: Path | str, file_name: str = ""
) -> RosterImport:
    """Record the import and keep a copy of the file beside the database. The same file
    again returns the unfinished import of it (to resume), or is refused once loaded."""
    require_importer(user)
    path = Path(uploaded_path)
    if not path.is_file():
        raise DomainError(_("There is no file at %(path)s.") % {"path": path}, field="file")
    if not RosterSource.objects.usable_by(user).filter(pk=source.pk).exists():
        raise NotAllowed(_("This roster source belongs to another union."))
    sha, size = fingerprint(path)
    earlier = RosterImport.objects.filter(source=source, sha256=sha).exclude(
        status=ImportStatus.ROLLED_BACK
    )
    if (found := earlier.first()) is not None:
        if found.status == ImportStatus.DONE:
            raise Conflict(already_done(found), field="file")
        return found
    return create_import(RosterImport, user, source, path, file_name, sha, size)


def create_import(
    model: Any,
    user: Any,
    source: Any,
    path: Path,
    file_name: str | None,
    sha: str,
    size: int,
    **extra: Any,
) -> Any:
    """A new roster or list import with its own copy of the file; one import of a file per
    source at a time (a unique constraint: two uploads at once get a clear refusal)."""
    try:
        with transaction.atomic():
            imp = model.objects.create(
                source=source,
                organisation=user.organisation,
                created_by=user,
                file_name=(file_name or path.name)[:255],
                sha256=sha,
                size_bytes=size,
                file_format="xlsx" if path.suffix.lower() == ".xlsx" else "csv",
                **extra,
            )
    except IntegrityError:
        raise Conflict(_("This file is being imported from this source already."), "file") from None
    imp.work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, stored_file(imp))
    return imp


def already_done(imp: RosterImport) -> str:
    return _(
        "This file was already imported from this source on %(date)s (import %(id)s, "
        "%(loaded)d workers loaded); importing it again would change nothing."
    ) % {"date": timezone.localtime(imp.created_at).date(), "id": imp.pk, "loaded": imp.rows_loaded}


def stored_file(imp: Any) -> Path:
    """Where an import (roster or list) keeps its copy of the uploaded file."""
    return imp.work_dir / f"source.{imp.file_format}"


def run_import(import_id: int, progress: Progress | None = None) -> RosterImport:
    """Check, then load, from wherever the import stopped. Safe to call again after a crash
    or a kill: the check is redone whole, the load goes on after the last committed chunk."""
    imp = RosterImport.objects.select_related("source", "organisation", "created_by").get(
        pk=import_id
    )
    if imp.status in (ImportStatus.DONE, ImportStatus.ROLLED_BACK):
        return imp
    imp.status, imp.error = ImportStatus.RUNNING, ""
    imp.started_at = imp.started_at or timezone.now()
    imp.save()
    # Interrupted (Ctrl-C) or a fault: committed chunks stay, recorded; resume or roll back.
    stopped = _("The import stopped: %(error)s. Run it again to resume.")
    with background.failure_recorded(partial(_fail, imp), stopped):
        if imp.staged_at is None or not engine.accepted_path(imp.work_dir).exists():
            _stage(imp, progress)
        _load(imp, progress)
        _finish(imp)
    return imp


def _progress(imp: RosterImport, progress: Progress | None) -> Progress:
    def report(phase: str, done: int, total: int) -> None:
        RosterImport.objects.filter(pk=imp.pk).update(
            phase=phase, progress_done=done, progress_total=total
        )
        if progress:
            progress(phase, done, total)

    return report


def _reference(imp: RosterImport) -> engine.Reference:
    organisation = imp.organisation
    subtree = Organisation.objects.filter(organisation.subtree_q())
    ids_file = imp.work_dir / "registry-ids.txt"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id_number FROM {Worker._meta.db_table}")
        engine.write_id_file(_stream(cursor), ids_file)
    return engine.Reference(
        today=timezone.localdate(),
        default_organisation=organisation.pk,
        organisations=list(subtree.values_list("pk", "name")),
        regions=list(Region.objects.values_list("code", flat=True)),
        registry_ids=ids_file,
    )


def _stream(cursor: Any) -> Any:
    while rows := cursor.fetchmany(50_000):
        for row in rows:
            yield row[0]


def _stage(imp: RosterImport, progress: Progress | None) -> None:
    report = _progress(imp, progress)
    report(ImportPhase.READING, 0, imp.size_bytes)
    result = engine.stage(
        stored_file(imp),
        imp.work_dir,
        imp.source.column_mapping,
        _reference(imp),
        report,
        memory_limit=getattr(settings, "GONGHUI_DUCKDB_MEMORY", "4GB"),
    )
    (imp.work_dir / "registry-ids.txt").unlink(missing_ok=True)
    imp.encoding, imp.file_format = result.encoding, result.file_format
    imp.headers = result.headers
    imp.columns, imp.ignored_headers = (
        {str(k): v for k, v in result.columns.items()},
        result.ignored,
    )
    imp.rows_read, imp.rows_accepted = result.rows_read, result.rows_accepted
    imp.rows_rejected, imp.rows_duplicate = result.rows_rejected, result.rows_duplicate
    imp.rows_existing, imp.rows_loaded = result.rows_existing, 0
    imp.chunks_total = engine.chunk_count(result.rows_accepted, chunk_rows())
    imp.staged_at = timezone.now()
    imp.save()


def _load(imp: RosterImport, progress: Progress | None) -> None:
    report = _progress(imp, progress)
    start = imp.chunks.count()
    report(ImportPhase.LOADING, start, imp.chunks_total)
    for number, rows in engine.iter_chunks(imp.work_dir, chunk_rows(), start):
        loader.load_chunk(imp, number, rows)
        report(ImportPhase.LOADING, number + 1, imp.chunks_total)


def _finish(imp: RosterImport) -> None:
    """One audit entry for the whole load (the ids are in loaded.parquet, row by row)."""
    ranges = list(imp.chunks.order_by("number").values_list("first_worker_id", "last_worker_id"))
    loaded_file = write_loaded(imp)
    with transaction.atomic():
        imp.refresh_from_db()
        imp.status, imp.phase = ImportStatus.DONE, ImportPhase.FINISHED
        imp.finished_at = timezone.now()
        imp.save()
        AuditEntry.objects.create(
            actor=current_actor() or imp.created_by,
            source=current_source(),
            action=AuditAction.CREATE,
            model=Worker._meta.label_lower,
            object_id=f"roster_import:{imp.pk}",
            org_path=imp.organisation.path,
            changes={
                "roster_import": imp.pk,
                "file": imp.file_name,
                "sha256": imp.sha256,
                "workers": imp.rows_loaded,
                "memberships": imp.rows_loaded,
                "worker_id_ranges": ranges,
                "loaded_ids_file": str(loaded_file),
            },
        )


def write_loaded(imp: RosterImport) -> Path:
    """``loaded.parquet``: row number, ID number and worker id of every row loaded."""
    ranges = list(imp.chunks.values_list("number", "first_worker_id", "skipped"))
    target = imp.work_dir / "loaded.parquet"
    con = duckdb.connect()
    try:
        skipped = [number for _n, _f, numbers in ranges for number in numbers]
        engine.fill(con, "chunks", ["number INT", "first_id BIGINT"], [r[:2] for r in ranges])
        engine.fill(con, "skipped", ["id_number VARCHAR"], [(n,) for n in skipped])
        size = chunk_rows()
        con.execute(
            "COPY (SELECT a.row_no, a.id_number, c.first_id + a.seq % ? AS worker_id FROM "
            "(SELECT row_no, id_number, row_number() OVER (ORDER BY row_no) - 1 AS seq "
            " FROM read_parquet(?)) a JOIN chunks c ON c.number = a.seq // ? "
            "WHERE a.id_number NOT IN (SELECT id_number FROM skipped) ORDER BY a.row_no) "
            f"TO '{target}' (FORMAT parquet)",
            [size, str(engine.accepted_path(imp.work_dir)), size],
        )
    finally:
        con.close()
    return target


def _fail(imp: RosterImport, message: str) -> None:
    RosterImport.objects.filter(pk=imp.pk).update(status=ImportStatus.FAILED, error=message)
    imp.refresh_from_db()


def rollback_import(user: Any, imp: RosterImport) -> RosterImport:
    """Take out the workers and memberships the import created, in one transaction."""
    require_importer(user)
    imp = RosterImport.objects.for_user(user).get(pk=imp.pk)
    if imp.status == ImportStatus.ROLLED_BACK:
        return imp
    if imp.status == ImportStatus.RUNNING:
        raise Conflict(_("The import is running; stop it before rolling it back."), "status")
    ranges = list(imp.chunks.values_list("first_worker_id", "last_worker_id"))
    try:
        with transaction.atomic():
            removed = loader.unload(imp)
            imp.status, imp.rows_loaded = ImportStatus.ROLLED_BACK, 0
            imp.save()
            AuditEntry.objects.create(
                actor=user,
                source=current_source(),
                action=AuditAction.DELETE,
                model=Worker._meta.label_lower,
                object_id=f"roster_import:{imp.pk}",
                org_path=imp.organisation.path,
                changes={"roster_import": imp.pk, "workers": removed, "worker_id_ranges": ranges},
            )
    except IntegrityError:
        raise Conflict(
            _(
                "Some workers of this import are already part of households or files; the "
                "import can no longer be rolled back."
            ),
            field="status",
        ) from None
    return imp


# --- the report ---------------------------------------------------------------------------


def import_report(imp: RosterImport) -> dict[str, Any]:
    """The figures of an import, for a page, the API or the terminal."""
    reasons: dict[str, int] = {}
    refused = engine.rejected_path(imp.work_dir)
    if refused.exists():
        con = duckdb.connect()
        try:
            rows = con.execute(
                "SELECT reason, count(*) FROM read_parquet(?) GROUP BY reason ORDER BY 2 DESC",
                [str(refused)],
            ).fetchall()
        finally:
            con.close()
        reasons = {str(reason_label(r)): n for r, n in rows}
    return {
        "id": imp.pk,
        "file": imp.file_name,
        "status": imp.status,
        "status_label": str(ImportStatus(imp.status).label),
        "phase": imp.phase,
        "percent": imp.percent,
        "encoding": imp.encoding,
        "rows_read": imp.rows_read,
        "rows_loaded": imp.rows_loaded,
        "rows_rejected": imp.rows_rejected,
        "rows_duplicate": imp.rows_duplicate,
        "rows_existing": imp.rows_existing,
        "chunks": f"{imp.chunks.count()}/{imp.chunks_total}",
        "columns": imp.columns,
        "ignored_headers": imp.ignored_headers,
        "reasons": reasons,
        "has_rejected_file": refused.exists() and (imp.rows_rejected + imp.rows_duplicate) > 0,
        "error": imp.error,
    }


def reason_label(code: str) -> str:
    return {
        "id_missing": _("ID number empty"),
        "id_length": _("ID number of wrong length"),
        "id_format": _("ID number not digits"),
        "id_birth_date": _("no real date of birth in the ID number"),
        "id_birth_impossible": _("impossible date of birth in the ID number"),
        "id_region": _("region code of the ID number not in use"),
        "id_check_digit": _("wrong check digit"),
        "duplicate": _("same ID number as an earlier row"),
        "name_missing": _("name empty"),
        "name_long": _("name too long"),
        "phone": _("phone number wrong"),
        "region_unknown": _("unknown region code"),
        "organisation_unknown": _("unknown union"),
        "organisation_ambiguous": _("union name not unique"),
        "since_invalid": _("member-since date unreadable"),
        "since_future": _("member-since date in the future"),
        "form_unknown": _("unknown employment form"),
        "employer_long": _("employer name too long"),
    }.get(code, code)


def reason_text(code: str, detail: str | None, first_row: int | None) -> str:
    """The sentence for one refused row, in the active language."""
    detail = detail or ""
    if code == "id_length":
        return _("An ID number has 18 characters; this one has %(n)d.") % {"n": int(detail)}
    if code == "id_birth_date":
        return _("Characters 7 to 14 are not a real date of birth (%(text)s).") % {"text": detail}
    if code == "id_birth_impossible":
        return _("The date of birth %(date)s in the ID number is impossible.") % {"date": detail}
    if code == "id_region":
        region, year = detail.split(" ")
        return _("The first six digits %(code)s are not a region code in use in %(year)d.") % {
            "code": region,
            "year": int(year),
        }
    if code == "id_check_digit":
        return _("The check digit is wrong: it should be %(digit)s. Please check each digit.") % {
            "digit": detail
        }
    if code == "phone":
        return _(
            "A phone number is an 11-digit mobile number starting with 1, "
            "or a landline with its area code."
        )
    if code == "duplicate":
        return _("The same ID number as row %(row)d: only the first is loaded.") % {
            "row": first_row or 0
        }
    fixed = {
        "id_missing": _("The ID number is empty."),
        "id_format": _("An ID number is 17 digits followed by a digit or X."),
        "name_missing": _("The name is empty."),
        "name_long": _("A name has at most 64 characters."),
        "region_unknown": _("%(value)s is not a region code of the registry."),
        "organisation_unknown": _("No union “%(value)s” in your organisation."),
        "organisation_ambiguous": _("More than one union is named “%(value)s”; give its number."),
        "since_invalid": _("“%(value)s” is not a date (write it as 2024-03-01)."),
        "since_future": _("The date %(value)s is in the future."),
        "form_unknown": _("“%(value)s” is not a known employment form."),
        "employer_long": _("An employer name has at most 128 characters."),
    }
    text = fixed.get(code, code)
    return text % {"value": detail} if "%(value)s" in text else text


def rejected_csv(user: Any, imp: RosterImport, language: str | None = None) -> Path:
    """The refused rows as CSV (UTF-8 with BOM, so Excel opens it): row number, column,
    reason, then the row as it was written. Taking it out is logged (it holds ID numbers)."""
    imp = RosterImport.objects.for_user(user).get(pk=imp.pk)
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    target = imp.work_dir / f"rejected.{language}.csv"
    with translation.override(language):
        count = write_rejected_csv(imp, target)
    log_export(user, "discovery.rosterimport.rejected", count, {"import": imp.pk}, _source())
    return target


def _source() -> str:
    source = current_source()
    return source if source in AuditSource.values else AuditSource.SYSTEM


def write_rejected_csv(imp: RosterImport, target: Path) -> int:
    refused = engine.rejected_path(imp.work_dir)
    field_header = {**{f: str(RosterField(f).label) for f in RosterField.values}, **imp.columns}
    con = duckdb.connect()
    count = 0
    try:
        cursor = con.execute(
            "SELECT row_no, reason, detail, first_row, id_number, name, phone, raw "
            "FROM read_parquet(?) ORDER BY row_no",
            [str(refused)],
        )
        with open(target, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([_("row"), _("column"), _("reason"), *imp.headers])
            while rows := cursor.fetchmany(10_000):
                for row_no, reason, detail, first_row, id_number, name, phone, raw in rows:
                    field = engine.REASON_FIELD.get(reason, RosterField.ID_NUMBER)
                    values = raw if raw is not None else _tidied(imp, id_number, name, phone)
                    text = reason_text(reason, detail, first_row)
                    line = _("Row %(row)d, %(field)s: %(reason)s") % {
                        "row": row_no,
                        "field": field_header.get(field, field),
                        "reason": text,
                    }
                    writer.writerow([row_no, field_header.get(field, field), line, *values])
                    count += 1
    finally:
        con.close()
    return count


def _tidied(imp: RosterImport, id_number: str, name: str, phone: str) -> list[str]:
    """A duplicate row as loaded (its raw text is not kept): the mapped columns filled in."""
    values = {RosterField.ID_NUMBER: id_number, RosterField.NAME: name, RosterField.PHONE: phone}
    by_header = {header: values.get(field, "") for field, header in imp.columns.items()}
    return [by_header.get(header, "") for header in imp.headers]
