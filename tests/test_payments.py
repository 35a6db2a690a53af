"""From approval to payment: bank cards, payment batches, the bank file and the result."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from django.db import IntegrityError, transaction
from stdnum import luhn

from gonghui.assistance import accounts, payments, planning
from gonghui.assistance.choices import (
    AidKind,
    BatchStatus,
    LedgerKind,
    LineStatus,
    PaymentStatus,
)
from gonghui.assistance.ledger import balance_of, rebuild
from gonghui.assistance.models import (
    AssistanceLine,
    BankAccount,
    LedgerEntry,
    Payment,
    PaymentBatch,
)
from gonghui.audit.models import AuditAction, AuditEntry
from gonghui.errors import Conflict, DomainError, NotAllowed
from gonghui.people.personal import mask_card, shown_card
from tests.aid import YEAR, Money, build_money
from tests.cases import filed
from tests.factories import Province

ICBC = "中国工商银行"


def card(seed: int, length: int = 19) -> str:
    """A valid card number (Luhn) made from ``seed``."""
    body = f"622202{seed:0{length - 7}d}"
    return body + luhn.calc_check_digit(body)


def approved(p: Province, money: Money, name: str, amount_fen: int) -> AssistanceLine:
    """A filed one-person household with medical aid of ``amount_fen``, approved by Rita."""
    file = filed(p, size=1, wages="3000", illness="10000", name=name)
    line = planning.add_line(
        p.alice,
        file,
        planning.LineInput(kind=AidKind.MEDICAL, amount_fen=amount_fen, fund=money.fund),
        YEAR,
    )
    return planning.approve_line(p.rita, line)


def with_card(p: Province, line: AssistanceLine, seed: int) -> BankAccount:
    return accounts.save_bank_account(
        p.alice,
        line.worker,
        bank_name=ICBC,
        account_number=card(seed),
        holder_name=line.worker.name,
    )


@dataclass
class Scene:
    money: Money
    lines: list[AssistanceLine]


def scene(p: Province, amounts: tuple[int, ...] = (3_000_00, 1_234_50), carded: int = 2) -> Scene:
    """Approved lines for 张伟, 李娜, 王芳… of the amounts; the first ``carded`` have cards."""
    money = build_money(p, yaohai_yuan=100_000)
    names = ["张伟", "李娜", "王芳", "刘洋"]
    lines = [approved(p, money, names[i], amount) for i, amount in enumerate(amounts)]
    for i, line in enumerate(lines[:carded]):
        with_card(p, line, i + 1)
    return Scene(money, lines)


def result_csv(batch: PaymentBatch, status: str = "成功", encoding: str = "gb18030") -> bytes:
    """The bank's answer to the batch: every pending payment with ``status``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["明细号", "户名", "账号", "金额", "状态", "失败原因"])
    for payment in Payment.objects.filter(batch=batch).order_by("id"):
        amount = f"{payment.amount_fen // 100}.{payment.amount_fen % 100:02d}"
        writer.writerow(
            [payment.pk, payment.payee_name, payment.account_number, amount, status, ""]
        )
    return out.getvalue().encode(encoding)


def exported(p: Province, money: Money) -> PaymentBatch:
    batch = payments.create_batch(money.fred, money.fund).batch
    payments.export_batch(money.fred, batch, "csv")
    batch.refresh_from_db()
    return batch


# --- bank cards --------------------------------------------------------------------------


