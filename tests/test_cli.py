"""The command line calls the same services, as a named user, with the same scope."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from gonghui.audit.models import AuditEntry
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from tests.cases import end_notice, investigate, open_file
from tests.factories import Province


def run(*args: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("file", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_walks_a_file_to_filed_as_named_users(province: Province) -> None:
    file = investigate(province, open_file(province))
    run("--as", "alice", "submit", file.number)
    end_notice(file)
    run("--as", "rita", "review", file.number)
    shown = run("--as", "carl", "approve", file.number, "--note", "同意建档")
    file.refresh_from_db()
    assert file.status == FileStatus.FILED
    assert file.approved_by == province.carl
    assert "500.00" in shown
    entry = AuditEntry.objects.filter(model="hardship.hardshipfile", source="cli").first()
    assert entry is not None and entry.actor == province.carl


def test_the_outsider_cannot_find_the_file(province: Province) -> None:
    file = open_file(province)
    with pytest.raises(CommandError, match="No file"):
        run("--as", "charlie", "show", file.number)


def test_a_domain_error_is_a_clear_message(province: Province) -> None:
    file = open_file(province)
    with pytest.raises(CommandError, match="investigat"):
        run("--as", "alice", "submit", file.number)  # still a draft
    assert HardshipFile.objects.get(pk=file.pk).status == FileStatus.DRAFT


def test_export_is_masked_scoped_and_logged(province: Province) -> None:
    file = open_file(province)
    out = run("--as", "leo", "export")
    assert file.number in out
    assert file.applicant.id_number not in out  # the leader sees masked numbers
    assert file.applicant.id_number[:6] + "********" in out
    assert run("--as", "charlie", "export").count("\n") == 1  # header only
    entry = AuditEntry.objects.filter(action="export").first()
    assert entry is not None and entry.changes["rows"] in (0, 1)
    assert AuditEntry.objects.filter(action="export").count() == 2
