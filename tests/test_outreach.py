"""The outreach services (issue 4, points 5 and 6): the worklist with its evidence in
words, recording outcomes (audited, a reason for "not eligible"), a file opened turning a
candidate filed, precision per rule and coverage per organisation, all with numbers worked
out by hand, and scope."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from gonghui.audit.models import AuditEntry
from gonghui.discovery import outreach, screening
from gonghui.discovery.choices import CandidateStatus, RuleStatus, SourceKind
from gonghui.discovery.models import Candidate, ScreeningRule, ScreeningRun
from gonghui.errors import DomainError, NotAllowed
from gonghui.hardship import services
from gonghui.hardship.choices import HardshipCause
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.models import Organisation
from gonghui.people.choices import MembershipStatus
from gonghui.people.models import Membership, Worker
from tests.factories import Province, household, worker
from tests.test_discovery_screening import AS_OF, World, builtin_rule

NEW, CONTACTED, FILED = CandidateStatus.NEW, CandidateStatus.CONTACTED, CandidateStatus.FILED
NOT_ELIGIBLE, UNREACHABLE = CandidateStatus.NOT_ELIGIBLE, CandidateStatus.UNREACHABLE


@pytest.fixture
def rule_and_run(province: Province) -> tuple[ScreeningRule, ScreeningRun]:
    """The 低保 rule and a (dry) run of it, made by the screening services."""
    rule = builtin_rule("dibao-no-file")
    return rule, screening.dry_run(province.adam, rule, AS_OF)


def flag(
    run: ScreeningRun,
    who: Worker,
    status: str = NEW,
    *,
    version: int = 1,
    reason: str = "",
    dropped: bool = False,
    rule: ScreeningRule | None = None,
) -> Candidate:
    return Candidate.objects.create(
        worker=who,
        organisation=who.organisation,
        rule=rule or run.rule,
        rule_version=version,
        evidence=[],
        status=status,
        reason=reason,
        found_by=run,
        dropped_at=timezone.now() if dropped else None,
    )


def open_for(p: Province, who: Worker) -> HardshipFile:
    """Alice opens a file for ``who`` (a new household headed by them)."""
    home = household(who.organisation, p.yaohai_region, who, size=2)
    return services.open_application(
        p.alice,
        services.Application(
            household=home,
            applicant=who,
            primary_cause=HardshipCause.MAJOR_ILLNESS,
            applied_on=datetime.date(2025, 6, 1),
            income_pledge=True,
            finance_check_authorised=True,
        ),
    )


# --- the worklist and its evidence --------------------------------------------------------


def test_the_worklist_shows_what_the_rules_found_with_the_list_rows_in_words(
    province: Province, world: World
) -> None:
    rule = builtin_rule("dibao-no-file")
    rule = screening.change_rule(province.adam, rule, status=RuleStatus.ON)
    screening.run_rule(province.adam, rule, AS_OF)

    # Alice (Yaohai) sees the Yaohai worker only; the Wuhu spouse is Charlie's.
    mine = list(outreach.worklist(province.alice))
    assert [c.worker for c in mine] == [world.dibao]
    assert [c.worker for c in outreach.worklist(province.charlie)] == [world.dibao_spouse]
    assert len(outreach.worklist(province.adam)) == 2

    with translation.override("en"):
        lines = outreach.evidence_in_words(mine)[mine[0].pk]
        kind = str(SourceKind.MINIMUM_LIVING.label)
    assert len(lines) == 1
    line = lines[0]
    assert line.source == kind == "Minimum-living-allowance recipients"
    dibao = world.imports["dibao"]
    assert (line.import_id, line.row) == (dibao.pk, 2)
    assert line.provenance == "合肥市民政局, 2025-01-01 to 2025-06-30, dibao.csv"
    shown = dict(line.fields)
    assert shown["name"] == "低保甲"
    assert shown["allowance (yuan per month)"] == "680.00"
    assert shown["from"] == "2025-01-01"
    # A list shows ID numbers masked; the candidate's page may reveal them.
    assert shown["ID number"] != world.dibao.id_number
    assert shown["ID number"][:6] == world.dibao.id_number[:6]
    with translation.override("en"):
        revealed = outreach.evidence_in_words(mine, reveal=True)[mine[0].pk][0]
    assert dict(revealed.fields)["ID number"] == world.dibao.id_number


def test_worklist_filters_newest_first_and_without_dropped(
    province: Province, rule_and_run: tuple[ScreeningRule, ScreeningRun]
) -> None:
    rule, run = rule_and_run
    y = (province.yaohai_union, province.yaohai_region)
    first = flag(run, worker(*y, name="甲"))
    second = flag(run, worker(*y, name="乙"), CONTACTED)
    flag(run, worker(*y, name="丙"), dropped=True)
    other_rule = ScreeningRule.objects.get(code="medical-out-of-pocket")
    third = flag(run, worker(*y, name="丁"), rule=other_rule)
    assert list(outreach.worklist(province.alice)) == [third, second, first]
    assert list(outreach.worklist(province.alice, rule=rule)) == [second, first]
    assert list(outreach.worklist(province.alice, status=CONTACTED)) == [second]
    with pytest.raises(DomainError) as refused:
        outreach.worklist(province.alice, status="maybe")
    assert refused.value.field == "status"
    with pytest.raises(NotAllowed):
        outreach.worklist(province.leo)  # a leader reads the figures, not the queue


# --- outcomes ------------------------------------------------------------------------------


def test_outcomes_are_checked_and_audited(
    province: Province, rule_and_run: tuple[ScreeningRule, ScreeningRun]
) -> None:
    _rule, run = rule_and_run
    candidate = flag(run, worker(province.yaohai_union, province.yaohai_region))

    with pytest.raises(DomainError) as refused:
        outreach.record_outcome(province.alice, candidate, NOT_ELIGIBLE, "   ")
    assert refused.value.field == "reason"
    with pytest.raises(DomainError) as refused:
        outreach.record_outcome(province.alice, candidate, FILED)
    assert refused.value.field == "status"  # no file yet
    with pytest.raises(DomainError) as refused:
        outreach.record_outcome(province.alice, candidate, NEW)
    assert refused.value.field == "status"
    with pytest.raises(NotAllowed):
        outreach.record_outcome(province.charlie, candidate, CONTACTED)  # Wuhu
    candidate.refresh_from_db()
    assert (candidate.status, candidate.reason) == (NEW, "")

    outreach.record_outcome(province.rita, candidate, NOT_ELIGIBLE, "家有两套房")
    candidate.refresh_from_db()
    assert (candidate.status, candidate.reason) == (NOT_ELIGIBLE, "家有两套房")
    entry = AuditEntry.objects.filter(model="discovery.candidate", object_id=str(candidate.pk))
    last = entry.latest("pk")
    assert last.actor == province.rita
    assert last.changes["status"] == [NEW, NOT_ELIGIBLE]
    assert last.changes["reason"] == ["", "家有两套房"]

    gone = flag(run, worker(province.yaohai_union, province.yaohai_region), dropped=True)
    with pytest.raises(DomainError):
        outreach.record_outcome(province.alice, gone, CONTACTED)


def test_opening_a_file_makes_the_workers_candidates_filed(
    province: Province, rule_and_run: tuple[ScreeningRule, ScreeningRun]
) -> None:
    _rule, run = rule_and_run
    medical = ScreeningRule.objects.get(code="medical-out-of-pocket")
    who = worker(province.yaohai_union, province.yaohai_region)
    contacted = flag(run, who, CONTACTED)
    decided = flag(run, who, NOT_ELIGIBLE, reason="收入超标", rule=medical)
    someone_else = flag(run, worker(province.yaohai_union, province.yaohai_region))

    file = open_for(province, who)  # opening the application marks the candidate filed
    assert outreach.file_opened(province.alice, file) == 0  # already done: nothing left
    contacted.refresh_from_db()
    decided.refresh_from_db()
    someone_else.refresh_from_db()
    assert contacted.status == FILED and file.number in contacted.reason
    assert decided.status == NOT_ELIGIBLE  # a decision stays
    assert someone_else.status == NEW
    # The worklist shows the file; recording "filed" now passes.
    listed = {c.pk: c for c in outreach.worklist(province.alice)}
    assert listed[decided.pk].file_pk == file.pk
    assert listed[decided.pk].file_number == file.number
    assert listed[someone_else.pk].file_pk is None
    outreach.record_outcome(province.alice, decided, FILED)
    decided.refresh_from_db()
    assert decided.status == FILED


# --- precision per rule --------------------------------------------------------------------


def test_precision_per_rule_and_version(
    province: Province,
    rule_and_run: tuple[ScreeningRule, ScreeningRun],
    django_assert_num_queries: object,
) -> None:
    _rule, run = rule_and_run
    y = (province.yaohai_union, province.yaohai_region)
    j = (province.jinghu_union, province.jinghu_region)
    # dibao-no-file v1 in Yaohai: 2 filed (one of them dropped since), 1 not eligible,
    # 1 unreachable, 1 contacted, 1 new  → precision 2 / (2 + 1) = 66.7 %.
    for status in (FILED, NOT_ELIGIBLE, UNREACHABLE, CONTACTED, NEW):
        flag(run, worker(*y), status, reason="x" if status == NOT_ELIGIBLE else "")
    flag(run, worker(*y), FILED, dropped=True)
    # dibao-no-file v2 in Yaohai: 1 filed, 3 not eligible → 25.0 %.
    flag(run, worker(*y), FILED, version=2)
    for _n in range(3):
        flag(run, worker(*y), NOT_ELIGIBLE, version=2, reason="x")
    # Wuhu: 1 filed of v1, which only the province sees.
    flag(run, worker(*j), FILED)
    # Another rule with no decision yet: no precision.
    flag(run, worker(*y), CONTACTED, rule=ScreeningRule.objects.get(code="medical-out-of-pocket"))

    with django_assert_num_queries(1):  # type: ignore[operator]
        rows = outreach.precision(province.alice)
    table = {
        (r.code, r.version): (
            r.candidates, r.contacted, r.filed, r.not_eligible, r.unreachable, r.dropped,
            r.precision,
        )
        for r in rows
    }  # fmt: skip
    assert table == {
        ("dibao-no-file", 1): (6, 1, 2, 1, 1, 1, Decimal("66.7")),
        ("dibao-no-file", 2): (4, 0, 1, 3, 0, 0, 25),
        ("medical-out-of-pocket", 1): (1, 1, 0, 0, 0, 0, None),
    }
    province_rows = {(r.code, r.version): r for r in outreach.precision(province.adam)}
    assert province_rows["dibao-no-file", 1].filed == 3
    assert str(province_rows["dibao-no-file", 1].precision) == "75.0"  # 3 / (3 + 1)


# --- coverage ------------------------------------------------------------------------------


def member(org: Organisation, p: Province, status: str = MembershipStatus.ACTIVE) -> Worker:
    w = worker(org, p.yaohai_region)
    Membership.objects.create(
        worker=w, organisation=org, since=datetime.date(2020, 1, 1), status=status
    )
    return w


def test_coverage_per_organisation_one_level_down(
    province: Province,
    rule_and_run: tuple[ScreeningRule, ScreeningRun],
    django_assert_num_queries: object,
) -> None:
    _rule, run = rule_and_run
    p = province
    medical = ScreeningRule.objects.get(code="medical-out-of-pocket")
    # Yaohai's grassroots union: 4 active members and 1 ended; 3 of them flagged (one by
    # two rules: one worker), of whom 2 reached (contacted; not eligible), 1 unreachable.
    a, b, c, _d = (member(p.yaohai_union, p) for _n in range(4))
    member(p.yaohai_union, p, MembershipStatus.ENDED)
    flag(run, a, CONTACTED)
    flag(run, a, NEW, rule=medical)
    flag(run, b, NOT_ELIGIBLE, reason="x")
    flag(run, c, UNREACHABLE)
    flag(run, member(p.yaohai_union, p), dropped=True)  # a fifth member, no longer flagged
    # Yaohai county itself: 1 member, flagged and filed.
    at_county = member(p.yaohai, p)
    flag(run, at_county, FILED)
    # Files: 2 filed and 1 rejected under the grassroots union, 1 filed in Jinghu.
    files = [open_for(p, worker(p.yaohai_union, p.yaohai_region)) for _n in range(3)]
    HardshipFile.objects.filter(pk__in=[f.pk for f in files[:2]]).update(status="filed")
    HardshipFile.objects.filter(pk=files[2].pk).update(status="rejected")
    # Wuhu: 2 members, 1 candidate, 1 filed file.
    jinghu_member = member(p.jinghu_union, p)
    member(p.jinghu_union, p)
    flag(run, jinghu_member, CONTACTED)
    outside = open_for(p, worker(p.yaohai_union, p.yaohai_region))
    HardshipFile.objects.filter(pk=outside.pk).update(status="filed", organisation=p.jinghu_union)

    def figures(rows: list[outreach.CoverageRow]) -> list[tuple]:
        return [
            (
                r.organisation.name if r.organisation else "total", r.own,
                r.members, r.candidates, r.contacted, r.filed, r.rejected,
            )
            for r in rows
        ]  # fmt: skip

    with django_assert_num_queries(4):  # type: ignore[operator]
        alice_rows = outreach.coverage(p.alice)
    assert figures(alice_rows) == [
        ("瑶海区总工会", True, 1, 1, 1, 0, 0),
        ("合肥某机械厂工会", False, 5, 3, 2, 2, 1),
        ("total", False, 6, 4, 3, 2, 1),
    ]
    # The province, one level down: Hefei and Wuhu; then drill down into Wuhu.
    assert figures(outreach.coverage(p.adam)) == [
        ("合肥市总工会", False, 6, 4, 3, 2, 1),
        ("芜湖市总工会", False, 2, 1, 1, 1, 0),
        ("total", False, 8, 5, 4, 3, 1),
    ]
    assert figures(outreach.coverage(p.adam, p.jinghu)) == [
        ("芜湖某纺织厂工会", False, 2, 1, 1, 1, 0),
        ("total", False, 2, 1, 1, 1, 0),
    ]
    assert alice_rows[-1].candidate_share is not None
    assert str(alice_rows[-1].candidate_share) == "66.7"  # 4 of 6 members flagged
    # A county user reaches only their subtree; a leader sees the figures too.
    with pytest.raises(NotAllowed):
        outreach.coverage(p.alice, p.jinghu)
    assert figures(outreach.coverage(p.leo))[-1] == ("total", False, 8, 5, 4, 3, 1)
