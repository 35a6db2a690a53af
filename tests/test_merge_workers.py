"""Merging a worker registered twice (issue 4, point 4): every record of the duplicate
moves to the survivor, conflicts are settled and recorded, the duplicate stays hidden and
marked, four eyes where money follows, scope, double clicks, and the introspection that
keeps a new foreign key from being forgotten.

张伟强 is registered twice: once by his grassroots union (the survivor, with a household and
an open file) and once by the county federation under a mistyped ID number (the duplicate,
with an old rejected file, a membership, cards, aid, candidates and a place in the same
household)."""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from gonghui.assistance import accounts
from gonghui.assistance.choices import AidKind, TargetKind
from gonghui.assistance.models import AssistanceLine, BankAccount, Campaign, CampaignTarget, Visit
from gonghui.audit.models import AuditEntry
from gonghui.discovery import linking
from gonghui.discovery.choices import CandidateStatus
from gonghui.discovery.models import (
    Candidate,
    LinkDecision,
    LinkReview,
    ScreeningRule,
    ScreeningRun,
)
from gonghui.errors import DomainError, NotAllowed
from gonghui.hardship.choices import EventKind, HardshipCause, IncomeKind
from gonghui.hardship.models import FileEvent, HardshipFile, IncomeLine
from gonghui.people import merge
from gonghui.people.choices import MembershipStatus, Relation
from gonghui.people.merge import merge_workers, plan_merge
from gonghui.people.models import HouseholdMember, Membership, Worker
from gonghui.people.search import search_workers
from tests.aid import build_money
from tests.cases import open_file
from tests.factories import Province, worker
from tests.test_payments import ICBC, card
from tests.web_helpers import logged_in

D = datetime.date
EVIDENCE_1 = {"source": "minimum_living", "import": 1, "row": 2}
EVIDENCE_2 = {"source": "minimum_living", "import": 1, "row": 9}


@dataclass
class Twins:
    survivor: Worker
    duplicate: Worker
    other: Worker  # a namesake, in a pending pair with each of them
    file: HardshipFile  # the survivor's open file (household of three)
    old_file: HardshipFile  # the duplicate's rejected file, same household
    member: HouseholdMember  # the duplicate's row in the survivor's household
    income: IncomeLine  # an income line on that row
    review: LinkReview  # the pair, decided "same person" by Rita
    rules: tuple[ScreeningRule, ScreeningRule]


def membership(who: Worker, org, status: str = MembershipStatus.ACTIVE) -> Membership:
    return Membership.objects.create(
        worker=who, organisation=org, since=D(2015, 3, 1), status=status
    )


def pair_review(p: Province, a: Worker, b: Worker) -> LinkReview:
    return LinkReview.objects.create(
        kind="dedupe",
        worker=a,
        other_worker=b,
        organisation=a.organisation,
        match_probability=0.97,
        match_weight=9.5,
        agreed=["name", "birth_date"],
        levels={"name": "exact"},
        run_key="dedupe",
    )


def candidate(who: Worker, rule: ScreeningRule, run: ScreeningRun, **kw) -> Candidate:
    return Candidate.objects.create(
        worker=who,
        organisation=who.organisation,
        rule=rule,
        rule_version=1,
        found_by=run,
        **kw,
    )


def card_for(p: Province, who: Worker, seed: int) -> BankAccount:
    return accounts.save_bank_account(
        p.alice, who, bank_name=ICBC, account_number=card(seed), holder_name=who.name
    )


