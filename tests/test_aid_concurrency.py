"""Two reviewers approve two different lines at the same moment against the last of a
budget: exactly one succeeds. Real threads and real database connections, on SQLite and on
PostgreSQL alike (`make test-postgres`): on PostgreSQL the budget row lock
(``ledger.lock_budgets``, SELECT … FOR UPDATE) serialises them; on SQLite the write
transaction (BEGIN IMMEDIATE) does."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.assistance import payments, planning
from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus
from gonghui.assistance.ledger import balance_of, rebuild
from gonghui.assistance.models import AssistanceLine, LedgerEntry, Payment, PaymentBatch
from gonghui.errors import DomainError
from tests.aid import YEAR, build_money
from tests.cases import filed
from tests.factories import Province, user
from tests.test_payments import approved, with_card


@pytest.mark.django_db(transaction=True)
def test_two_approvals_against_the_last_of_a_budget_one_wins(province: Province) -> None:
    # Yaohai has 10,000 yuan; each line asks 6,000: room for exactly one.
    money = build_money(province, yaohai_yuan=10_000)
    lines = []
    for name in ("张伟", "李娜"):
        file = filed(province, size=1, wages="3000", illness="10000", name=name)
        lines.append(
            planning.add_line(
                province.alice,
                file,
                planning.LineInput(kind=AidKind.MEDICAL, amount_fen=6_000_00, fund=money.fund),
                YEAR,
            )
        )
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def approve(reviewer: User, line: AssistanceLine) -> None:
        barrier.wait()
        try:
            planning.approve_line(reviewer, line)
            outcomes[reviewer.username] = "approved"
        except DomainError as refused:
            outcomes[reviewer.username] = f"refused: {refused}"
        finally:
            connection.close()

    pairs = ((province.rita, lines[0]), (province.carl, lines[1]))
    threads = [threading.Thread(target=approve, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(o.split(":")[0] for o in outcomes.values()) == ["approved", "refused"]
    refused = next(o for o in outcomes.values() if o.startswith("refused"))
    assert "4,000.00" in refused and "6,000.00" in refused  # what is left, what was asked
    statuses = sorted(AssistanceLine.objects.values_list("status", flat=True))
    assert statuses == [LineStatus.APPROVED, LineStatus.PLANNED]
    budget = money.yaohai_budget
    balance = balance_of(budget)
    assert (balance.available, balance.committed) == (4_000_00, 6_000_00)
    assert LedgerEntry.objects.filter(budget=budget, kind=LedgerKind.COMMIT).count() == 1
    assert rebuild(LedgerEntry.objects.filter(budget=budget)) == balance


@pytest.mark.django_db(transaction=True)
def test_two_officers_making_a_batch_at_once_pay_each_line_once(province: Province) -> None:
    """A double click, or two fund officers at once: one batch gets the lines, the other
    finds nothing left to pay (the fund row is locked while a batch is made)."""
    money = build_money(province)
    for seed, name in enumerate(("张伟", "李娜"), start=1):
        with_card(province, approved(province, money, name, 2_000_00), seed)
    fay = user("fay", Role.FUND_OFFICER, province.yaohai)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def make_batch(officer: User) -> None:
        barrier.wait()
        try:
            outcomes.append(f"batch of {payments.create_batch(officer, money.fund).count}")
        except DomainError:
            outcomes.append("nothing left")
        finally:
            connection.close()

    threads = [threading.Thread(target=make_batch, args=(u,)) for u in (money.fred, fay)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["batch of 2", "nothing left"]
    assert PaymentBatch.objects.count() == 1
    assert Payment.objects.count() == 2
    assert set(AssistanceLine.objects.values_list("status", flat=True)) == {LineStatus.BATCHED}
