"""`gonghui aid`: budgets and payment batches on the command line, as a named user, through
the same services and scope as the pages and the API."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from openpyxl import load_workbook

from gonghui.assistance.choices import BatchStatus, LineStatus
from gonghui.assistance.ledger import balance_of
from gonghui.assistance.models import Budget, PaymentBatch
from gonghui.assistance.money import to_yuan
from gonghui.audit.models import AuditEntry
from tests.aid import build_money
from tests.factories import Province
from tests.test_web_funds import approved_with_card


def run(*args: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("aid", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_budgets_prints_balances_in_scope(province: Province) -> None:
    build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    lines = run("--as", "fiona", "budgets", "--fund", "ZY-2026").splitlines()
    assert lines[0].startswith("id\tfund\tyear")
    assert any("安徽省总工会\t800,000.00\t800,000.00\t0.00\t0.00" in line for line in lines)
    assert any("瑶海区总工会\t200,000.00" in line for line in lines)
    assert len(run("--as", "fred", "budgets").splitlines()) == 2  # header and his own
    with pytest.raises(CommandError, match="role"):
        run("--as", "alice", "budgets")


def test_allocate_moves_money_down_and_refuses_too_much(province: Province) -> None:
    money = build_money(province, province_yuan=300_000, yaohai_yuan=200_000)
    top = str(money.province_budget.pk)
    out = run("--as", "fiona", "allocate", top, str(province.hefei.pk), "50,000", "--memo", "下拨")
    assert "50,000.00 yuan allocated to 合肥市总工会" in out
    hefei = Budget.objects.get(organisation=province.hefei)
    assert balance_of(hefei).available == 50_000_00
    with pytest.raises(CommandError, match=r"50,000\.00 yuan left"):
        run("--as", "fiona", "allocate", top, str(province.hefei.pk), "50000.01")
    with pytest.raises(CommandError, match="No budget"):
        run("--as", "fred", "allocate", top, str(province.yaohai_union.pk), "1")
    entry = AuditEntry.objects.filter(model="assistance.ledgerentry", source="cli").first()
    assert entry is not None and entry.actor == money.fiona


def test_a_batch_is_created_exported_and_settled(province: Province, tmp_path: Path) -> None:
    money = build_money(province, yaohai_yuan=100_000)
    line = approved_with_card(province, money, "张伟", 3_000_00)
    out = run("--as", "fred", "batch", "create", "--fund", "ZY-2026")
    batch = PaymentBatch.objects.get()
    assert f"(id {batch.pk}): 1 payments, 3,000.00 yuan" in out
    xlsx = tmp_path / "bank.xlsx"
    run("--as", "fred", "batch", "export", str(batch.pk), "--format", "xlsx", "--out", str(xlsx))
    assert load_workbook(xlsx).worksheets[0].max_row == 2
    batch.refresh_from_db()
    assert batch.status == BatchStatus.EXPORTED
    payment = batch.payments.get()
    result = tmp_path / "result.csv"
    rows = [
        ["明细号", "户名", "账号", "金额", "状态"],
        [payment.pk, "张伟", payment.account_number, f"{to_yuan(payment.amount_fen):,}", "成功"],
        ["12345", "李四", "6222020000000000000", "1.00", "成功"],
    ]
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    result.write_bytes(text.getvalue().encode("gbk"))
    out = run("--as", "fred", "batch", "import", str(batch.pk), str(result))
    assert "2 rows read: 1 paid, 0 failed, 0 unchanged, 1 rejected." in out
    assert "row 3: payment id 12345 is not in batch" in out
    line.refresh_from_db()
    assert line.status == LineStatus.PAID
    again = run("--as", "fred", "batch", "import", str(batch.pk), str(result))
    assert "imported before" in again
    assert balance_of(money.yaohai_budget).paid == 3_000_00


def test_nothing_to_batch_and_outsiders_are_clear_messages(province: Province) -> None:
    build_money(province)
    with pytest.raises(CommandError, match="ready to be paid"):
        run("--as", "fred", "batch", "create", "--fund", "ZY-2026")
    with pytest.raises(CommandError, match="No fund"):
        run("--as", "fiona", "batch", "create", "--fund", "NOPE")
    with pytest.raises(CommandError, match="No batch"):
        run("--as", "fiona", "batch", "import", "999", "/nonexistent")