def twins(p: Province) -> Twins:
    file = open_file(p, name="张伟强")  # Alice's file: the household of three
    survivor = file.applicant
    Worker.objects.filter(pk=survivor.pk).update(phone="", employer="")
    survivor.refresh_from_db()
    duplicate = worker(p.yaohai, p.yaohai_region, name="张伟强", born=D(1985, 5, 17))
    Worker.objects.filter(pk=duplicate.pk).update(phone="13812345678", employer="合肥某机械厂")
    duplicate.refresh_from_db()
    other = worker(p.yaohai_union, p.yaohai_region, name="张伟", born=D(1985, 5, 17))
    # An older record merged into the duplicate before: it must follow to the survivor.
    older = worker(p.yaohai, p.yaohai_region, name="张伟强")
    Worker.objects.filter(pk=older.pk).update(merged_into=duplicate, merged_at=timezone.now())

    membership(survivor, p.yaohai_union)
    membership(duplicate, p.yaohai_union)  # the same membership registered twice
    membership(duplicate, p.yaohai, MembershipStatus.ENDED)

    member = HouseholdMember.objects.create(
        household=file.household,
        worker=duplicate,
        name=duplicate.name,
        id_number=duplicate.id_number,
        relation=Relation.OTHER,
    )
    income = IncomeLine.objects.create(
        file=file, member=member, kind=IncomeKind.WAGES, amount=Decimal("6000")
    )
    old_file = HardshipFile.objects.create(
        number="340102-2023-0001",
        household=file.household,
        applicant=duplicate,
        organisation=p.yaohai_union,
        status="rejected",
        applied_on=D(2023, 5, 1),
        primary_cause=HardshipCause.MAJOR_ILLNESS,
        created_by=p.alice,
    )
    AssistanceLine.objects.create(
        worker=duplicate,
        organisation=p.yaohai_union,
        year=2023,
        kind=AidKind.MEDICAL,
        amount_fen=80_000,
        created_by=p.alice,
    )
    card_for(p, survivor, 1)
    card_for(p, duplicate, 2)  # put aside by the next one
    card_for(p, duplicate, 3)  # in use: meets the survivor's card in use

    rule_1 = ScreeningRule.objects.create(code="dibao-no-file", name="低保", definition={})
    rule_2 = ScreeningRule.objects.create(code="medical", name="医疗", definition={})
    run = ScreeningRun.objects.create(
        rule=rule_1,
        rule_version=1,
        kind="run",
        organisation=p.anhui,
        created_by=p.adam,
        as_of=D(2025, 6, 15),
    )
    candidate(survivor, rule_1, run, evidence=[EVIDENCE_1])
    candidate(
        duplicate,
        rule_1,
        run,
        evidence=[EVIDENCE_1, EVIDENCE_2],
        status=CandidateStatus.CONTACTED,
    )
    candidate(duplicate, rule_2, run, evidence=[EVIDENCE_2])

    review = pair_review(p, survivor, duplicate)
    linking.decide(p.rita, review, LinkDecision.SAME_PERSON, "电话核实")
    pair_review(p, duplicate, other)  # the same pair as the next one, once merged
    pair_review(p, survivor, other)
    return Twins(
        survivor,
        duplicate,
        other,
        file,
        old_file,
        member,
        income,
        LinkReview.objects.get(pk=review.pk),
        (rule_1, rule_2),
    )


@pytest.fixture
def t(province: Province) -> Twins:
    return twins(province)