def test_a_card_is_tidied_checked_and_in_the_workers_own_name(province: Province) -> None:
    money = build_money(province)
    line = approved(province, money, "张伟", 3_000_00)
    number = card(7)
    account = accounts.save_bank_account(
        province.alice,
        line.worker,
        bank_name=f" {ICBC} ",
        account_number=f"{number[:4]} {number[4:8]}-{number[8:]}",
        holder_name="张伟",
    )
    assert (account.account_number, account.bank_name, account.active) == (number, ICBC, True)
    mistyped = number[:-1] + str((int(number[-1]) + 1) % 10)
    for wrong, field in (
        ({"account_number": mistyped}, "account_number"),
        ({"account_number": "62220212345"}, "account_number"),  # 11 digits
        ({"account_number": "6222abcd12345678"}, "account_number"),
        ({"holder_name": "李娜"}, "holder_name"),  # paid by name: not someone else's card
        ({"bank_name": " "}, "bank_name"),
    ):
        data = {"bank_name": ICBC, "account_number": number, "holder_name": "张伟"} | wrong
        with pytest.raises(DomainError) as refused:
            accounts.save_bank_account(province.alice, line.worker, **data)
        assert refused.value.field == field
    # A 12-digit passbook account has no check digit to test.
    passbook = accounts.save_bank_account(
        province.alice,
        line.worker,
        bank_name=ICBC,
        account_number="123456789012",
        holder_name="张伟",
    )
    assert passbook.account_number == "123456789012"
    assert BankAccount.objects.filter(worker=line.worker).count() == 2


def test_a_new_card_puts_the_old_one_aside_and_both_are_audited(province: Province) -> None:
    money = build_money(province)
    line = approved(province, money, "张伟", 3_000_00)
    first = with_card(province, line, 1)
    second = with_card(province, line, 2)
    first.refresh_from_db()
    assert (first.active, second.active) == (False, True)
    assert list(BankAccount.objects.filter(worker=line.worker, active=True)) == [second]
    audited = AuditEntry.objects.filter(model="assistance.bankaccount")
    assert audited.filter(action=AuditAction.CREATE).count() == 2
    assert audited.get(action=AuditAction.UPDATE, object_id=str(first.pk)).changes == {
        "active": [True, False]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        BankAccount.objects.create(
            worker=line.worker, bank_name=ICBC, account_number=card(3), holder_name="张伟"
        )


def test_only_planners_and_fund_officers_in_scope_record_cards(province: Province) -> None:
    money = build_money(province)
    line = approved(province, money, "张伟", 3_000_00)
    data = {"bank_name": ICBC, "account_number": card(1), "holder_name": "张伟"}
    for outsider in (province.rita, province.charlie, province.audrey):
        with pytest.raises(NotAllowed):
            accounts.save_bank_account(outsider, line.worker, **data)
    assert accounts.save_bank_account(money.fred, line.worker, **data).active


def test_a_card_is_masked_unless_the_role_sees_bank_cards(province: Province) -> None:
    money = build_money(province)
    assert mask_card("6222021234567890128") == "6222 **** **** 0128"
    assert mask_card("6222 0212 3456 7890") == "6222 **** **** 7890"
    assert mask_card("1234567") == "*******"
    assert mask_card("") == ""
    assert shown_card("6222021234567890128", money.fred) == "6222021234567890128"
    assert shown_card("6222021234567890128", province.alice) == "6222 **** **** 0128"
    assert shown_card(None, money.fred) == ""


# --- batches -------------------------------------------------------------------------------


def test_a_batch_pays_every_approved_line_with_a_card(province: Province) -> None:
    s = scene(province, amounts=(3_000_00, 1_234_50, 2_000_00), carded=2)
    result = payments.create_batch(s.money.fred, s.money.fund)
    batch = result.batch
    assert (result.count, result.total_fen, result.without_card) == (2, 4_234_50, 1)
    assert result.notes() == ["1 line has no bank card."]
    assert (batch.payment_count, batch.total_fen, batch.status) == (2, 4_234_50, "open")
    assert batch.organisation == province.yaohai and batch.fund == s.money.fund
    paid = {p.line_id: p for p in Payment.objects.filter(batch=batch)}
    assert set(paid) == {s.lines[0].pk, s.lines[1].pk}
    first = paid[s.lines[0].pk]
    assert (first.payee_name, first.bank_name, first.account_number) == ("张伟", ICBC, card(1))
    assert (first.amount_fen, first.status) == (3_000_00, PaymentStatus.PENDING)
    statuses = dict(AssistanceLine.objects.values_list("pk", "status"))
    assert [statuses[line.pk] for line in s.lines] == ["batched", "batched", "approved"]
    audit = AuditEntry.objects.get(
        model="assistance.assistanceline",
        object_id=str(s.lines[0].pk),
        changes__status__1="batched",
    )
    assert audit.changes["status"] == ["approved", "batched"]
    assert audit.actor == s.money.fred and audit.file_id == s.lines[0].file_id


def test_a_second_batch_or_a_double_click_never_pays_twice(province: Province) -> None:
    s = scene(province)
    payments.create_batch(s.money.fred, s.money.fund)
    with pytest.raises(DomainError, match="No approved help") as refused:
        payments.create_batch(s.money.fred, s.money.fund)
    assert refused.value.field == "fund"
    assert Payment.objects.count() == 2 and PaymentBatch.objects.count() == 1
    # Even a line forced back to "approved" cannot get a second live payment.
    AssistanceLine.objects.filter(pk=s.lines[0].pk).update(status=LineStatus.APPROVED)
    with pytest.raises(Conflict):
        payments.create_batch(s.money.fred, s.money.fund)
    assert Payment.objects.filter(line=s.lines[0]).count() == 1
    assert AssistanceLine.objects.get(pk=s.lines[0].pk).status == LineStatus.APPROVED


def test_the_database_refuses_a_second_live_payment(province: Province) -> None:
    s = scene(province)
    batch = payments.create_batch(s.money.fred, s.money.fund).batch
    payment = Payment.objects.filter(batch=batch).first()
    assert payment is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            batch=batch,
            line_id=payment.line_id,
            amount_fen=payment.amount_fen,
            payee_name=payment.payee_name,
            bank_name=ICBC,
            account_number=payment.account_number,
        )


