"""The import pages: upload a roster or an external list, watch its progress, read the
report, download the refused rows, complete a source's column mapping, resume a stopped
import. Imports run inline (``GONGHUI_JOBS_INLINE``) so the tests see the finished report."""

from __future__ import annotations

import csv
import datetime
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from gonghui import background
from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.audit.models import AuditEntry
from gonghui.discovery import jobs, services
from gonghui.discovery.choices import ImportPhase, ImportStatus, SourceKind
from gonghui.discovery.models import ListImport, RosterImport, RosterSource
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import Worker
from tests.factories import Province, user
from tests.web_helpers import logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]

ZH = ["姓名", "身份证号", "手机号码", "行政区划代码", "工作单位", "入会日期", "就业形态"]


def person(n: int) -> list[str]:
    number = make_id_number("340102", datetime.date(1990, 1, 1) + datetime.timedelta(n), n)
    return [f"张{n}", number, f"138{n:08d}", "340102", "合肥某机械厂", "2020-03-01", "快递员"]


def csv_bytes(rows: list[list[str]], headers: list[str] = ZH, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def bad_rows() -> list[list[str]]:
    """Five people: one with a wrong check digit, one twice."""
    rows = [person(n) for n in range(5)]
    rows[1][1] = rows[1][1][:17] + ("0" if rows[1][1][17] != "0" else "1")
    rows.append(person(0))
    return rows


def importer(p: Province) -> User:
    found = User.objects.filter(username="yuki").first()
    return found or user("yuki", Role.ADMIN, p.yaohai)


def upload(client: Client, data: bytes, name: str = "名册.csv", **fields: Any) -> Any:
    post = {"new_source": "瑶海区名册", "file": SimpleUploadedFile(name, data), **fields}
    return client.post(reverse("roster-imports"), post)


def test_an_administrator_uploads_a_roster_and_reads_the_report(
    client: Client, province: Province
) -> None:
    logged_in(client, importer(province))
    response = upload(client, csv_bytes(bad_rows()))
    imp = RosterImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "roster-import", args=[imp.pk]
    )
    assert (imp.status, imp.source.name, imp.file_name) == ("done", "瑶海区名册", "名册.csv")
    page = client.get(response["Location"])
    report = page.context["report"]
    figures = [report[k] for k in ("rows_read", "rows_loaded", "rows_rejected", "rows_duplicate")]
    assert figures == [6, 4, 1, 1]
    body = page.content.decode()
    assert '<progress id="import-bar" max="100" value="100">' in body
    assert 'id="rows-loaded">4<' in body and 'id="rows-existing">0<' in body
    assert "hx-trigger" not in body  # done: nothing to poll
    assert reverse("roster-import-rejected", args=[imp.pk]) in body
    assert Worker.objects.filter(id_number=person(4)[1]).exists()
    # The same file again changes nothing: refused on the field.
    again = upload(client, csv_bytes(bad_rows()), source=imp.source.pk, new_source="")
    assert again.status_code == 409
    assert "already imported" in again.context["form"].errors["file"][0]
    assert RosterImport.objects.count() == 1


def test_a_gbk_roster_loads_the_same(client: Client, province: Province) -> None:
    logged_in(client, importer(province))
    response = upload(client, csv_bytes([person(n) for n in range(3)], encoding="gbk"))
    assert response.status_code == 302
    imp = RosterImport.objects.get()
    assert (imp.status, imp.encoding, imp.rows_loaded) == ("done", "gb18030", 3)
    assert Worker.objects.get(id_number=person(2)[1]).name == "张2"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "file is empty."),
        ("blank.csv", b"\n\n", "its first line holds no headers"),
        ("old.xls", b"\xd0\xcf\x11\xe0rest", "Upload a CSV or XLSX file"),
        ("u16.csv", "姓名,身份证号\n".encode("utf-16"), "UTF-16"),
        ("bad.xlsx", b"PK\x03\x04broken", "could not be read as an XLSX workbook"),
        ("latin.csv", b"Name,ID\n" + bytes([0xFF, 0xFE, 0x80]) * 3, "UTF-8 nor GBK"),
    ],
)
def test_a_bad_file_is_refused_on_the_field(
    client: Client, province: Province, name: str, data: bytes, message: str
) -> None:
    logged_in(client, importer(province))
    response = upload(client, data, name)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["file"])
    assert message in response.content.decode()
    assert not RosterImport.objects.exists()
    assert not RosterSource.objects.exists()  # nothing is left behind


