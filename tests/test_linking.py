"""Fuzzy linkage into the database (issue 4, point 4): a list imported through the real
services, linked to the registry by :mod:`gonghui.discovery.linking`; links, the review
queue, decisions, re-runs and scope.

Five hand-made workers stand for a province (``population``), as in
``tests/test_discovery_linkage.py``: with the prior of five people, any namesake would link.
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from pathlib import Path

import pytest

from gonghui.accounts.choices import Role
from gonghui.audit.models import AuditEntry
from gonghui.discovery import external, linkage, linking
from gonghui.discovery.choices import SourceKind
from gonghui.discovery.models import LinkDecision, LinkReview, ListImport, ListRowLink
from gonghui.errors import DomainError, NotAllowed
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import Worker
from tests.factories import Province, user

D = datetime.date
POPULATION = 1_000_000
PERIOD = (D(2025, 1, 1), D(2025, 6, 30))


@dataclass
class World:
    p: Province
    imp: ListImport
    workers: dict[str, Worker]


def make_worker(p: Province, name: str, birth: D, seq: int, phone: str, jinghu: bool = False):
    region = p.jinghu_region if jinghu else p.yaohai_region
    return Worker.objects.create(
        id_number=make_id_number(region.code, birth, seq),
        name=name,
        phone=phone,
        region=region,
        organisation=p.jinghu_union if jinghu else p.yaohai_union,
    )


def registry(p: Province) -> dict[str, Worker]:
    return {
        "zhang": make_worker(p, "张伟强", D(1985, 3, 12), 11, "13800000001"),
        "wang": make_worker(p, "王芳", D(1990, 7, 5), 22, "13900000002"),
        "li": make_worker(p, "李明", D(1982, 4, 9), 33, "13600000004", jinghu=True),
        "zhao": make_worker(p, "赵丽", D(1988, 2, 14), 44, "13400000006"),
        "liu": make_worker(p, "刘洋", D(1995, 6, 18), 55, "13500000005", jinghu=True),
    }


def mistyped(number: str) -> str:
    """One digit of the body wrong: the check digit no longer fits."""
    digit = "7" if number[15] != "7" else "8"
    return number[:15] + digit + number[16:]


def write_list(path: Path, w: dict[str, Worker]) -> Path:
    rows = [
        # row 2: a mistyped ID number, the name in traditional characters.
        ["張偉強", mistyped(w["zhang"].id_number), "", "", ""],
        # row 3: no ID number; a homophone surname (汪 for 王), phone and county agree.
        ["汪芳", "", "1990-07-05", "13900000002", "340102"],
        # row 4: no ID number; day and month swapped (a Jinghu worker).
        ["李明", "", "1982-09-04", "13600000004", "340202"],
        # row 5: a namesake born the same day, another city, another phone: for review.
        ["赵丽", "", "1988-02-14", "13011112222", "340202"],
        # row 6: not in the registry at all.
        ["吴敏", "", "1999-09-09", "18800000107", "340102"],
        # row 7: a valid ID number of a worker: linked by the number, not by the engine.
        ["刘洋", w["liu"].id_number, "", "13500000005", ""],
    ]
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["姓名", "身份证号", "出生日期", "联系电话", "行政区划代码"])
        writer.writerows(rows)
    return path


def import_list(by, path: Path) -> ListImport:
    source = external.list_source(by, "民政低保名单", SourceKind.MINIMUM_LIVING, create=True)
    imp = external.start_list_import(by, source, path, *PERIOD, agency="合肥市民政局")
    return external.run_list_import(imp.pk)


@pytest.fixture
def world(province: Province, tmp_path: Path) -> World:
    workers = registry(province)
    imp = import_list(province.adam, write_list(tmp_path / "dibao.csv", workers))
    assert imp.status == "done" and imp.rows_loaded == 6
    return World(province, imp, workers)


def links(imp: ListImport) -> dict[int, tuple[int, str]]:
    return {
        row_no: (worker_id, method)
        for row_no, worker_id, method in ListRowLink.objects.filter(list_import=imp).values_list(
            "row_no", "worker_id", "method"
        )
    }


def run(who, imp: ListImport) -> linking.RunReport:
    return linking.run_linkage(who, imp, population=POPULATION, seed=7)


def test_links_and_reviews_land_in_the_database(world: World) -> None:
    w, imp = world.workers, world.imp
    report = run(world.p.adam, imp)
    assert (report.registry_rows, report.compared_rows) == (5, 5)  # row 7 linked by number
    assert links(imp) == {
        2: (w["zhang"].pk, "auto"),
        3: (w["wang"].pk, "auto"),
        4: (w["li"].pk, "auto"),
    }
    assert report.links == 3
    review = LinkReview.objects.get()
    assert (review.kind, review.row_no, review.worker_id) == ("link", 5, w["zhao"].pk)
    assert review.organisation_id == world.p.yaohai_union.pk  # the worker's union
    assert review.decision == "pending" and review.run_key == report.run_key
    assert linkage.Thresholds().review <= review.match_probability < linkage.Thresholds().link
    assert set(review.agreed) >= {"name", "birth_date"} and "phone" not in review.agreed
    assert review.levels["name"] == "exact" and review.levels["region"] == "different"
    assert review.levels["phone"] == "different"
    link = ListRowLink.objects.get(row_no=3)
    assert link.probability >= linkage.Thresholds().link
    entry = AuditEntry.objects.get(model="discovery.linkreview", actor=world.p.adam)
    assert entry.changes["links"] == 3 and entry.changes["reviews"] == 1
    assert entry.changes["list_import"] == imp.pk
    # The registry's names and phones are not left beside the database.
    assert not (linking.linkage_dir(imp) / "registry.parquet").exists()
    assert (linking.linkage_dir(imp) / "model.json").exists()


def test_rerun_replaces_pending_and_keeps_decisions(world: World) -> None:
    p, w, imp = world.p, world.workers, world.imp
    first = run(p.adam, imp)
    pending, linked = LinkReview.objects.get(), links(imp)
    again = run(p.adam, imp)
    assert again.run_key == first.run_key  # same inputs, same key
    assert again.replaced_reviews == 1 and again.replaced_links == 3
    assert LinkReview.objects.count() == 1 and LinkReview.objects.get().pk != pending.pk
    assert links(imp) == linked
    review = LinkReview.objects.get()
    linking.decide(p.rita, review, LinkDecision.SAME_PERSON, "电话核实为同一人")
    assert links(imp)[5] == (w["zhao"].pk, "reviewed")
    third = run(p.adam, imp)
    assert third.kept_decided == 1 and third.reviews == 0
    kept = LinkReview.objects.get()
    assert (kept.pk, kept.decision, kept.note) == (review.pk, "same_person", "电话核实为同一人")
    assert links(imp)[5] == (w["zhao"].pk, "reviewed")
    assert len(links(imp)) == 4
    assert AuditEntry.objects.filter(model="discovery.linkreview", actor=p.adam).count() == 3


def test_decisions_link_unlink_and_label(world: World) -> None:
    p, w, imp = world.p, world.workers, world.imp
    run(p.adam, imp)
    review = LinkReview.objects.get()
    with pytest.raises(DomainError) as bad:
        linking.decide(p.rita, review, "maybe")
    assert bad.value.field == "decision"
    with pytest.raises(NotAllowed):
        linking.decide(p.leo, review, LinkDecision.SAME_PERSON)  # a leader does not decide
    with pytest.raises(NotAllowed):
        linking.decide(p.charlie, review, LinkDecision.SAME_PERSON)  # Jinghu: not in scope
    assert LinkReview.objects.get().decision == "pending"
    decided = linking.decide(p.alice, review, LinkDecision.SAME_PERSON)
    assert decided.decided_by == p.alice and decided.decided_at is not None
    link = ListRowLink.objects.get(row_no=5)
    assert (link.worker_id, link.method) == (w["zhao"].pk, "reviewed")
    assert linking.labels_for(imp) == [
        {
            "unique_id_l": w["zhao"].pk,
            "source_dataset_l": "registry",
            "unique_id_r": 5,
            "source_dataset_r": "records",
            "clerical_match_score": 1.0,
        }
    ]
    linking.decide(p.rita, review, LinkDecision.DIFFERENT_PEOPLE, "身份证核对不一致")
    assert not ListRowLink.objects.filter(row_no=5).exists()
    assert linking.labels_for(imp)[0]["clerical_match_score"] == 0.0
    entries = AuditEntry.objects.filter(model="discovery.linkreview", object_id=str(review.pk))
    assert entries.count() == 2  # each decision
    assert AuditEntry.objects.filter(model="discovery.listrowlink").count() == 2  # link, unlink
    linking.decide(p.rita, review, LinkDecision.UNSURE)
    assert linking.labels_for(imp) == []


def test_only_an_administrator_runs_and_only_finished_lists(world: World) -> None:
    with pytest.raises(NotAllowed):
        run(world.p.alice, world.imp)
    ListImport.objects.filter(pk=world.imp.pk).update(status="running")
    world.imp.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        run(world.p.adam, world.imp)
    assert refused.value.field == "list_import"
    assert not ListRowLink.objects.exists() and not LinkReview.objects.exists()


def test_a_county_links_against_its_subtree_only(province: Province, tmp_path: Path) -> None:
    workers = registry(province)
    county_admin = user("yaohai_admin", Role.ADMIN, province.yaohai)
    imp = import_list(county_admin, write_list(tmp_path / "dibao.csv", workers))
    with pytest.raises(NotAllowed):
        run(user("wuhu_admin", Role.ADMIN, province.jinghu), imp)  # another county's list
    report = run(county_admin, imp)
    assert report.registry_rows == 3  # the Yaohai workers
    # 李明 (row 4) is a Jinghu worker: not in this registry, so not linked.
    assert set(links(imp)) == {2, 3}
    assert list(LinkReview.objects.for_user(province.rita).values_list("row_no", flat=True)) == [5]
    assert not LinkReview.objects.for_user(province.charlie).exists()


def test_dedupe_queues_a_worker_registered_twice(province: Province) -> None:
    w = registry(province)
    twin = make_worker(province, "张伟强", D(1985, 3, 12), 17, "13800000001")
    report = linking.run_dedupe(province.adam, population=POPULATION, seed=7)
    pair = LinkReview.objects.get(kind="dedupe")
    assert (pair.worker_id, pair.other_worker_id) == (w["zhang"].pk, twin.pk)
    assert pair.list_import is None and pair.row_no is None
    assert report.reviews == 1
    linking.decide(province.rita, pair, LinkDecision.SAME_PERSON)
    again = linking.run_dedupe(province.adam, population=POPULATION, seed=7)
    assert again.kept_decided == 1 and again.reviews == 0
    assert LinkReview.objects.get(kind="dedupe").decision == "same_person"


def test_a_merged_pair_leaves_the_registry_and_its_decision_stands(province: Province) -> None:
    from gonghui.people.merge import merge_workers

    w = registry(province)
    twin = make_worker(province, "张伟强", D(1985, 3, 12), 17, "13800000001")
    linking.run_dedupe(province.adam, population=POPULATION, seed=7)
    pair = LinkReview.objects.get(kind="dedupe")
    assert not linking.to_merge(province.alice).exists()  # not decided yet
    linking.decide(province.rita, pair, LinkDecision.SAME_PERSON)
    assert list(linking.to_merge(province.alice)) == [pair]
    assert not linking.to_merge(province.charlie).exists()  # Jinghu: not their pair
    merge_workers(province.alice, w["zhang"], twin, pair)
    assert not linking.to_merge(province.alice).exists()
    with pytest.raises(DomainError) as settled:
        linking.decide(province.rita, pair, LinkDecision.DIFFERENT_PEOPLE)
    assert settled.value.field == "decision"
    again = linking.run_dedupe(province.adam, population=POPULATION, seed=7)
    assert again.registry_rows == 5  # the merged record is not compared again
    assert again.reviews == 0 and again.kept_decided == 1
    assert LinkReview.objects.get(kind="dedupe").decision == "same_person"