def test_no_card_at_all_is_an_error_that_says_so(province: Province) -> None:
    s = scene(province, carded=0)
    with pytest.raises(DomainError, match="2 lines have no bank card"):
        payments.create_batch(s.money.fred, s.money.fund)
    assert not PaymentBatch.objects.exists()


def test_only_fund_officers_make_batches_in_their_tree(province: Province) -> None:
    s = scene(province)
    with pytest.raises(NotAllowed):
        payments.create_batch(province.rita, s.money.fund)
    with pytest.raises(NotAllowed):
        payments.create_batch(s.money.fred, s.money.fund, province.jinghu)
    assert not PaymentBatch.objects.exists()


# --- the bank file -----------------------------------------------------------------------------


def test_the_bank_file_has_real_name_columns_and_whole_card_numbers(province: Province) -> None:
    s = scene(province)
    batch = payments.create_batch(s.money.fred, s.money.fund).batch
    name, data, content_type = payments.export_batch(s.money.fred, batch, "csv")
    assert name == f"{batch.number}.csv" and content_type == "text/csv; charset=gb18030"
    rows = list(csv.reader(io.StringIO(data.decode("gb18030"))))
    assert rows[0] == [
        "序号",
        "明细号",
        "收款人姓名",
        "开户银行",
        "银行卡号",
        "金额(元)",
        "用途",
        "批次号",
    ]
    ids = list(Payment.objects.filter(batch=batch).order_by("id").values_list("pk", flat=True))
    purpose = payments.purposes()[AidKind.MEDICAL]
    assert rows[1:] == [
        ["1", str(ids[0]), "张伟", ICBC, card(1), "3000.00", purpose, batch.number],
        ["2", str(ids[1]), "李娜", ICBC, card(2), "1234.50", purpose, batch.number],
    ]
    batch.refresh_from_db()
    assert batch.status == BatchStatus.EXPORTED and batch.exported_at is not None
    logged = AuditEntry.objects.get(action=AuditAction.EXPORT, model="assistance.payment")
    assert logged.actor == s.money.fred and logged.changes["rows"] == 2
    assert logged.changes["filters"] == {"batch": batch.number, "format": "csv"}
    _name, utf8, _type = payments.export_batch(s.money.fred, batch, "csv", encoding="utf-8")
    assert utf8.decode("utf-8") == data.decode("gb18030")


def test_the_bank_file_as_xlsx_keeps_card_numbers_as_text(province: Province) -> None:
    from openpyxl import load_workbook

    s = scene(province)
    batch = payments.create_batch(s.money.fred, s.money.fund).batch
    name, data, _type = payments.export_batch(s.money.fred, batch, "xlsx")
    assert name.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][4] == "银行卡号" and rows[1][4] == card(1) and rows[2][5] == "1234.50"
    with pytest.raises(DomainError) as refused:
        payments.export_batch(s.money.fred, batch, "pdf")
    assert refused.value.field == "fmt"
    with pytest.raises(NotAllowed):
        payments.export_batch(province.alice, batch, "csv")