def test_a_source_must_be_chosen_or_named(client: Client, province: Province) -> None:
    logged_in(client, importer(province))
    response = upload(client, csv_bytes([person(1)]), new_source="")
    assert response.status_code == 400
    assert "Choose a source" in response.context["form"].errors["source"][0]


def test_unknown_headers_are_mapped_on_a_page_and_the_import_runs(
    client: Client, province: Province
) -> None:
    logged_in(client, importer(province))
    headers = ["Nom", "Numéro", "Téléphone", *ZH[3:]]
    response = upload(client, csv_bytes([person(n) for n in range(3)], headers))
    imp = RosterImport.objects.get()
    mapping_url = reverse("roster-import-mapping", args=[imp.pk])
    assert response.status_code == 302 and response["Location"] == mapping_url
    assert imp.status == ImportStatus.QUEUED  # waits for the mapping, not started
    page = client.get(mapping_url)
    form = page.context["form"]
    assert form.headers == ["Nom", "Numéro", "Téléphone"]
    assert "ID number" in page.content.decode() and "行政区划代码" in page.content.decode()
    # Only the name: the ID number is still missing, said above the form.
    half = client.post(mapping_url, {"col0": "name"})
    assert half.status_code == 400 and "ID number" in half.content.decode()
    done = client.post(mapping_url, {"col1": "id_number", "col2": "phone"})
    assert done.status_code == 302 and done["Location"] == reverse("roster-import", args=[imp.pk])
    imp.refresh_from_db()
    assert (imp.status, imp.rows_loaded) == ("done", 3), str(services.import_report(imp))
    assert imp.source.column_mapping == {"Nom": "name", "Numéro": "id_number", "Téléphone": "phone"}
    assert Worker.objects.get(id_number=person(1)[1]).phone == "13800000001"


def test_a_mapping_to_a_field_that_does_not_exist_is_refused(
    client: Client, province: Province
) -> None:
    logged_in(client, importer(province))
    upload(client, csv_bytes([person(1)], ["Nom", *ZH[1:]]))
    imp = RosterImport.objects.get()
    response = client.post(reverse("roster-import-mapping", args=[imp.pk]), {"col0": "salary"})
    assert response.status_code == 400 and "salary" in str(response.context["form"].errors)


def running_import(p: Province, percent: int = 30) -> RosterImport:
    source = RosterSource.objects.create(organisation=p.yaohai, name="瑶海区名册")
    imp = RosterImport.objects.create(
        source=source,
        organisation=p.yaohai,
        created_by=importer(p),
        file_name="big.csv",
        sha256="0" * 64,
        size_bytes=1000,
        file_format="csv",
        status=ImportStatus.RUNNING,
        phase=ImportPhase.LOADING,
        progress_done=percent,
        progress_total=100,
    )
    return imp