def test_every_record_moves_and_conflicts_are_settled(province: Province, t: Twins) -> None:
    s, d = t.survivor, t.duplicate
    result = merge_workers(province.alice, s, d, t.review)
    assert not result.already

    # Files, aid, cards: every one now the survivor's, none lost.
    assert set(HardshipFile.objects.filter(applicant=s).values_list("pk", flat=True)) == {
        t.file.pk,
        t.old_file.pk,
    }
    assert AssistanceLine.objects.get().worker_id == s.pk
    cards = BankAccount.objects.filter(worker=s)
    assert cards.count() == 3
    assert [c.account_number for c in cards.filter(active=True)] == [card(1)]
    # Memberships: the same union's active one dropped, the ended one moved (3 → 2).
    assert Membership.objects.count() == 2
    assert sorted(Membership.objects.filter(worker=s).values_list("organisation", "status")) == [
        (province.yaohai.pk, "ended"),
        (province.yaohai_union.pk, "active"),
    ]
    # The household counted him twice: one row left, its income line on it.
    members = HouseholdMember.objects.filter(household=t.file.household)
    assert members.count() == 3 and members.filter(worker=s).count() == 1
    assert not HouseholdMember.objects.filter(pk=t.member.pk).exists()
    t.income.refresh_from_db()
    assert t.income.member_id == members.get(worker=s).pk
    # ... and the open file is assessed again on the household as it now is.
    assessed = FileEvent.objects.filter(file=t.file, kind=EventKind.ASSESSED)
    assert assessed.filter(data={"part": "household"}).count() == 1
    # Candidates: rule 1 folded (evidence joined, the recorded outcome kept), rule 2 moved
    # into the survivor's union's queue.
    first = Candidate.objects.get(worker=s, rule=t.rules[0])
    assert first.evidence == [EVIDENCE_1, EVIDENCE_2]
    assert first.status == CandidateStatus.CONTACTED
    second = Candidate.objects.get(worker=s, rule=t.rules[1])
    assert second.organisation_id == province.yaohai_union.pk
    assert Candidate.objects.count() == 2
    # Reviews: the decided pair stays as it was; the duplicate's pending pair with the
    # namesake met the survivor's and went.
    review = LinkReview.objects.get(pk=t.review.pk)
    assert (review.worker_id, review.other_worker_id) == (s.pk, d.pk)
    assert list(LinkReview.objects.exclude(pk=review.pk).values_list("worker", "other_worker")) == [
        (s.pk, t.other.pk)
    ]
    # Nothing else points at the duplicate.
    for relation in merge.relations():
        left = relation.model._base_manager.filter(**{relation.name: d.pk})
        if relation.model is LinkReview:
            left = left.exclude(pk=review.pk)
        assert not left.exists(), relation.key
    # The record merged into the duplicate before now names the survivor.
    assert Worker.objects.filter(merged_into=s).count() == 2

    # Fields: what the survivor lacked is filled, what differs stays the survivor's.
    s.refresh_from_db()
    d.refresh_from_db()
    assert (s.phone, s.employer) == ("13812345678", "合肥某机械厂")
    assert s.organisation_id == province.yaohai_union.pk
    assert result.differing["id_number"] == [s.id_number, d.id_number]
    assert result.differing["organisation_id"] == [province.yaohai_union.pk, province.yaohai.pk]
    assert (d.merged_into_id, d.merged_at is not None) == (s.pk, True)
    assert d.id_number != s.id_number  # the duplicate keeps its number: no re-registration


def test_the_merge_is_audited_with_both_records_before(province: Province, t: Twins) -> None:
    s, d = t.survivor, t.duplicate
    merge_workers(province.alice, s, d, t.review)
    summary = AuditEntry.objects.get(
        model="people.worker", object_id=str(s.pk), changes__has_key="merge"
    )
    merged = summary.changes["merge"]
    assert summary.actor == province.alice and summary.org_path == province.yaohai_union.path
    assert merged["before"]["duplicate"]["id_number"] == d.id_number
    assert merged["before"]["duplicate"]["phone"] == "13812345678"
    assert merged["before"]["survivor"]["phone"] == ""
    assert merged["review"] == t.review.pk
    assert merged["moved"] == {
        "people.worker.merged_into": 1,
        "people.membership.worker": 1,
        "people.householdmember.worker": 0,
        "hardship.hardshipfile.applicant": 1,
        "assistance.assistanceline.worker": 1,
        "assistance.bankaccount.worker": 2,
        "discovery.candidate.worker": 1,
        "discovery.linkreview.worker": 0,
    }
    settled = {(o["relation"], o["action"]) for o in merged["settled"]}
    assert settled == {
        ("people.membership.worker", "dropped"),
        ("people.householdmember.worker", "folded"),
        ("assistance.bankaccount.worker", "deactivated"),
        ("discovery.candidate.worker", "folded"),
        ("discovery.linkreview.worker", "dropped"),
    }
    assert merged["filled"] == {"phone": ["", "13812345678"], "employer": ["", "合肥某机械厂"]}
    # The duplicate's history says so too.
    assert AuditEntry.objects.filter(
        model="people.worker", object_id=str(d.pk), changes__has_key="merge"
    ).exists()
    marked = AuditEntry.objects.get(
        model="people.worker",
        object_id=str(d.pk),
        action="update",
        changes__has_key="merged_into_id",
    )
    assert marked.changes["merged_into_id"] == [None, s.pk]
    # Each moved row has its own entry; the file's shows on the file's timeline.
    moved_file = AuditEntry.objects.get(
        model="hardship.hardshipfile", object_id=str(t.old_file.pk), action="update"
    )
    assert moved_file.changes == {"applicant_id": [d.pk, s.pk]}
    assert moved_file.file_id == t.old_file.pk and moved_file.actor == province.alice
    moved_income = AuditEntry.objects.get(
        model="hardship.incomeline", object_id=str(t.income.pk), action="update"
    )
    assert moved_income.file_id == t.file.pk
    # Settled rows: the dropped membership and the folded member row, with what they held.
    gone = AuditEntry.objects.get(
        model="people.householdmember", object_id=str(t.member.pk), action="delete"
    )
    assert gone.changes["id_number"] == [d.id_number, None]