# --- the result, the ledger, the failed queue ---------------------------------------------------


def test_paying_a_batch_moves_committed_money_to_paid_and_reconciles(province: Province) -> None:
    s = scene(province)
    budget = s.money.yaohai_budget
    before = balance_of(budget)
    assert (before.committed, before.paid) == (4_234_50, 0)
    batch = exported(province, s.money)
    report = payments.import_result(s.money.fred, batch, "result.csv", result_csv(batch))
    assert (report.rows, report.paid, report.failed, report.unchanged) == (2, 2, 0, 0)
    assert report.rejected == []
    after = balance_of(budget)
    assert (after.available, after.committed, after.paid) == (100_000_00 - 4_234_50, 0, 4_234_50)
    assert rebuild(LedgerEntry.objects.filter(budget=budget)) == after
    pays = LedgerEntry.objects.filter(kind=LedgerKind.PAY)
    assert sorted(pays.values_list("amount_fen", flat=True)) == [1_234_50, 3_000_00]
    assert {e.payment.batch_id for e in pays} == {batch.pk}
    assert set(
        AuditEntry.objects.filter(model="assistance.ledgerentry").values_list(
            "object_id", flat=True
        )
    ) >= {str(pk) for pk in pays.values_list("pk", flat=True)}
    pay_audit = AuditEntry.objects.get(model="assistance.ledgerentry", object_id=str(pays[0].pk))
    assert pay_audit.changes["kind"] == [None, "pay"] and pay_audit.actor == s.money.fred
    assert pay_audit.org_path == budget.organisation.path
    for line in s.lines:
        line.refresh_from_db()
        assert line.status == LineStatus.PAID and line.paid_on is not None
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SETTLED and batch.settled_at is not None


def test_a_failed_payment_goes_back_to_the_queue_until_the_card_is_fixed(
    province: Province,
) -> None:
    s = scene(province)
    batch = exported(province, s.money)
    _first, second = Payment.objects.filter(batch=batch).order_by("id")
    data = result_csv(batch).replace(
        f"{second.pk},李娜,{second.account_number},1234.50,成功,".encode("gb18030"),
        f"{second.pk},李娜,{second.account_number},1234.50,失败,账户已冻结".encode("gb18030"),
    )
    report = payments.import_result(s.money.fred, batch, "result.csv", data)
    assert (report.paid, report.failed) == (1, 1)
    second.refresh_from_db()
    assert (second.status, second.failure_reason) == (PaymentStatus.FAILED, "账户已冻结")
    queue = payments.failed_lines(province.alice)
    assert [(line.pk, line.failure_reason) for line in queue] == [(s.lines[1].pk, "账户已冻结")]
    # The money stays committed while the line waits.
    assert balance_of(s.money.yaohai_budget).committed == 1_234_50
    # Nothing to pay until the card is fixed.
    with pytest.raises(DomainError, match="1 failed line waits"):
        payments.create_batch(s.money.fred, s.money.fund)
    with_card(province, s.lines[1], 9)
    again = payments.create_batch(s.money.fred, s.money.fund)
    assert (again.count, again.total_fen) == (1, 1_234_50)
    retry = Payment.objects.get(batch=again.batch)
    assert (retry.line_id, retry.account_number) == (s.lines[1].pk, card(9))
    payments.export_batch(s.money.fred, again.batch, "csv")
    payments.import_result(s.money.fred, again.batch, "r2.csv", result_csv(again.batch))
    assert AssistanceLine.objects.get(pk=s.lines[1].pk).status == LineStatus.PAID
    assert Payment.objects.filter(line=s.lines[1]).count() == 2
    budget = s.money.yaohai_budget
    balance = balance_of(budget)
    assert (balance.committed, balance.paid) == (0, 4_234_50)
    assert rebuild(LedgerEntry.objects.filter(budget=budget)) == balance


