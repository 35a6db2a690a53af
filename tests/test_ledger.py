"""Budgets down the tree and the ledger: balances are sums of entries and reconcile."""

from __future__ import annotations

import pytest

from gonghui.assistance import funds
from gonghui.assistance.choices import LedgerKind
from gonghui.assistance.ledger import balance_of, rebuild
from gonghui.assistance.models import Budget, LedgerEntry
from gonghui.audit.models import AuditEntry
from gonghui.errors import DomainError, NotAllowed
from tests.aid import build_money
from tests.factories import Province


def test_allocation_moves_money_down_and_both_balances_reconcile(province: Province) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    top, yaohai = balance_of(money.province_budget), balance_of(money.yaohai_budget)
    assert (top.available, top.total) == (80_000_000, 80_000_000)
    assert (yaohai.available, yaohai.total) == (20_000_000, 20_000_000)
    assert money.yaohai_budget.parent == money.province_budget
    for budget in (money.province_budget, money.yaohai_budget):
        assert rebuild(LedgerEntry.objects.filter(budget=budget)) == balance_of(budget)


def test_a_child_is_never_allocated_more_than_the_parent_has_left(province: Province) -> None:
    money = build_money(province, province_yuan=300_000, yaohai_yuan=200_000)
    with pytest.raises(DomainError, match=r"100,000\.00") as refused:
        funds.allocate(money.fiona, money.province_budget, province.hefei, 100_000_01)
    assert refused.value.field == "amount"
    assert not Budget.objects.filter(organisation=province.hefei).exists() or (
        balance_of(Budget.objects.get(organisation=province.hefei)).total == 0
    )
    funds.allocate(money.fiona, money.province_budget, province.hefei, 100_000_00)
    assert balance_of(money.province_budget).available == 0


def test_the_county_budget_hangs_under_the_nearest_budget_above(province: Province) -> None:
    money = build_money(province)
    hefei = funds.allocate(money.fiona, money.province_budget, province.hefei, 50_000_00)
    union = funds.allocate(money.fred, money.yaohai_budget, province.yaohai_union, 1_000_00)
    assert union.parent == money.yaohai_budget
    # Yaohai's budget was opened before Hefei's, straight from the province: Hefei cannot
    # pass money to it, nor past it to its union.
    with pytest.raises(DomainError, match="瑶海区总工会"):
        funds.allocate(money.fiona, hefei, province.yaohai_union, 1_00)


def test_returning_unspent_money_goes_back_up(province: Province) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    funds.return_unspent(money.fred, money.yaohai_budget, 50_000_00, memo="年终结余上缴")
    assert balance_of(money.yaohai_budget).available == 150_000_00
    assert balance_of(money.province_budget).available == 850_000_00
    with pytest.raises(DomainError):
        funds.return_unspent(money.fred, money.yaohai_budget, 150_000_01)


def test_every_ledger_entry_is_audited_and_cannot_be_changed(province: Province) -> None:
    money = build_money(province)
    entries = LedgerEntry.objects.filter(budget__fund=money.fund)
    assert entries.count() == 3
    audited = set(
        AuditEntry.objects.filter(model="assistance.ledgerentry").values_list(
            "object_id", flat=True
        )
    )
    assert audited == {str(pk) for pk in entries.values_list("pk", flat=True)}
    entry = entries.get(kind=LedgerKind.GRANT)
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entries.update(amount_fen=1)
    with pytest.raises(PermissionError):
        entries.delete()


def test_only_fund_officers_inside_the_tree_move_money(province: Province) -> None:
    money = build_money(province)
    with pytest.raises(NotAllowed):
        funds.receive(province.alice, money.yaohai_budget, 100)
    with pytest.raises(NotAllowed):
        funds.allocate(money.fred, money.province_budget, province.wuhu, 100)


def test_running_costs_are_never_a_purpose(province: Province) -> None:
    money = build_money(province)
    with pytest.raises(DomainError, match="专款专用") as refused:
        funds.define_fund(
            money.fiona, code="X", name="x", source="union", purposes=["living", "running_costs"]
        )
    assert refused.value.field == "purposes"


def test_on_postgresql_the_database_itself_refuses_to_rewrite_the_ledger(
    province: Province,
) -> None:
    from django.db import connection, transaction
    from django.db.utils import DatabaseError

    build_money(province)
    if connection.vendor != "postgresql":
        return  # SQLite has no such trigger; the model-level guard is tested above
    for sql in (
        "UPDATE assistance_ledgerentry SET amount_fen = 1",
        "DELETE FROM assistance_ledgerentry",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert LedgerEntry.objects.count() == 3