def test_the_duplicate_is_hidden_and_cannot_be_merged_again(province: Province, t: Twins) -> None:
    s, d = t.survivor, t.duplicate
    before = list(search_workers(province.alice, "张伟强").values_list("pk", flat=True))
    assert sorted(before) == sorted([s.pk, d.pk])
    merge_workers(province.alice, s, d, t.review)
    assert list(search_workers(province.alice, "张伟强").values_list("pk", flat=True)) == [s.pk]
    assert not search_workers(province.alice, d.id_number).exists()
    assert not Worker.objects.for_user(province.alice).filter(pk=d.pk).exists()
    assert Worker.objects.for_user(province.alice, merged=True).filter(pk=d.pk).exists()

    entries = AuditEntry.objects.count()
    again = merge_workers(province.alice, s, d, t.review)  # a double click
    assert again.already and AuditEntry.objects.count() == entries
    with pytest.raises(DomainError) as backwards:
        merge_workers(province.alice, d, s)  # the merged record cannot take anything in
    assert backwards.value.field == "survivor"
    with pytest.raises(DomainError) as elsewhere:
        merge_workers(province.alice, t.other, d)
    assert elsewhere.value.field == "duplicate"
    assert AuditEntry.objects.count() == entries


def test_the_merged_number_still_finds_the_person(
    province: Province, t: Twins, client: Any
) -> None:
    s, d = t.survivor, t.duplicate
    merge_workers(province.alice, s, d, t.review)
    assert list(Worker.objects.for_user(province.alice).holding(d.id_number)) == [s]
    assert list(Worker.objects.for_user(province.alice).holding(s.id_number)) == [s]
    # The application page, given the number the duplicate was registered under, offers
    # the application for the person kept instead of "not registered".
    logged_in(client, province.alice)
    page = client.get(reverse("file-new"), {"id_number": d.id_number}).content.decode()
    assert "No worker with this ID number" not in page and s.name in page


def test_who_may_merge(province: Province, t: Twins) -> None:
    s, d = t.survivor, t.duplicate
    with pytest.raises(NotAllowed):
        merge_workers(province.charlie, s, d, t.review)  # Jinghu: not their workers
    with pytest.raises(NotAllowed):
        merge_workers(province.rita, s, d, t.review)  # a reviewer does not edit people
    with pytest.raises(NotAllowed):
        merge_workers(province.leo, s, d, t.review)
    # Money follows the person: without a decided pair, or by the one who decided it, no.
    with pytest.raises(NotAllowed) as no_review:
        merge_workers(province.alice, s, d)
    assert no_review.value.field == "review"
    linking.decide(province.alice, t.review, LinkDecision.SAME_PERSON)
    with pytest.raises(NotAllowed) as same_eyes:
        merge_workers(province.alice, s, d, t.review)
    assert same_eyes.value.field == "review"
    linking.decide(province.alice, t.review, LinkDecision.UNSURE)
    with pytest.raises(DomainError) as unsure:
        merge_workers(province.bob, s, d, t.review)
    assert unsure.value.field == "review"
    d.refresh_from_db()
    assert d.merged_into_id is None and BankAccount.objects.filter(worker=d).count() == 2
    linking.decide(province.rita, t.review, LinkDecision.SAME_PERSON)
    assert merge_workers(province.bob, s, d, t.review).survivor == s  # a second person