def test_a_failed_line_can_be_cancelled_and_its_money_released(province: Province) -> None:
    s = scene(province)
    batch = exported(province, s.money)
    payments.import_result(s.money.fred, batch, "result.csv", result_csv(batch, status="失败"))
    assert balance_of(s.money.yaohai_budget).committed == 4_234_50
    planning.cancel_line(province.alice, s.lines[0], "本人放弃")
    balance = balance_of(s.money.yaohai_budget)
    assert (balance.available, balance.committed) == (100_000_00 - 1_234_50, 1_234_50)
    assert rebuild(LedgerEntry.objects.filter(budget=s.money.yaohai_budget)) == balance


def test_nothing_is_half_applied_when_something_fails(
    province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scene(province)
    batch = exported(province, s.money)

    def broken(entries: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(payments, "audit_ledger_entries", broken)
    with pytest.raises(RuntimeError):
        payments.import_result(s.money.fred, batch, "result.csv", result_csv(batch))
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.PENDING}
    assert not LedgerEntry.objects.filter(kind=LedgerKind.PAY).exists()
    assert set(AssistanceLine.objects.values_list("status", flat=True)) == {LineStatus.BATCHED}
    batch.refresh_from_db()
    assert batch.result_digests == [] and batch.status == BatchStatus.EXPORTED
    monkeypatch.undo()
    report = payments.import_result(s.money.fred, batch, "result.csv", result_csv(batch))
    assert report.paid == 2


def test_a_result_for_a_batch_never_exported_is_refused(province: Province) -> None:
    s = scene(province)
    batch = payments.create_batch(s.money.fred, s.money.fund).batch
    with pytest.raises(DomainError, match="Export"):
        payments.import_result(s.money.fred, batch, "result.csv", result_csv(batch))


def test_a_batch_takes_the_same_statements_whatever_its_size(province: Province) -> None:
    """Set-based: paying two lines or four runs the same number of statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    s = scene(province)

    def statements() -> list[int]:
        counts = []
        with CaptureQueriesContext(connection) as made:
            batch = payments.create_batch(s.money.fred, s.money.fund).batch
        counts.append(len(made))
        with CaptureQueriesContext(connection) as export:
            payments.export_batch(s.money.fred, batch, "csv")
        counts.append(len(export))
        batch.refresh_from_db()
        with CaptureQueriesContext(connection) as imported:
            report = payments.import_result(s.money.fred, batch, "r.csv", result_csv(batch))
        counts.append(len(imported))
        assert report.rows == report.paid == batch.payment_count
        return counts

    small = statements()
    for seed, name in enumerate(("王芳", "刘洋", "陈静", "杨磊"), start=10):
        with_card(province, approved(province, s.money, name, 1_000_00), seed)
    assert statements() == small


def test_money_the_bank_sends_back_is_reversed_and_the_line_waits_again(
    province: Province,
) -> None:
    s = scene(province, amounts=(3_000_00,), carded=1)
    budget = s.money.yaohai_budget
    batch = exported(province, s.money)
    payments.import_result(s.money.fred, batch, "result.csv", result_csv(batch))
    paid = Payment.objects.get(batch=batch)
    with pytest.raises(DomainError) as no_reason:
        payments.reverse_payment(s.money.fred, paid, "  ")
    assert no_reason.value.field == "reason"
    payments.reverse_payment(s.money.fred, paid, "银行退票：卡已注销")
    after = balance_of(budget)
    assert (after.committed, after.paid) == (3_000_00, 0)
    assert rebuild(LedgerEntry.objects.filter(budget=budget)) == after
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.FAILED and "注销" in paid.failure_reason
    line = AssistanceLine.objects.get(pk=s.lines[0].pk)
    assert line.status == LineStatus.FAILED and line.paid_on is None
    assert line in payments.failed_lines(s.money.fred)
    with pytest.raises(Conflict):  # a second reversal of the same payment
        payments.reverse_payment(s.money.fred, paid, "again")
    with pytest.raises(NotAllowed):
        payments.reverse_payment(province.alice, paid, "not a fund officer")
    # Cancelling the line now releases the money to the budget.
    planning.cancel_line(s.money.fred, line, "不再发放")
    assert balance_of(budget).available == 100_000_00
