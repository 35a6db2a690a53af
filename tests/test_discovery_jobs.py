"""Screening runs as background jobs over one pinned snapshot: the run records the snapshot
it read, a refresh (or a rolled-back list) does not change it, a job killed halfway is
started again and ends as it would have, the snapshot reads the database at one moment
while someone else writes, and the command line does the same jobs. The data is the small
hand-built world of ``tests/test_discovery_screening.py``."""

from __future__ import annotations

import datetime
import io
import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from gonghui.discovery import external, jobs, screening, snapshots
from gonghui.discovery.choices import JobStatus, RuleStatus, RunKind
from gonghui.discovery.models import Candidate, ScreeningJob, ScreeningRule, ScreeningRun
from gonghui.people.choices import Relation
from gonghui.people.models import Household, HouseholdMember, Worker
from tests.factories import Province, build_province, user, worker
from tests.test_discovery_screening import AS_OF, ID_SPOUSE, World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs")]


def switch_on(p: Province, *codes: str) -> list[ScreeningRule]:
    found = {r.code: r for r in screening.install_builtin_rules()}
    return [screening.change_rule(p.adam, found[c], status=RuleStatus.ON) for c in codes]


def flagged(rule: ScreeningRule) -> set[int]:
    return set(Candidate.objects.active().filter(rule=rule).values_list("worker_id", flat=True))


def parquet_column(path: Path, column: str) -> set[Any]:
    return {r[0] for r in duckdb.execute(f"SELECT {column} FROM read_parquet('{path}')").fetchall()}


# --- the snapshot a run reads ------------------------------------------------------------------


def test_a_run_reads_and_records_its_snapshot_whatever_changes_after(
    world: World, province: Province
) -> None:
    (rule,) = switch_on(province, "dibao-no-file")
    dibao = world.imports["dibao"]
    pinned = snapshots.take()
    assert pinned.lists["minimum_living"] == [dibao.pk]
    assert pinned.rows["members"] == Worker.objects.count()

    # After the snapshot: the spouse's allowance ends and the 低保 list is rolled back
    # (its file deleted); a second run takes a fresh snapshot meanwhile.
    HouseholdMember.objects.filter(id_number=ID_SPOUSE).delete()
    external.rollback_list_import(province.adam, dibao)
    fresh = snapshots.take()
    assert fresh.id != pinned.id and "minimum_living" not in fresh.lists

    run = screening.run_rule(province.adam, rule, AS_OF, snapshot=pinned)
    assert (run.snapshot, run.list_imports, run.added) == (pinned.id, [dibao.pk], 2)
    assert flagged(rule) == {world.dibao.pk, world.dibao_spouse.pk}
    # The same snapshot gives the same result, however often.
    again = screening.run_rule(province.adam, rule, AS_OF, snapshot=pinned)
    assert (again.added, again.changed, again.dropped) == (0, 0, 0)

    later = screening.run_rule(province.adam, rule, AS_OF, snapshot=fresh)
    assert (later.snapshot, later.list_imports, later.dropped) == (fresh.id, [], 2)
    assert flagged(rule) == set()


def test_a_run_of_its_own_removes_its_snapshot(world: World, province: Province) -> None:
    (rule,) = switch_on(province, "dibao-no-file")
    run = screening.dry_run(province.adam, rule, AS_OF)
    assert run.snapshot and not snapshots.exists(run.snapshot)  # it held ID numbers
    assert list(snapshots.root().iterdir()) == []