def test_without_money_the_decider_merges_without_a_review(province: Province) -> None:
    a = worker(province.yaohai_union, province.yaohai_region, name="王芳")
    b = worker(province.yaohai_union, province.yaohai_region, name="王芳")
    membership(b, province.yaohai_union)
    plan = plan_merge(province.alice, a, b)
    assert not plan.money and plan.counts["people.membership.worker"] == 1
    merge_workers(province.alice, a, b)
    assert Membership.objects.get().worker_id == a.pk
    with pytest.raises(NotAllowed):  # a worker outside one's subtree
        merge_workers(province.alice, a, worker(province.jinghu_union, province.jinghu_region))


def test_two_households_and_two_visits(province: Province) -> None:
    money = build_money(province)
    a = open_file(province, name="李娜").applicant
    b_file = open_file(province, name="李娜")
    b = b_file.applicant
    campaign = Campaign.objects.create(
        name="2026年元旦春节送温暖",
        organisation=province.anhui,
        fund=money.holiday,
        year=2026,
        starts_on=D(2026, 1, 1),
        ends_on=D(2026, 2, 28),
        created_by=province.leo,
    )
    targets = [
        CampaignTarget.objects.create(
            campaign=campaign, kind=TargetKind.OTHER, worker=w, organisation=w.organisation
        )
        for w in (a, b)
    ]
    visit = Visit.objects.create(
        target=targets[1], visited_on=D(2026, 1, 20), visitors="张主席", recorded_by=province.alice
    )
    review = pair_review(province, a, b)
    linking.decide(province.rita, review, LinkDecision.SAME_PERSON)
    merge_workers(province.alice, a, b, review)
    # His row in the other household stays there, unlinked, for a person to settle.
    left = HouseholdMember.objects.get(household=b_file.household, relation=Relation.SELF)
    assert left.worker_id is None and left.name == "李娜"
    assert HouseholdMember.objects.get(worker=a).household_id != b_file.household_id
    # The visit moved to the survivor's target; the duplicate's target went.
    visit.refresh_from_db()
    assert visit.target_id == targets[0].pk
    assert list(CampaignTarget.objects.values_list("worker", flat=True)) == [a.pk]
    assert AuditEntry.objects.filter(
        model="assistance.campaigntarget", object_id=str(targets[1].pk), action="delete"
    ).exists()

    # Two more records, both visited in the campaign: refused, nothing changed.
    c, e = (worker(province.yaohai_union, province.yaohai_region, name="周强") for _ in "ce")
    for w in (c, e):
        target = CampaignTarget.objects.create(
            campaign=campaign, kind=TargetKind.OTHER, worker=w, organisation=w.organisation
        )
        Visit.objects.create(
            target=target, visited_on=D(2026, 1, 21), visitors="张主席", recorded_by=province.bob
        )
    plan = plan_merge(province.alice, c, e)
    assert [o.action for o in plan.blocked] == ["blocked"]
    with pytest.raises(DomainError):
        merge_workers(province.alice, c, e)
    assert CampaignTarget.objects.filter(worker=e).count() == 1
    assert Worker.objects.get(pk=e.pk).merged_into_id is None


