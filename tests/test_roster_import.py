"""Roster imports end to end: real files through the real services into the registry."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import duckdb
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.audit.models import AuditEntry
from gonghui.discovery import loader, services
from gonghui.discovery.choices import ImportStatus
from gonghui.discovery.models import RosterImport, RosterSource
from gonghui.errors import Conflict, DomainError
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import Membership, Worker
from tests.factories import Province, user

ZH = ["姓名", "身份证号", "手机号码", "行政区划代码", "工作单位", "入会日期", "就业形态"]
EN = ["Name", "ID number", "Phone", "Region", "Employer", "Member since", "Employment form"]


def person(n: int) -> list[str]:
    number = make_id_number("340102", datetime.date(1990, 1, 1) + datetime.timedelta(n), n)
    return [f"张{n}", number, f"138{n:08d}", "340102", "合肥某机械厂", "2020-03-01", "快递员"]


def write(
    path: Path, rows: list[list[str]], headers: list[str] = ZH, encoding: str = "utf-8"
) -> Path:
    with open(path, "w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def importer(province: Province) -> User:
    """The administrator of the Yaohai county federation: administrators import rosters."""
    found = User.objects.filter(username="yuki").first()
    return found or user("yuki", Role.ADMIN, province.yaohai)


def source(province: Province, name: str = "瑶海区名册") -> RosterSource:
    return RosterSource.objects.create(organisation=province.yaohai, name=name)


def run(province: Province, path: Path, src: RosterSource | None = None) -> RosterImport:
    imp = services.start_import(importer(province), src or source(province), path)
    return services.run_import(imp.pk)


def test_it_loads_a_clean_roster(province: Province, tmp_path: Path) -> None:
    imp = run(province, write(tmp_path / "r.csv", [person(n) for n in range(30)]))
    assert (imp.status, imp.rows_read, imp.rows_loaded, imp.rows_rejected) == ("done", 30, 30, 0)
    worker = Worker.objects.get(id_number=person(7)[1])
    assert (worker.name, worker.phone, worker.region_id) == ("张7", "13800000007", "340102")
    assert worker.organisation == province.yaohai and worker.birth_date.year == 1990
    membership = Membership.objects.get(worker=worker)
    assert (membership.employment_form, str(membership.since)) == ("courier", "2020-03-01")
    entry = AuditEntry.objects.get(object_id=f"roster_import:{imp.pk}")
    assert entry.changes["workers"] == 30 and entry.actor == importer(province)
    loaded = duckdb.sql(f"SELECT id_number, worker_id FROM '{imp.work_dir / 'loaded.parquet'}'")
    assert dict(loaded.fetchall())[worker.id_number] == worker.pk


def test_it_tidies_what_can_be_tidied(province: Province, tmp_path: Path) -> None:
    rows = [person(n) for n in range(6)]
    old = make_id_number("340121", datetime.date(1965, 5, 6), 123)  # 长丰县, in use in 1965
    rows[0][1] = old[:6] + old[8:17]  # the 15-digit form
    rows[1][1] = rows[1][1].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rows[2][1] = rows[2][1] + "   "
    ending_x = next(
        make_id_number("340102", datetime.date(1991, 2, 3), s)
        for s in range(999)
        if make_id_number("340102", datetime.date(1991, 2, 3), s).endswith("X")
    )
    rows[3][1] = ending_x.lower()
    rows[4][2] = "138 0000 0004"
    imp = run(province, write(tmp_path / "r.csv", rows))
    assert imp.rows_loaded == 6, services.import_report(imp)
    for number in (old, person(1)[1], person(2)[1], ending_x):
        assert Worker.objects.filter(id_number=number).exists()
    assert Worker.objects.get(id_number=person(4)[1]).phone == "13800000004"


def test_it_refuses_bad_rows_with_reasons(province: Province, tmp_path: Path) -> None:
    rows = [person(n) for n in range(5)]
    rows[1][1] = rows[1][1][:17] + ("0" if rows[1][1][17] != "0" else "1")
    rows[2][0] = ""
    rows[3][2] = "12345"
    rows.append(person(0))  # the same worker twice
    imp = run(province, write(tmp_path / "r.csv", rows))
    assert (imp.rows_loaded, imp.rows_rejected, imp.rows_duplicate) == (2, 3, 1)
    with translation.override("en"):
        path = services.rejected_csv(importer(province), imp, "en")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0][:3] == ["row", "column", "reason"] and lines[0][3:] == ZH
    by_row = {line[0]: line for line in lines[1:]}
    assert by_row["3"][1] == "身份证号" and "check digit is wrong" in by_row["3"][2]
    assert by_row["3"][2].startswith("Row 3, 身份证号:")
    assert by_row["4"][1] == "姓名" and by_row["5"][1] == "手机号码"
    assert "as row 2" in by_row["7"][2]
    assert AuditEntry.objects.filter(action="export", object_id="4").exists()


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig"])
def test_it_reads_gbk_and_bom(province: Province, tmp_path: Path, encoding: str) -> None:
    imp = run(province, write(tmp_path / "r.csv", [person(1)], encoding=encoding))
    assert imp.rows_loaded == 1 and Worker.objects.get().name == "张1"
    assert imp.encoding == ("gb18030" if encoding.startswith("gb") else "utf-8")


def test_it_reads_english_headers_and_xlsx(province: Province, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(EN)
    sheet.append(person(1))
    sheet.append([*person(2)[:5], datetime.date(2021, 1, 2), ""])
    book.save(tmp_path / "r.xlsx")
    imp = run(province, tmp_path / "r.xlsx")
    assert (imp.file_format, imp.rows_loaded) == ("xlsx", 2)
    assert str(Membership.objects.get(worker__name="张2").since) == "2021-01-02"


def test_xlsx_cells_typed_as_numbers_and_dates_read_as_a_clerk_typed_them(
    province: Province, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(EN)
    typed = person(3)
    # Excel turns a long digit string typed as a number into a float: a phone survives
    # (11 digits), an ID number does not (15 significant digits) and is refused, not guessed.
    sheet.append(
        [typed[0], typed[1], int(typed[2]), 340102, typed[4], datetime.datetime(2019, 5, 6)]
    )
    sheet.append([*person(4)[:1], float(person(4)[1][:17] + "0"), *person(4)[2:]])
    book.save(tmp_path / "typed.xlsx")
    imp = run(province, tmp_path / "typed.xlsx")
    assert (imp.rows_loaded, imp.rows_rejected) == (1, 1)
    worker = Worker.objects.get()
    assert (worker.name, worker.phone) == ("张3", typed[2])
    assert str(Membership.objects.get(worker=worker).since) == "2019-05-06"


def test_an_empty_workbook_is_explained(province: Province, tmp_path: Path) -> None:
    from openpyxl import Workbook

    Workbook().save(tmp_path / "empty.xlsx")
    imp = services.start_import(importer(province), source(province), tmp_path / "empty.xlsx")
    with translation.override("en"), pytest.raises(DomainError, match="empty"):
        services.run_import(imp.pk)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        ("姓名,身份证号\n".encode("utf-16"), "UTF-16"),
        (b"\xff\xfe\x00\x01garbage\x80\x81", "UTF-16"),
        (b"\x80\x80\x80\xff\xff,\xff\n", "neither UTF-8 nor GBK"),
        ("姓名,手机号码\n张三,13800000000\n".encode(), "no column for the ID number"),
        ("Имя,Паспорт\nИван,1\n".encode(), "“Имя”, “Паспорт”"),
    ],
)
def test_it_explains_files_it_cannot_read(
    province: Province, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    imp = services.start_import(importer(province), source(province), path)
    with translation.override("en"), pytest.raises(DomainError, match=message):
        services.run_import(imp.pk)
    imp.refresh_from_db()
    assert imp.status == ImportStatus.FAILED and message in imp.error
    assert not Worker.objects.exists()


def test_a_zip_that_is_no_workbook_is_explained(province: Province, tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "r.xlsx", "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    imp = services.start_import(importer(province), source(province), tmp_path / "r.xlsx")
    with translation.override("en"), pytest.raises(DomainError, match="XLSX workbook"):
        services.run_import(imp.pk)


def test_ragged_rows_are_read(province: Province, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    good = person(1)
    path.write_text(f"姓名,身份证号\n{good[0]},{good[1]},extra\n李四\n", encoding="utf-8")
    imp = run(province, path)
    assert (imp.rows_loaded, imp.rows_rejected) == (1, 1)


def test_a_saved_mapping_reads_foreign_headers(province: Province, tmp_path: Path) -> None:
    src = source(province)
    path = write(tmp_path / "r.csv", [person(1)[:2]], headers=["Имя", "Паспорт"])
    services.save_mapping(importer(province), src, {"Имя": "name", "Паспорт": "id_number"})
    assert run(province, path, src).rows_loaded == 1


def test_a_header_only_file_loads_nothing(province: Province, tmp_path: Path) -> None:
    imp = run(province, write(tmp_path / "r.csv", []))
    assert (imp.status, imp.rows_read, imp.rows_loaded) == ("done", 0, 0)


def test_importing_twice_changes_nothing(province: Province, tmp_path: Path) -> None:
    src = source(province)
    path = write(tmp_path / "r.csv", [person(n) for n in range(10)])
    run(province, path, src)
    with pytest.raises(Conflict, match="already imported"):
        services.start_import(importer(province), src, path)
    # Another file with the same people: they are registered already, nothing changes.
    again = run(province, write(tmp_path / "r2.csv", [person(n) for n in range(12)]), src)
    assert (again.rows_loaded, again.rows_existing) == (2, 10)
    assert Worker.objects.count() == 12 and Membership.objects.count() == 12


def test_a_killed_import_resumes_without_duplicates(
    province: Province, tmp_path: Path, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.GONGHUI_ROSTER_CHUNK = 4  # type: ignore[attr-defined]
    imp = services.start_import(
        importer(province),
        source(province),
        write(tmp_path / "r.csv", [person(n) for n in range(10)]),
    )
    real = loader.load_chunk

    def dies_at_chunk_2(roster_import: RosterImport, number: int, rows: list) -> object:
        if number == 2:
            raise KeyboardInterrupt("killed")
        return real(roster_import, number, rows)

    monkeypatch.setattr(loader, "load_chunk", dies_at_chunk_2)
    with pytest.raises(KeyboardInterrupt):
        services.run_import(imp.pk)
    imp.refresh_from_db()
    assert (imp.status, imp.rows_loaded, Worker.objects.count()) == ("failed", 8, 8)
    monkeypatch.setattr(loader, "load_chunk", real)
    # The same file again finds the unfinished import and resumes it.
    again = services.start_import(importer(province), imp.source, tmp_path / "r.csv")
    assert again.pk == imp.pk
    done = services.run_import(imp.pk)
    assert (done.status, done.rows_loaded, done.chunks.count()) == ("done", 10, 3)
    assert Worker.objects.count() == 10 and Membership.objects.count() == 10


def test_a_rollback_takes_the_workers_out(province: Province, tmp_path: Path) -> None:
    Worker.objects.create(
        id_number=make_id_number("340102", datetime.date(1980, 1, 1), 5),
        name="老会员",
        organisation=province.yaohai,
    )
    imp = run(province, write(tmp_path / "r.csv", [person(n) for n in range(5)]))
    services.rollback_import(importer(province), imp)
    imp.refresh_from_db()
    assert imp.status == "rolled_back" and list(Worker.objects.values_list("name", flat=True)) == [
        "老会员"
    ]
    assert not Membership.objects.exists()
    # Rolled back, the same file may be imported afresh.
    assert run(province, tmp_path / "r.csv", imp.source).rows_loaded == 5


def test_an_import_is_seen_only_in_its_subtree(province: Province, tmp_path: Path) -> None:
    imp = run(province, write(tmp_path / "r.csv", [person(1)]))
    assert RosterImport.objects.for_user(province.carl).filter(pk=imp.pk).exists()  # Hefei
    assert not RosterImport.objects.for_user(province.charlie).filter(pk=imp.pk).exists()
    with pytest.raises(RosterImport.DoesNotExist):
        services.rejected_csv(province.charlie, imp)
    with pytest.raises(DomainError):
        services.start_import(province.leo, imp.source, tmp_path / "r.csv")  # a leader: no role


def test_the_command_imports_with_a_report(province: Province, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv", [person(n) for n in range(3)] + [["", "1", "", "", "", "", ""]]
    )
    out = io.StringIO()
    with translation.override("en"):
        call_command(
            "roster",
            "--as",
            importer(province).username,
            "import",
            str(path),
            "--source",
            "名册",
            "--new-source",
            stdout=out,
            stderr=io.StringIO(),
        )
    assert "loaded 3" in out.getvalue() and "rejected 1" in out.getvalue()
    imp = RosterImport.objects.get()
    target = tmp_path / "refused.csv"
    call_command(
        "roster",
        "--as",
        importer(province).username,
        "rejected",
        str(imp.pk),
        "--out",
        str(target),
        stdout=out,
    )
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    with pytest.raises(CommandError, match="already imported"), translation.override("en"):
        call_command(
            "roster",
            "--as",
            importer(province).username,
            "import",
            str(path),
            "--source",
            "名册",
            stdout=out,
        )
