"""Planning help for a filed household, approving it against a budget, four eyes."""

from __future__ import annotations

import pytest

from gonghui.accounts.choices import Role
from gonghui.assistance import planning
from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus
from gonghui.assistance.ledger import balance_of, rebuild
from gonghui.assistance.models import AssistanceLine, LedgerEntry
from gonghui.audit.models import AuditEntry
from gonghui.errors import DomainError, NotAllowed
from tests.aid import YEAR, build_money
from tests.cases import filed, open_file
from tests.factories import Province, user


def test_a_filed_household_gets_a_plan_by_cause(province: Province) -> None:
    build_money(province)
    file = filed(province, size=3, wages="6000", illness="30000")
    lines = planning.propose_plan(province.alice, file, YEAR)
    cash = {(line.kind, line.amount_fen, line.cap_rule) for line in lines if line.cash}
    # Hefei 2026: 低保 680. Illness is the primary cause: 80 % of 30,000 is above 16,000;
    # a deep household then gets 10 months of 680 for 3 people; the child in school is
    # not at a level the policy pays for.
    assert file.category == "deep"
    assert cash == {
        (AidKind.MEDICAL, 16_000_00, "medical_cap"),
        (AidKind.LIVING, 20_400_00, "deep_living_months"),
    }


def test_plans_are_for_filed_households_only(province: Province) -> None:
    build_money(province)
    draft = open_file(province)
    with pytest.raises(DomainError, match="filed"):
        planning.propose_plan(province.alice, draft, YEAR)


def test_approval_commits_the_money_and_the_maker_cannot_approve(province: Province) -> None:
    money = build_money(province, yaohai_yuan=100_000)
    file = filed(province, size=3, wages="6000", illness="10000")
    line = planning.propose_plan(province.alice, file, YEAR)[0]
    line = planning.edit_line(
        province.alice, line, amount_fen=line.amount_fen, fund=money.fund, description=""
    )
    with pytest.raises(NotAllowed):
        planning.approve_line(province.alice, line)
    planning.approve_line(province.rita, line)
    line.refresh_from_db()
    assert line.status == LineStatus.APPROVED and line.budget == money.yaohai_budget
    balance = balance_of(money.yaohai_budget)
    assert (balance.available, balance.committed) == (100_000_00 - line.amount_fen, line.amount_fen)
    assert rebuild(LedgerEntry.objects.filter(budget=money.yaohai_budget)) == balance
    commit = LedgerEntry.objects.get(line=line, kind=LedgerKind.COMMIT)
    assert commit.actor == province.rita
    audit = AuditEntry.objects.get(
        model="assistance.assistanceline", object_id=str(line.pk), changes__status__1="approved"
    )
    assert audit.actor == province.rita and audit.file_id == file.pk
    # Approving again (a double click) changes nothing.
    assert planning.approve_lines(province.rita, [line.pk]).count == 0
    assert LedgerEntry.objects.filter(line=line).count() == 1


def test_amounts_are_kept_within_the_caps(province: Province) -> None:
    money = build_money(province)
    file = filed(province, size=3, wages="6000", illness="10000")
    medical = next(
        line
        for line in planning.propose_plan(province.alice, file, YEAR)
        if line.kind == AidKind.MEDICAL
    )
    with pytest.raises(DomainError, match=r"8,000\.00") as refused:
        planning.edit_line(
            province.alice, medical, amount_fen=8_000_01, fund=money.fund, description=""
        )
    assert refused.value.field == "amount"
    assert AssistanceLine.objects.get(pk=medical.pk).amount_fen == 8_000_00


def test_a_fund_pays_only_its_purposes(province: Province) -> None:
    money = build_money(province)
    file = filed(province, size=3, wages="6000", illness="10000")
    medical = next(
        line
        for line in planning.propose_plan(province.alice, file, YEAR)
        if line.kind == AidKind.MEDICAL
    )
    with pytest.raises(DomainError, match="专款专用") as refused:
        planning.edit_line(
            province.alice, medical, amount_fen=1_00, fund=money.holiday, description=""
        )
    assert refused.value.field == "fund"


def test_large_amounts_need_the_province(province: Province) -> None:
    money = build_money(province)
    money.fund.purposes = [*money.fund.purposes, AidKind.MAJOR_ILLNESS]
    money.fund.save()
    file = filed(province, size=3, wages="6000", illness="40000")
    line = planning.add_line(
        province.alice,
        file,
        planning.LineInput(kind=AidKind.MAJOR_ILLNESS, amount_fen=20_000_01, fund=money.fund),
        YEAR,
    )
    assert line.needs_level == "province" and line.cap_rule == "major_illness_cap"
    for reviewer in (province.rita, province.carl):
        with pytest.raises(NotAllowed, match="level"):
            planning.approve_line(reviewer, line)
    paula = user("paula", Role.REVIEWER, province.anhui)
    planning.approve_line(paula, line)
    assert AssistanceLine.objects.get(pk=line.pk).status == LineStatus.APPROVED


def test_two_approvals_cannot_both_take_the_last_of_a_budget(province: Province) -> None:
    money = build_money(province, yaohai_yuan=10_000)
    lines = []
    for name in ("张伟", "李娜"):
        file = filed(province, size=1, wages="3000", illness="10000", name=name)
        medical = next(
            line
            for line in planning.propose_plan(province.alice, file, YEAR)
            if line.kind == AidKind.MEDICAL
        )
        lines.append(
            planning.edit_line(
                province.alice, medical, amount_fen=6_000_00, fund=money.fund, description=""
            )
        )
    planning.approve_line(province.rita, lines[0])
    with pytest.raises(DomainError, match=r"4,000\.00"):
        planning.approve_line(province.rita, lines[1])
    assert AssistanceLine.objects.get(pk=lines[1].pk).status == LineStatus.PLANNED
    assert balance_of(money.yaohai_budget).available == 4_000_00