def test_default_survivor_prefers_the_record_with_history(province: Province, t: Twins) -> None:
    # Both numbers are valid; the survivor has a file, a household row, a card, a
    # membership and a candidate (5); the duplicate a merged record, two memberships, a
    # household row, a file, an aid line, two cards and two candidates (10): it would stay.
    # Linkage reviews are queue entries, not history.
    held = merge.holdings(t.survivor, t.duplicate)
    assert (merge.history(held[t.survivor.pk]), merge.history(held[t.duplicate.pk])) == (5, 10)
    assert held[t.duplicate.pk]["assistance.bankaccount.worker"] == 2
    assert merge.carries_money(held[t.duplicate.pk])
    assert merge.default_survivor(t.survivor, t.duplicate) == t.duplicate
    bare = worker(province.yaohai_union, province.yaohai_region, name="张伟强")
    assert merge.default_survivor(bare, t.survivor) == t.survivor
    Worker.objects.filter(pk=t.survivor.pk).update(id_number="34010219850517001X")
    t.survivor.refresh_from_db()  # a number whose check digit is wrong loses
    assert merge.default_survivor(bare, t.survivor) == bare


def test_every_relation_to_worker_has_a_merge_rule() -> None:
    """A new foreign key to Worker fails here until people/merge.py says how it merges."""
    keys = {merge.key_of(rel) for rel in merge.worker_relations()}
    assert keys == set(merge.HANDLERS), keys ^ set(merge.HANDLERS)
    for relation in merge.relations():
        if type(relation.handler) is merge.Move:  # moved plainly: nothing may clash
            assert merge.unique_with(relation.model, relation.name) == [], relation.key


def test_the_command_line_merges_and_previews(province: Province, capsys) -> None:
    a = worker(province.yaohai_union, province.yaohai_region, name="王芳")
    b = worker(province.yaohai_union, province.yaohai_region, name="王芳")
    membership(b, province.yaohai_union)
    review = pair_review(province, a, b)
    linking.decide(province.rita, review, LinkDecision.SAME_PERSON)
    call_command("workers", "--as", "alice", "pairs")
    # Both bare; b has the membership: more history, suggested to stay.
    assert f"{review.pk}\t{a.pk} 王芳\t{b.pk} 王芳\tsuggested: merge {a.pk} into {b.pk}" in (
        capsys.readouterr().out
    )
    with pytest.raises(CommandError, match="No worker"):
        call_command("workers", "--as", "charlie", "merge", str(a.pk), str(b.pk))
    call_command("workers", "--as", "alice", "merge", str(a.pk), str(b.pk), "--dry-run")
    out = capsys.readouterr().out
    assert "memberships: 1" in out and Worker.objects.get(pk=b.pk).merged_into_id is None
    call_command("workers", "--as", "alice", "merge", str(a.pk), str(b.pk))
    assert Worker.objects.get(pk=b.pk).merged_into_id == a.pk
    assert "merged into" in capsys.readouterr().out
    entry = AuditEntry.objects.get(
        model="people.worker", object_id=str(a.pk), changes__has_key="merge"
    )
    assert entry.source == "cli"


def _at_once(*calls: tuple[Any, ...]) -> list[str]:
    """Run merge_workers(*args) for each call in its own thread and connection, together."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(*args: Any) -> None:
        barrier.wait()
        try:
            result = merge_workers(*args)
            outcomes.append("already" if result.already else "merged")
        except DomainError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_a_double_click_merges_once(province: Province) -> None:
    t = twins(province)
    s, d = t.survivor, t.duplicate
    call = (province.alice, s, d, t.review)
    assert _at_once(call, (province.bob, s, d, t.review)) == ["already", "merged"]
    assert Worker.objects.get(pk=d.pk).merged_into_id == s.pk
    assert BankAccount.objects.filter(worker=s).count() == 3
    assert AuditEntry.objects.filter(changes__has_key="merge").count() == 2  # one per record


@pytest.mark.django_db(transaction=True)
def test_two_people_merging_the_pair_both_ways_at_once(province: Province) -> None:
    t = twins(province)
    s, d = t.survivor, t.duplicate
    outcomes = _at_once((province.alice, s, d, t.review), (province.bob, d, s, t.review))
    assert outcomes == ["merged", "refused"]
    merged = Worker.objects.for_user(province.alice, merged=True).filter(pk__in=[s.pk, d.pk])
    assert sorted(w.merged_into_id is None for w in merged) == [False, True]
