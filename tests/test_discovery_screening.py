"""External lists and screening rules on small hand-built data: list imports with period and
provenance, each built-in rule with its expected candidates written by hand, the dry run's
counts per organisation, a re-run that changes nothing, and scope."""

from __future__ import annotations

import csv
import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from gonghui.audit.models import AuditEntry
from gonghui.discovery import external, linking, lists, outreach, screening
from gonghui.discovery.choices import ImportStatus, RuleStatus, RunKind, SourceKind
from gonghui.discovery.models import (
    Candidate,
    LinkDecision,
    LinkKind,
    LinkMethod,
    LinkReview,
    ListImport,
    ListRowLink,
    ScreeningRule,
)
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.hardship.models import IncomeReading
from gonghui.people.choices import Relation, Schooling
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import Household, HouseholdMember, Worker
from tests.cases import filed
from tests.factories import Province, user, worker

AS_OF = datetime.date(2025, 6, 15)
PERIOD = (datetime.date(2025, 1, 1), datetime.date(2025, 6, 30))


def write(path: Path, headers: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def load(p: Province, kind: str, path: Path, name: str = "") -> ListImport:
    source = external.list_source(p.adam, name or f"{kind} source", kind, create=True)
    imp = external.start_list_import(p.adam, source, path, *PERIOD, agency="合肥市民政局")
    return external.run_list_import(imp.pk)


def rows(imp: ListImport) -> list[tuple]:
    return duckdb.execute(
        f"SELECT * FROM read_parquet('{lists.rows_path(imp.work_dir)}') ORDER BY row_no"
    ).fetchall()


# --- list imports -------------------------------------------------------------------------


def test_a_list_keeps_its_period_provenance_and_rows_without_id(
    province: Province, tmp_path: Path
) -> None:
    a = worker(province.yaohai_union, province.yaohai_region, name="王芳")
    # One digit off the check digit, whatever the factory's sequence made it.
    mistyped = a.id_number[:17] + ("1" if a.id_number.endswith("0") else "0")
    path = write(
        tmp_path / "dibao.csv",
        ["姓名", "身份证号", "出生日期", "联系电话", "户号", "保障金额", "起始日期", "终止日期"],
        [
            [
                "王芳",
                a.id_number.lower() + " ",
                "",
                "13912345678",
                "H1",
                "680.50",
                "2025-01-01",
                "",
            ],
            ["李四", "", "1970-02-03", "12345", "H2", "1,200", "2024/07/01", "2025-12-31"],
            ["赵六", mistyped, "", "", "H3", "680", "2025-01-01", ""],
            ["", a.id_number, "", "", "H4", "680", "2025-01-01", ""],
            ["孙七", "", "", "", "H5", "六百", "2025-01-01", ""],
            [
                "王芳",
                a.id_number.lower() + " ",
                "",
                "13912345678",
                "H1",
                "680.50",
                "2025-01-01",
                "",
            ],
        ],
        encoding="gb18030",
    )
    imp = load(province, SourceKind.MINIMUM_LIVING, path)
    assert (imp.status, imp.encoding, imp.agency) == ("done", "gb18030", "合肥市民政局")
    assert (imp.period_from, imp.period_to, len(imp.sha256)) == (*PERIOD, 64)
    assert (imp.rows_read, imp.rows_loaded, imp.rows_rejected, imp.rows_duplicate) == (6, 3, 2, 1)
    assert imp.rows_without_id == 2
    found = {r[5]: r for r in rows(imp)}
    assert found["王芳"][2] == a.id_number and found["王芳"][7] == "13912345678"
    assert found["王芳"][10] == 68050  # fen, exactly
    assert found["李四"][2] is None and found["李四"][6] == datetime.date(1970, 2, 3)
    assert found["李四"][7] is None and found["李四"][10] == 120000
    assert (found["赵六"][2], found["赵六"][3], found["赵六"][4]) == (
        None, mistyped, "id_check_digit",
    )  # fmt: skip
    report = external.list_report(imp)
    assert report["period"] == ["2025-01-01", "2025-06-30"] and report["imported_by"] == "adam"
    entry = AuditEntry.objects.filter(model="discovery.listimport", object_id=str(imp.pk))
    assert entry.exists()
    out = external.rejected_list_csv(province.adam, imp, language="en")
    text = out.read_text(encoding="utf-8-sig")
    assert "The name is empty." in text and "保障金额" in text and "cannot be read" in text
    assert "row 2" in text.lower() or ",2," in text


def test_the_same_list_twice_changes_nothing(province: Province, tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", ["姓名", "登记日期"], [["李四", "2025-01-02"]])
    imp = load(province, SourceKind.UNEMPLOYMENT, path)
    assert imp.rows_loaded == 1
    with pytest.raises(Conflict):
        external.start_list_import(province.adam, imp.source, path, *PERIOD)


def test_a_list_without_its_required_column_is_refused(province: Province, tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", ["姓名", "身份证号", "诊断"], [["李四", "", "肺癌"]])
    with pytest.raises(DomainError, match="out of pocket"):
        load(province, SourceKind.MEDICAL, path)
    assert ListImport.objects.get().status == ImportStatus.FAILED


# --- the rules on hand-built data ---------------------------------------------------------


def school_child(home: Household) -> None:
    HouseholdMember.objects.create(
        household=home, name="小明", relation=Relation.CHILD, schooling=Schooling.PRIMARY
    )


def household_of(w: Worker, p: Province) -> Household:
    home = Household.objects.create(organisation=w.organisation, region=p.yaohai_region)
    HouseholdMember.objects.create(
        household=home, worker=w, name=w.name, id_number=w.id_number, relation=Relation.SELF
    )
    return home


class World:
    """Who is on which list, and what each rule must find (written by hand below)."""

    def __init__(self, p: Province, tmp: Path) -> None:
        y, j = (p.yaohai_union, p.yaohai_region), (p.jinghu_union, p.jinghu_region)
        self.dibao = worker(*y, name="低保甲")  # on the list now, no file: found
        self.dibao_ended = worker(*j, name="低保乙")  # allowance ended in 2024: not found
        self.dibao_spouse = worker(*j, name="低保丙")  # her husband is on the list: found
        spouse_home = household_of(self.dibao_spouse, p)
        HouseholdMember.objects.create(
            household=spouse_home, name="丈夫", id_number=ID_SPOUSE, relation=Relation.SPOUSE
        )
        self.filed_dibao = filed(p, name="已建档")  # on the list but filed: not found
        self.sick = worker(*y, name="医疗甲")  # 12,000 + 9,000 yuan in 12 months: found
        self.sick_long_ago = worker(*y, name="医疗乙")  # 25,000 yuan 14 months ago: no
        self.jobless = worker(*j, name="失业甲")  # registered, child at school: found
        school_child(household_of(self.jobless, p))
        self.jobless_no_child = worker(*y, name="失业乙")  # registered, no child: no
        self.jobless_ended = worker(*y, name="失业丙")  # registration ended: no
        school_child(household_of(self.jobless_ended, p))
        self.two_homes = filed(p, name="两套房")  # two homes: found (both rows)
        self.one_home_car = filed(p, name="有车")  # one home, one car: found (the car)
        self.aid_car = filed(p, name="残疾车")  # a disability-aid vehicle only: no
        self.above = filed(p, name="收入高")  # six months above the standard: found
        self.five_above = filed(p, name="五个月")  # five of six months above: no
        for file, months_above in ((self.above, 6), (self.five_above, 5)):
            for n in range(6):
                month = datetime.date(2025, 5 - n, 1) if n < 5 else datetime.date(2024, 12, 1)
                IncomeReading.objects.create(
                    file=file,
                    month=month,
                    per_capita_income=Decimal("900" if n < months_above else "500"),
                    living_standard=Decimal("650"),
                )
        self.imports = {
            "dibao": load(p, SourceKind.MINIMUM_LIVING, write(
                tmp / "dibao.csv", ["姓名", "身份证号", "保障金额", "起始日期", "终止日期"], [
                    ["低保甲", self.dibao.id_number, "680", "2025-01-01", ""],
                    ["低保乙", self.dibao_ended.id_number, "680", "2023-01-01", "2024-12-31"],
                    ["丈夫", ID_SPOUSE, "700", "2025-03-01", ""],
                    ["已建档", self.filed_dibao.applicant.id_number, "680", "2025-01-01", ""],
                    ["无名", "", "680", "2025-01-01", ""],
                ])),
            "medical": load(p, SourceKind.MEDICAL, write(
                tmp / "med.csv", ["姓名", "身份证号", "个人自付", "结算日期"], [
                    ["医疗甲", self.sick.id_number, "12000", "2024-09-01"],
                    ["医疗甲", self.sick.id_number, "9000.00", "2025-05-20"],
                    ["医疗乙", self.sick_long_ago.id_number, "25000", "2024-04-01"],
                    ["低保甲", self.dibao.id_number, "15000", "2025-02-01"],
                ])),
            "unemployment": load(p, SourceKind.UNEMPLOYMENT, write(
                tmp / "jobs.csv", ["姓名", "身份证号", "失业登记日期", "注销日期"], [
                    ["失业甲", self.jobless.id_number, "2025-02-01", ""],
                    ["失业乙", self.jobless_no_child.id_number, "2025-02-01", ""],
                    ["失业丙", self.jobless_ended.id_number, "2024-02-01", "2025-01-31"],
                ])),
            "property": load(p, SourceKind.PROPERTY, write(
                tmp / "homes.csv", ["姓名", "身份证号", "房屋坐落", "建筑面积"], [
                    ["两套房", self.two_homes.applicant.id_number, "长江东路1号", "89.5"],
                    ["两套房", self.two_homes.applicant.id_number, "长江东路2号", "60"],
                    ["有车", self.one_home_car.applicant.id_number, "淮河路3号", "70"],
                ])),
            "vehicle": load(p, SourceKind.VEHICLE, write(
                tmp / "cars.csv", ["姓名", "身份证号", "号牌号码", "残疾人专用车"], [
                    ["有车", self.one_home_car.applicant.id_number, "皖A12345", "否"],
                    ["残疾车", self.aid_car.applicant.id_number, "皖A54321", "是"],
                ])),
        }  # fmt: skip


# Born on a day the factory never uses, so no worker of a test shares the number.
ID_SPOUSE = make_id_number("340102", datetime.date(1985, 11, 23), 77)


def row(world: World, name: str, number: int) -> tuple[str, int, int]:
    source = {"dibao": "minimum_living"}.get(name, name)
    return (source, world.imports[name].pk, number)


def builtin_rule(code: str) -> ScreeningRule:
    """One of the built-in rules (installed as a draft if it is not yet)."""
    return {r.code: r for r in screening.install_builtin_rules()}[code]


def expected(world: World) -> dict[str, dict[int, tuple]]:
    reading = {
        r.month: r.pk for r in IncomeReading.objects.filter(file=world.above).order_by("month")
    }
    return {
        "dibao-no-file": {
            world.dibao.pk: (row(world, "dibao", 2),),
            world.dibao_spouse.pk: (row(world, "dibao", 4),),
        },
        "medical-out-of-pocket": {
            world.sick.pk: (row(world, "medical", 2), row(world, "medical", 3)),
        },
        "unemployed-children-in-school": {world.jobless.pk: (row(world, "unemployment", 2),)},
        "filed-home-or-car": {
            world.two_homes.applicant_id: (row(world, "property", 2), row(world, "property", 3)),
            world.one_home_car.applicant_id: (row(world, "vehicle", 2),),
        },
        "filed-income-above-standard": {
            world.above.applicant_id: tuple(
                sorted(("income_reading", 0, pk) for pk in reading.values())
            ),
        },
    }


def test_each_builtin_rule_finds_the_expected_candidates(world: World) -> None:
    table_files = screening.tables()
    engine = screening.DuckDBEngine()
    for rule in screening.install_builtin_rules():
        found = screening.find(rule, AS_OF, engine, table_files)
        assert {w: ev for w, (_org, ev) in found.items()} == expected(world)[rule.code], rule.code
        for worker_id, (org, _ev) in found.items():
            assert org == Worker.objects.get(pk=worker_id).organisation_id


def test_the_threshold_is_a_parameter(world: World, province: Province) -> None:
    rule = builtin_rule("medical-out-of-pocket")
    rule = screening.change_rule(province.adam, rule, parameters={"threshold_fen": 1_400_000})
    assert rule.version == 2
    found = screening.find(rule, AS_OF, screening.DuckDBEngine(), screening.tables())
    assert set(found) == {world.sick.pk, world.dibao.pk}
    with pytest.raises(DomainError):
        screening.change_rule(province.adam, rule, parameters={"threshold_fen": "lots"})
    with pytest.raises(DomainError):
        screening.change_rule(
            province.adam, rule, definition={"sql": "DELETE FROM members", "parameters": {}}
        )
    with pytest.raises(DomainError):
        bad = "SELECT * FROM read_parquet('/etc/passwd')"
        screening.change_rule(province.adam, rule, definition={"sql": bad, "parameters": {}})


# --- dry run, run, re-run, scope ----------------------------------------------------------


def test_dry_run_counts_per_organisation_then_run_and_rerun(
    world: World, province: Province
) -> None:
    rule = builtin_rule("dibao-no-file")
    with pytest.raises(Conflict):
        screening.run_rule(province.adam, rule, AS_OF)
    dry = screening.dry_run(province.adam, rule, AS_OF)
    assert (dry.found, dry.added, dry.dropped) == (2, 2, 0)
    per_org = {s["organisation"]: (s["add"], s["drop"]) for s in dry.summary}
    assert per_org == {province.yaohai_union.pk: (1, 0), province.jinghu_union.pk: (1, 0)}
    assert Candidate.objects.count() == 0

    rule = screening.change_rule(province.adam, rule, status=RuleStatus.ON)
    run = screening.run_rule(province.adam, rule, AS_OF)
    assert (run.added, run.dropped) == (2, 0)
    mine = Candidate.objects.get(worker=world.dibao)
    assert (mine.organisation, mine.status, mine.rule_version) == (
        province.yaohai_union, "new", rule.version,
    )  # fmt: skip
    imp = world.imports["dibao"].pk
    assert mine.evidence == [{"source": "minimum_living", "import": imp, "row": 2}]
    assert AuditEntry.objects.filter(object_id=f"screening_run:{run.pk}").exists()

    before = list(Candidate.objects.values_list("pk", "updated_at", "evidence", "dropped_at"))
    again = screening.run_rule(province.adam, rule, AS_OF)
    assert (again.added, again.dropped, again.changed) == (0, 0, 0)
    after = list(Candidate.objects.values_list("pk", "updated_at", "evidence", "dropped_at"))
    assert after == before

    # The spouse's allowance ends: a dry run shows the drop in Jinghu, the run applies it.
    HouseholdMember.objects.filter(id_number=ID_SPOUSE).delete()
    dry = screening.dry_run(province.adam, rule, AS_OF)
    assert {s["organisation"]: (s["add"], s["drop"]) for s in dry.summary} == {
        province.yaohai_union.pk: (0, 0),
        province.jinghu_union.pk: (0, 1),
    }
    screening.run_rule(province.adam, rule, AS_OF)
    dropped = Candidate.objects.get(worker=world.dibao_spouse)
    assert dropped.dropped_at is not None
    assert list(Candidate.objects.active().values_list("worker_id", flat=True)) == [world.dibao.pk]


def test_a_county_sees_and_dry_runs_only_its_subtree(world: World, province: Province) -> None:
    rule = builtin_rule("dibao-no-file")
    rule = screening.change_rule(province.adam, rule, status=RuleStatus.ON)
    screening.run_rule(province.adam, rule, AS_OF)
    assert Candidate.objects.count() == 2
    alice_sees = Candidate.objects.for_user(province.alice)
    assert list(alice_sees.values_list("worker_id", flat=True)) == [world.dibao.pk]
    assert Candidate.objects.for_user(province.charlie).get().worker == world.dibao_spouse
    # A county administrator's dry run counts only the county's subtree.
    county_admin = user("yadmin", "admin", province.yaohai)
    HouseholdMember.objects.filter(id_number=ID_SPOUSE).delete()
    dry = screening.dry_run(county_admin, rule, AS_OF)
    assert dry.summary == [
        {"organisation": province.yaohai_union.pk, "name": province.yaohai_union.name,
         "add": 0, "drop": 0, "keep": 1, "change": 0},
    ]  # fmt: skip
    assert (dry.found, dry.dropped) == (1, 0)  # Jinghu's drop is not the county's to see


# --- rule scope: province-wide policy -------------------------------------------------------


def test_only_the_province_defines_switches_and_runs_rules(
    world: World, province: Province
) -> None:
    rule = builtin_rule("medical-out-of-pocket")
    county_admin = user("yadmin", "admin", province.yaohai)
    city_admin = user("hadmin", "admin", province.hefei)
    definition = {"sql": "SELECT worker_id, 'x' AS source, 0 AS import_id, 0 AS row_no "
                  "FROM members", "parameters": {}}  # fmt: skip
    for lower in (county_admin, city_admin):
        with pytest.raises(NotAllowed, match="province-wide policy"):
            screening.change_rule(lower, rule, parameters={"threshold_fen": 100})
        with pytest.raises(NotAllowed):
            screening.change_rule(lower, rule, status=RuleStatus.ON)
        with pytest.raises(NotAllowed):
            screening.create_rule(lower, "everyone", "Everyone", definition)
    rule.refresh_from_db()
    assert (rule.version, rule.status, rule.parameters) == (1, RuleStatus.DRAFT, {})
    assert not ScreeningRule.objects.filter(code="everyone").exists()

    # A case worker or a leader of the province sees no rule at all.
    for outsider in (province.alice, province.leo):
        with pytest.raises(NotAllowed):
            screening.dry_run(outsider, rule, AS_OF)

    rule = screening.change_rule(province.adam, rule, status=RuleStatus.ON)
    for lower in (county_admin, city_admin):
        with pytest.raises(NotAllowed, match="Only an administrator of the province"):
            screening.run_rule(lower, rule, AS_OF)
        with pytest.raises(NotAllowed):
            screening.start_job(lower, RunKind.RUN, rule, AS_OF)
        assert screening.start_job(lower, RunKind.DRY_RUN, rule, AS_OF).organisation == (
            lower.organisation
        )
    assert Candidate.objects.count() == 0
    assert screening.run_rule(province.adam, rule, AS_OF).added == 1  # the sick worker

    made = screening.create_rule(province.adam, "everyone", "Everyone", definition)
    assert (made.status, made.version, made.builtin) == (RuleStatus.DRAFT, 1, False)
    with pytest.raises(Conflict):
        screening.create_rule(province.adam, "everyone", "Again", definition)
    with pytest.raises(DomainError) as bad:
        screening.create_rule(province.adam, "Not A Slug", "x", definition)
    assert bad.value.field == "code"
    with pytest.raises(DomainError) as broken:
        screening.create_rule(province.adam, "broken", "x", {"sql": "DROP TABLE members"})
    assert broken.value.field == "definition"


# --- rows linked by the fuzzy linkage -------------------------------------------------------


def dibao_rule(p: Province) -> ScreeningRule:
    rule = builtin_rule("dibao-no-file")
    return screening.change_rule(p.adam, rule, status=RuleStatus.ON)


def flagged(rule: ScreeningRule) -> dict[int, tuple]:
    found = screening.find(rule, AS_OF, screening.DuckDBEngine(), screening.tables())
    return {w: ev for w, (_org, ev) in found.items()}


def test_a_linked_row_without_id_number_flags_its_worker(world: World, province: Province) -> None:
    """Row 6 of the 低保 list ("无名") has no ID number. Unlinked, nobody is flagged for it;
    linked to a worker, the rule flags that worker exactly as a row matched by number, and
    the evidence says the row was linked, how and with which score."""
    rule = dibao_rule(province)
    nameless = worker(province.yaohai_union, province.yaohai_region, name="无名")
    imp = world.imports["dibao"]
    assert nameless.pk not in flagged(rule)

    link = ListRowLink.objects.create(
        list_import=imp, row_no=6, worker=nameless, probability=0.97, method=LinkMethod.AUTO
    )
    found = flagged(rule)
    assert found[nameless.pk] == (("minimum_living", imp.pk, 6, "linked", "auto", 0.97, 0),)
    assert set(found) == {world.dibao.pk, world.dibao_spouse.pk, nameless.pk}

    run = screening.run_rule(province.adam, rule, AS_OF)
    assert run.added == 3
    candidate = Candidate.objects.get(worker=nameless)
    assert candidate.organisation == province.yaohai_union
    assert candidate.evidence == [
        {"source": "minimum_living", "import": imp.pk, "row": 6,
         "method": "linked", "by": "auto", "score": 0.97},
    ]  # fmt: skip
    # Rows matched by their number carry no link.
    assert Candidate.objects.get(worker=world.dibao).evidence == [
        {"source": "minimum_living", "import": imp.pk, "row": 2}
    ]
    again = screening.run_rule(province.adam, rule, AS_OF)
    assert (again.added, again.changed, again.dropped) == (0, 0, 0)
    # The worklist says how the row was tied to the worker.
    (line,) = outreach.evidence_in_words([candidate])[candidate.pk]
    assert (line.row, line.link) == (6, "linked by the fuzzy linkage (match probability 0.97)")

    # Once a reviewer says the row and the worker are different people, the link goes and
    # the next run drops the candidate.
    link.delete()
    assert nameless.pk not in flagged(rule)
    assert screening.run_rule(province.adam, rule, AS_OF).dropped == 1
    assert Candidate.objects.get(worker=nameless).dropped_at is not None


def test_a_reviewed_link_flags_and_different_people_does_not(
    world: World, province: Province
) -> None:
    rule = dibao_rule(province)
    nameless = worker(province.yaohai_union, province.yaohai_region, name="无名")
    imp = world.imports["dibao"]
    review = LinkReview.objects.create(
        kind=LinkKind.LINK,
        list_import=imp,
        row_no=6,
        worker=nameless,
        organisation=province.yaohai_union,
        match_probability=0.71,
        match_weight=1.3,
        run_key="k",
    )
    assert nameless.pk not in flagged(rule)  # a pair waiting for a person is no link

    linking.decide(province.rita, review, LinkDecision.SAME_PERSON)
    assert ListRowLink.objects.get(list_import=imp, row_no=6).method == LinkMethod.REVIEWED
    found = flagged(rule)
    assert found[nameless.pk] == (
        ("minimum_living", imp.pk, 6, "linked", "reviewed", 0.71, review.pk),
    )
    screening.run_rule(province.adam, rule, AS_OF)
    assert Candidate.objects.get(worker=nameless).evidence[0] == {
        "source": "minimum_living", "import": imp.pk, "row": 6,
        "method": "linked", "by": "reviewed", "score": 0.71, "review": review.pk,
    }  # fmt: skip

    linking.decide(province.rita, review, LinkDecision.DIFFERENT_PEOPLE)
    assert not ListRowLink.objects.filter(list_import=imp, row_no=6).exists()
    assert nameless.pk not in flagged(rule)
    run = screening.run_rule(province.adam, rule, AS_OF)
    assert run.dropped == 1 and Candidate.objects.get(worker=nameless).dropped_at is not None


def test_a_linked_row_with_a_mistyped_number_counts_for_the_worker(
    province: Province, tmp_path: Path
) -> None:
    """A medical list whose second row has a valid but wrong number (nobody's): linked to
    the worker, its amount adds to the worker's own row and the sum passes the threshold."""
    sick = worker(province.yaohai_union, province.yaohai_region, name="医疗丙")
    wrong = make_id_number("340102", datetime.date(1985, 11, 24), 5)
    imp = load(province, SourceKind.MEDICAL, write(
        tmp_path / "med.csv", ["姓名", "身份证号", "个人自付", "结算日期"], [
            ["医疗丙", sick.id_number, "12000", "2025-03-01"],
            ["医疗丙", wrong, "9000", "2025-04-01"],
        ]))  # fmt: skip
    rule = builtin_rule("medical-out-of-pocket")
    assert flagged(rule) == {}  # 12,000 yuan alone is below 20,000
    ListRowLink.objects.create(
        list_import=imp, row_no=3, worker=sick, probability=0.93, method=LinkMethod.AUTO
    )
    assert flagged(rule) == {
        sick.pk: (("medical", imp.pk, 2), ("medical", imp.pk, 3, "linked", "auto", 0.93, 0))
    }


def test_a_merged_duplicates_rows_are_the_survivors(world: World, province: Province) -> None:
    """低保甲 was registered twice and the record whose number is on the list was merged
    into the other (it keeps its number): the survivor is flagged for the row, the hidden
    duplicate never; a link to the duplicate counts for the survivor too."""
    rule = dibao_rule(province)
    imp = world.imports["dibao"]
    survivor = worker(province.yaohai_union, province.yaohai_region, name="低保甲")
    duplicate = world.dibao
    ListRowLink.objects.create(
        list_import=imp, row_no=6, worker=duplicate, probability=0.9, method=LinkMethod.AUTO
    )
    Worker.objects.filter(pk=duplicate.pk).update(merged_into=survivor)
    found = flagged(rule)
    assert duplicate.pk not in found
    assert found[survivor.pk] == (
        ("minimum_living", imp.pk, 2),
        ("minimum_living", imp.pk, 6, "linked", "auto", 0.9, 0),
    )
    assert found[world.dibao_spouse.pk] == (("minimum_living", imp.pk, 4),)