def test_the_progress_polls_while_running_and_stops_when_done(
    client: Client, province: Province
) -> None:
    imp = running_import(province)
    logged_in(client, importer(province))
    url = reverse("roster-import", args=[imp.pk])
    full = client.get(url).content.decode()
    assert "<html" in full and 'hx-trigger="every 1s"' in full
    partial = client.get(url, headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert "<html" not in body and 'id="import-progress"' in body
    assert f'hx-get="{url}"' in body and 'hx-trigger="every 1s"' in body
    assert '<progress id="import-bar" max="100" value="30">' in body
    assert "Loading into the registry" in body
    assert "HX-Request" in partial["Vary"]
    RosterImport.objects.filter(pk=imp.pk).update(
        status=ImportStatus.DONE, phase=ImportPhase.FINISHED, progress_done=100, rows_read=7
    )
    body = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in body and 'value="100"' in body and 'id="rows-read">7<' in body


def test_a_stopped_import_is_resumed_from_the_page(
    client: Client, province: Province, tmp_path: Path
) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(csv_bytes([person(n) for n in range(4)]))
    source = RosterSource.objects.create(organisation=province.yaohai, name="瑶海区名册")
    imp = services.start_import(importer(province), source, path)
    # A job was started for it and its process died (here: one that has ended).
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    RosterImport.objects.filter(pk=imp.pk).update(status=ImportStatus.RUNNING)
    marker = {"pid": dead.pid, "host": __import__("socket").gethostname()}
    (imp.work_dir / "job.json").write_text(json.dumps(marker))
    imp.refresh_from_db()
    assert jobs.state(imp) == "stopped"
    logged_in(client, importer(province))
    page = client.get(reverse("roster-import", args=[imp.pk])).content.decode()
    assert "Resume the import" in page and "hx-trigger" not in page
    assert f"roster --as yuki resume {imp.pk}" in page
    response = client.post(reverse("roster-import-resume", args=[imp.pk]))
    assert response.status_code == 302
    imp.refresh_from_db()
    assert (imp.status, imp.rows_loaded) == ("done", 4)
    # A finished import has nothing to resume.
    client.post(reverse("roster-import-resume", args=[imp.pk]))
    assert RosterImport.objects.get(pk=imp.pk).rows_loaded == 4


def test_a_job_runs_the_roster_command_detached(
    province: Province, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings.GONGHUI_JOBS_INLINE = False
    path = tmp_path / "r.csv"
    path.write_bytes(csv_bytes([person(1)]))
    source = RosterSource.objects.create(organisation=province.yaohai, name="瑶海区名册")
    imp = services.start_import(importer(province), source, path)
    seen: dict[str, Any] = {}

    class Started:
        pid = 4242

        def __init__(self, argv: list[str], **kwargs: Any) -> None:
            seen.update(argv=argv, **kwargs)

    monkeypatch.setattr(background.subprocess, "Popen", Started)
    jobs.start(imp.pk, importer(province))
    assert seen["argv"] == [
        sys.executable, "-m", "gonghui", "roster", "--as", "yuki", "resume", str(imp.pk),
    ]  # fmt: skip
    assert seen["start_new_session"] is True
    marker = json.loads((imp.work_dir / "job.json").read_text())
    assert marker["pid"] == 4242 and marker["command"][-2:] == ["resume", str(imp.pk)]
    assert jobs.command(3, "yuki", jobs.LIST)[1:] == [
        "-m", "gonghui.discovery.jobs", "list", "3", "--as", "yuki",
    ]  # fmt: skip


def test_the_refused_rows_download_and_the_download_is_logged(
    client: Client, province: Province
) -> None:
    logged_in(client, importer(province))
    upload(client, csv_bytes(bad_rows()))
    imp = RosterImport.objects.get()
    response = client.get(reverse("roster-import-rejected", args=[imp.pk]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0][:3] == ["row", "column", "reason"] and len(lines) == 3
    assert "check digit is wrong" in lines[1][2]
    entry = AuditEntry.objects.get(action="export", model="discovery.rosterimport.rejected")
    assert (entry.actor, entry.source) == (importer(province), "web")
    assert entry.changes == {"filters": {"import": imp.pk}, "rows": 2}


def test_an_import_without_refused_rows_has_nothing_to_download(
    client: Client, province: Province
) -> None:
    logged_in(client, importer(province))
    upload(client, csv_bytes([person(1)]))
    imp = RosterImport.objects.get()
    response = client.get(reverse("roster-import-rejected", args=[imp.pk]))
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action="export").exists()


def test_the_list_of_imports_is_scoped_and_paged(
    client: Client, province: Province, settings: Any
) -> None:
    settings.GONGHUI_PAGE_SIZE = 2
    mine = [running_import(province)]
    first = mine[0]
    for n in range(2):
        mine.append(
            RosterImport.objects.create(
                source=first.source,
                organisation=first.organisation,
                created_by=first.created_by,
                file_name=f"f{n}.csv",
                sha256=f"{n + 1}" * 64,
                size_bytes=1,
                file_format="csv",
            )
        )
    wuhu_admin = user("wuhu_admin", Role.ADMIN, province.jinghu)
    logged_in(client, importer(province))
    page = client.get(reverse("roster-imports")).context["page"]
    assert page.paginator.count == 3 and len(page.object_list) == 2
    logged_in(client, wuhu_admin)
    assert client.get(reverse("roster-imports")).context["page"].paginator.count == 0


def test_every_import_url_is_404_for_an_outsider_and_403_for_non_admins(
    client: Client, province: Province
) -> None:
    imp = running_import(province)
    urls = [
        reverse(name, args=[imp.pk])
        for name in (
            "roster-import",
            "roster-import-mapping",
            "roster-import-resume",
            "roster-import-rejected",
        )
    ]
    logged_in(client, user("wuhu_admin", Role.ADMIN, province.jinghu))
    for url in urls:
        assert client.get(url).status_code in (404, 405), url
        assert client.post(url, {}).status_code == 404, url
    logged_in(client, province.alice)  # a case worker of the same county
    for url in [*urls, reverse("roster-imports"), reverse("list-imports")]:
        assert client.get(url).status_code in (403, 405), url
        assert client.post(url, {}).status_code == 403, url


# --- external lists -------------------------------------------------------------------------


def test_an_external_list_is_uploaded_with_its_period_and_agency(
    client: Client, province: Province
) -> None:
    logged_in(client, importer(province))
    a = person(1)
    data = csv_bytes(
        [
            ["王芳", a[1], "680.50", "2025-01-01"],
            ["李四", "", "1,200", "2024/07/01"],  # no ID number: kept for linkage
            ["", a[1], "680", "2025-01-01"],  # no name: refused
        ],
        ["姓名", "身份证号", "保障金额", "起始日期"],
        encoding="gbk",
    )
    post = {
        "new_source": "瑶海区低保名单",
        "kind": SourceKind.MINIMUM_LIVING,
        "agency": "瑶海区民政局",
        "period_from": "2025-01-01",
        "period_to": "2025-06-30",
        "file": SimpleUploadedFile("低保.csv", data),
    }
    response = client.post(reverse("list-imports"), post)
    imp = ListImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "list-import", args=[imp.pk]
    )
    assert (imp.status, imp.kind, imp.agency) == ("done", "minimum_living", "瑶海区民政局")
    assert (imp.period_from, imp.period_to) == (
        datetime.date(2025, 1, 1),
        datetime.date(2025, 6, 30),
    )
    page = client.get(response["Location"])
    body = page.content.decode()
    assert 'id="rows-read">3<' in body and 'id="rows-loaded">2<' in body
    assert 'id="rows-rejected">1<' in body and 'id="rows-without-id">1<' in body
    assert "瑶海区民政局" in body and "2025-01-01 – 2025-06-30" in body
    download = client.get(reverse("list-import-rejected", args=[imp.pk]))
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    assert "The name is empty." in text
    entry = AuditEntry.objects.get(action="export", model="discovery.listimport.rejected")
    assert entry.changes == {"filters": {"import": imp.pk}, "rows": 1}
    listing = client.get(reverse("list-imports")).content.decode()
    assert "低保.csv" in listing and "Minimum-living-allowance recipients" in listing


def test_a_list_upload_checks_its_period_and_kind(client: Client, province: Province) -> None:
    logged_in(client, importer(province))
    post = {
        "new_source": "名单",
        "period_from": "2025-06-30",
        "period_to": "2025-01-01",
        "file": SimpleUploadedFile("l.csv", csv_bytes([["王芳"]], ["姓名"])),
    }
    response = client.post(reverse("list-imports"), post)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "Choose what the new source delivers." in errors["kind"]
    assert "The period must end on or after its first day." in errors["period_to"]


def test_a_list_without_its_required_column_goes_to_the_mapping(
    client: Client, province: Province
) -> None:
    logged_in(client, importer(province))
    post = {
        "new_source": "医保大额",
        "kind": SourceKind.MEDICAL,
        "period_from": "2025-01-01",
        "period_to": "2025-06-30",
        "file": SimpleUploadedFile(
            "m.csv", csv_bytes([["王芳", "3000", "2025-03-01"]], ["姓名", "Paid", "结算日期"])
        ),
    }
    response = client.post(reverse("list-imports"), post)
    imp = ListImport.objects.get()
    assert response["Location"] == reverse("list-import-mapping", args=[imp.pk])
    mapping = client.get(response["Location"])
    assert mapping.context["form"].headers == ["Paid"]
    assert "out of pocket" in mapping.content.decode()
    done = client.post(response["Location"], {"col1": "out_of_pocket_fen"})
    assert done.status_code == 302
    imp.refresh_from_db()
    assert (imp.status, imp.rows_loaded) == ("done", 1)