def test_the_snapshot_is_written_whole_then_renamed(
    world: World, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = snapshots._write

    def breaks_on_files(con: Any, target: Path, columns: Any, rows: Any) -> int:
        if target.name == "files.parquet":
            raise OSError("disk full")
        return real(con, target, columns, rows)

    monkeypatch.setattr(snapshots, "_write", breaks_on_files)
    with pytest.raises(OSError):
        snapshots.take()
    assert list(snapshots.root().iterdir()) == []  # no half-written snapshot stays


def test_prune_keeps_what_unfinished_jobs_will_read(world: World, province: Province) -> None:
    (rule,) = switch_on(province, "dibao-no-file")
    job = screening.start_job(province.adam, RunKind.RUN, rule, AS_OF)
    kept = snapshots.take()
    job.snapshot = kept.id
    job.save()
    leftover = snapshots.take()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    assert snapshots.prune(now=later) == [leftover.id]
    assert snapshots.exists(kept.id)
    job.status = JobStatus.DONE
    job.save()
    assert snapshots.prune(now=later) == [kept.id]


# --- jobs ------------------------------------------------------------------------------------


def test_a_job_killed_halfway_is_started_again_with_the_same_result(
    world: World, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    dibao, unemployed = switch_on(province, "dibao-no-file", "unemployed-children-in-school")
    job = screening.start_job(province.adam, RunKind.RUN, None, AS_OF)
    real = screening._job_rule

    def killed_at_the_second_rule(job: Any, rule: ScreeningRule, snap: Any) -> None:
        if rule == unemployed:
            raise KeyboardInterrupt
        real(job, rule, snap)

    monkeypatch.setattr(screening, "_job_rule", killed_at_the_second_rule)
    with pytest.raises(KeyboardInterrupt):
        screening.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Start it again" in job.error
    assert job.rule_ids == [dibao.pk, unemployed.pk]
    assert snapshots.exists(job.snapshot) and job.progress_done == 2
    assert flagged(dibao) == {world.dibao.pk, world.dibao_spouse.pk}
    assert flagged(unemployed) == set()
    first_snapshot = job.snapshot

    # Meanwhile the child leaves school and someone takes a fresh snapshot; the resumed
    # job still reads the snapshot it began with.
    HouseholdMember.objects.filter(relation=Relation.CHILD).update(schooling="none")
    snapshots.take()
    monkeypatch.setattr(screening, "_job_rule", real)
    done = screening.run_job(job.pk)
    assert (done.status, done.snapshot, done.percent) == (JobStatus.DONE, first_snapshot, 100)
    assert flagged(unemployed) == {world.jobless.pk}
    assert flagged(dibao) == {world.dibao.pk, world.dibao_spouse.pk}
    runs = ScreeningRun.objects.filter(job=job)
    assert sorted(runs.values_list("rule__code", "added")) == [
        ("dibao-no-file", 2), ("unemployed-children-in-school", 1),
    ]  # fmt: skip
    assert set(runs.values_list("snapshot", flat=True)) == {first_snapshot}
    assert not snapshots.exists(first_snapshot)
    # Done is done.
    assert screening.run_job(job.pk).status == JobStatus.DONE
    assert runs.count() == 2


def test_a_run_job_leaves_out_a_rule_switched_off_meanwhile(
    world: World, province: Province
) -> None:
    dibao, medical = switch_on(province, "dibao-no-file", "medical-out-of-pocket")
    job = screening.start_job(province.adam, RunKind.RUN, None, AS_OF)
    screening.change_rule(province.adam, medical, status=RuleStatus.OFF)
    screening.run_job(job.pk)
    assert list(ScreeningRun.objects.filter(job=job).values_list("rule", flat=True)) == [dibao.pk]
    assert Candidate.objects.filter(rule=medical).count() == 0


def test_a_refused_job_fails_with_the_message(world: World, province: Province) -> None:
    (rule,) = switch_on(province, "dibao-no-file")
    job = screening.start_job(province.adam, RunKind.RUN, rule, AS_OF)
    screening.change_rule(province.adam, rule, status=RuleStatus.OFF)
    done = jobs.run(jobs.SCREEN, job.pk)
    assert done.status == JobStatus.FAILED and "not switched on" in done.error
    with pytest.raises(screening.Conflict):
        screening.start_job(province.adam, RunKind.RUN, None, AS_OF)  # nothing is on


# --- one moment of the database ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_snapshot_reads_one_moment_while_another_process_registers_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker and their household registered (and committed, by another connection)
    after the snapshot read ``members`` appear in none of its tables: without one read
    transaction ``household_members`` would hold a worker ``members`` does not."""
    p = build_province()
    worker(p.yaohai_union, p.yaohai_region, name="老职工")
    registered: list[int] = []

    def register() -> None:
        try:
            newcomer = worker(p.yaohai_union, p.yaohai_region, name="新职工")
            home = Household.objects.create(organisation=p.yaohai_union, region=p.yaohai_region)
            HouseholdMember.objects.create(
                household=home, worker=newcomer, name=newcomer.name,
                id_number=newcomer.id_number, relation=Relation.SELF,
            )  # fmt: skip
            registered.append(newcomer.pk)
        finally:
            connections.close_all()

    real = snapshots._write

    def write(con: Any, target: Path, columns: Any, rows: Any) -> int:
        count = real(con, target, columns, rows)
        if target.name == "members.parquet":
            thread = threading.Thread(target=register)
            thread.start()
            thread.join()
        return count

    monkeypatch.setattr(snapshots, "_write", write)
    snap = snapshots.take()
    (newcomer,) = registered
    assert Worker.objects.filter(pk=newcomer).exists()  # the writer was not blocked
    assert newcomer not in parquet_column(snap.path / "members.parquet", "worker_id")
    assert newcomer not in parquet_column(snap.path / "household_members.parquet", "worker_id")
    assert snap.rows["members"] == 1


# --- the command line -----------------------------------------------------------------------


def screen(*args: str) -> str:
    out = io.StringIO()
    call_command("screen", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_line_does_the_same_jobs(world: World, province: Province) -> None:
    screening.install_builtin_rules()
    assert "dibao-no-file  v1  Draft" in screen("--as", "adam", "rules")
    assert "dibao-no-file: On" in screen("--as", "adam", "switch", "dibao-no-file", "on")

    county = user("yadmin", "admin", province.yaohai)
    with pytest.raises(CommandError, match="Only an administrator of the province"):
        screen("--as", "yadmin", "run", "dibao-no-file")
    with pytest.raises(CommandError, match="province-wide policy"):
        screen("--as", "yadmin", "switch", "dibao-no-file", "off")
    shown = screen("--as", county.username, "dry-run", "dibao-no-file", "--as-of", "2025-06-15")
    assert "found 1, add 1, drop 0, change 0" in shown  # only the county's subtree
    assert f"{province.yaohai_union.name}: +1 -0 ~0 =0" in shown

    shown = screen("--as", "adam", "run", "--all", "--as-of", AS_OF.isoformat())
    job = ScreeningJob.objects.filter(kind=RunKind.RUN).get()
    assert f"Screening job {job.pk} (Run, every switched-on rule, as of 2025-06-15): Done" in (
        shown
    )
    assert "dibao-no-file v1: found 2, add 2, drop 0, change 0" in shown
    assert Candidate.objects.count() == 2
    assert job.created_by == province.adam and job.status == JobStatus.DONE
    marker = jobs.marker(job.work_dir)
    assert marker is not None and marker["pid"] == os.getpid()

    with pytest.raises(CommandError, match="Name one rule"):
        screen("--as", "adam", "dry-run")
    with pytest.raises(CommandError, match="No screening job"):
        screen("--as", "yadmin", "show", str(job.pk))
    assert "add 2" in screen("--as", "adam", "show", str(job.pk))


def test_the_command_line_resumes_a_failed_job(
    world: World, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    (rule,) = switch_on(province, "dibao-no-file")
    real = screening._job_rule

    def fails(job: Any, found: ScreeningRule, snap: Any) -> None:
        raise screening.DomainError("the engine is away")

    monkeypatch.setattr(screening, "_job_rule", fails)
    with pytest.raises(CommandError, match="the engine is away"):
        screen("--as", "adam", "run", "dibao-no-file", "--as-of", AS_OF.isoformat())
    job = ScreeningJob.objects.get()
    assert job.status == JobStatus.FAILED and Candidate.objects.count() == 0
    monkeypatch.setattr(screening, "_job_rule", real)
    assert ": Done" in screen("--as", "adam", "resume", str(job.pk))
    assert flagged(rule) == {world.dibao.pk, world.dibao_spouse.pk}
    assert jobs.command(job.pk, "adam", jobs.SCREEN)[1:] == [
        "-m", "gonghui", "screen", "--as", "adam", "resume", str(job.pk),
    ]  # fmt: skip
