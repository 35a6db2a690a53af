"""The bank's result file as banks send it: GBK or UTF-8, title rows, thousands separators,
XLSX; every row matched to a payment or rejected with the reason; re-imports change nothing."""

from __future__ import annotations

import datetime
import io

import pytest

from gonghui.assistance import bankfiles, payments
from gonghui.assistance.choices import BatchStatus, LedgerKind, LineStatus, PaymentStatus
from gonghui.assistance.ledger import balance_of, rebuild
from gonghui.assistance.models import AssistanceLine, LedgerEntry, Payment, PaymentBatch
from gonghui.errors import DomainError
from tests.factories import Province
from tests.test_payments import exported, scene


def pending(batch: PaymentBatch) -> list[Payment]:
    return list(Payment.objects.filter(batch=batch).order_by("id"))


def gbk_result(batch: PaymentBatch, rows: list[str]) -> bytes:
    """A bank portal's CSV: two title rows, a header, the rows, a total line; GBK."""
    text = "\r\n".join(
        [
            "中国工商银行批量代发结果查询,,,,,,,",
            f"批次：{batch.number},导出日期：2026-03-16,,,,,,",
            "明细号,收款人,收款账号,交易金额(元),处理结果,失败原因,银行流水号,入账日期",
            *rows,
            "合计,,,,,,,",
        ]
    )
    return text.encode("gbk")


def test_a_gbk_file_with_title_rows_and_thousands_separators(province: Province) -> None:
    s = scene(province, amounts=(3_000_00, 1_234_50))
    batch = exported(province, s.money)
    zhang, li = pending(batch)
    data = gbk_result(
        batch,
        [
            f'{zhang.pk},张伟,{zhang.account_number},"3,000.00",交易成功,,SEQ0001,2026-03-15',
            f'{li.pk},李 娜,{li.account_number},"1,234.50",成功,,SEQ0002,2026/3/15',
        ],
    )
    report = payments.import_result(s.money.fred, batch, "结果.csv", data)
    assert (report.rows, report.paid, report.failed, report.unchanged) == (2, 2, 0, 0)
    assert report.rejected == []
    zhang.refresh_from_db()
    assert (zhang.status, zhang.bank_reference) == (PaymentStatus.PAID, "SEQ0001")
    assert zhang.settled_on == datetime.date(2026, 3, 15)
    line = AssistanceLine.objects.get(pk=zhang.line_id)
    assert (line.status, line.paid_on) == (LineStatus.PAID, datetime.date(2026, 3, 15))
    balance = balance_of(s.money.yaohai_budget)
    assert (balance.committed, balance.paid) == (0, 4_234_50)
    assert rebuild(LedgerEntry.objects.filter(budget=s.money.yaohai_budget)) == balance


def xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_result_with_numeric_cells_and_a_failure(province: Province) -> None:
    s = scene(province, amounts=(3_000_00, 1_234_50))
    batch = exported(province, s.money)
    zhang, li = pending(batch)
    data = xlsx(
        [
            ["代发工资/报销结果"],
            [],
            ["Payment ID", "Account Name", "Account No.", "Amount", "Status", "Reason", "Date"],
            # Numeric cells: openpyxl reads the amount back as a float; it must stay exact.
            [
                zhang.pk,
                "张伟",
                zhang.account_number,
                3000,
                "Success",
                None,
                datetime.date(2026, 3, 15),
            ],
            [li.pk, "李娜", li.account_number, 1234.5, "FAILED", "户名与账号不符", None],
        ]
    )
    report = payments.import_result(s.money.fred, batch, "result.xlsx", data)
    assert (report.rows, report.paid, report.failed, report.rejected) == (2, 1, 1, [])
    li.refresh_from_db()
    assert (li.status, li.failure_reason) == (PaymentStatus.FAILED, "户名与账号不符")
    line = AssistanceLine.objects.get(pk=li.line_id)
    assert (line.status, line.failure_reason) == (LineStatus.FAILED, "户名与账号不符")
    assert not LedgerEntry.objects.filter(kind=LedgerKind.PAY, payment=li).exists()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SETTLED


def test_rows_that_do_not_match_are_rejected_with_the_reason(province: Province) -> None:
    s = scene(province, amounts=(3_000_00, 1_234_50, 2_000_00), carded=3)
    batch = exported(province, s.money)
    zhang, li, wang = pending(batch)
    rows = [
        f"{zhang.pk},张伟,{zhang.account_number},3000.01,成功,,,",  # 4: amount
        f"{li.pk},李娜,6222020000000000000,1234.50,成功,,,",  # 5: card
        f"{wang.pk},王五,{wang.account_number},2000.00,成功,,,",  # 6: name
        f"99999999,张伟,{zhang.account_number},3000.00,成功,,,",  # 7: unknown id
        f"{wang.pk},王芳,{wang.account_number},2000.00,处理中,,,",  # 8: status
        f"{wang.pk},王芳,{wang.account_number},2000.00,成功,,,2026-02-30",  # 9: date
        f"{wang.pk},王芳,{wang.account_number},2000.00,成功,,,",  # 10: fine
        f"{wang.pk},王芳,{wang.account_number},2000.00,成功,,,",  # 11: twice
    ]
    report = payments.import_result(s.money.fred, batch, "r.csv", gbk_result(batch, rows))
    assert (report.rows, report.paid, report.failed, report.unchanged) == (8, 1, 0, 0)
    reasons = dict(report.rejected)
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 11]
    assert "amount 3000.01" in reasons[4] and "3,000.00" in reasons[4]
    assert "card number 6222020000000000000" in reasons[5]
    assert "name 王五" in reasons[6]
    assert "99999999" in reasons[7] and batch.number in reasons[7]
    assert "status '处理中'" in reasons[8]
    assert "date '2026-02-30'" in reasons[9]
    assert "row 10" in reasons[11]
    statuses = dict(Payment.objects.values_list("pk", "status"))
    assert statuses == {zhang.pk: "pending", li.pk: "pending", wang.pk: "paid"}
    batch.refresh_from_db()
    assert batch.status == BatchStatus.EXPORTED  # two payments still wait for the bank


def test_importing_the_same_file_again_changes_nothing(province: Province) -> None:
    s = scene(province, amounts=(3_000_00, 1_234_50))
    batch = exported(province, s.money)
    zhang, li = pending(batch)
    rows = [
        f'{zhang.pk},张伟,{zhang.account_number},"3,000.00",成功,,,',
        f'{li.pk},李娜,{li.account_number},"1,234.50",失败,账户已销户,,',
    ]
    data = gbk_result(batch, rows)
    first = payments.import_result(s.money.fred, batch, "r.csv", data)
    assert (first.paid, first.failed) == (1, 1)
    entries = LedgerEntry.objects.count()
    second = payments.import_result(s.money.fred, batch, "r.csv", data)
    assert second.already_imported and (second.paid, second.failed, second.unchanged) == (0, 0, 2)
    # The same rows in another file: already settled, so unchanged.
    third = payments.import_result(s.money.fred, batch, "r2.csv", data + b"\r\n")
    assert not third.already_imported and (third.paid, third.unchanged) == (0, 2)
    assert LedgerEntry.objects.count() == entries
    assert LedgerEntry.objects.filter(kind=LedgerKind.PAY).count() == 1
    batch.refresh_from_db()
    assert len(batch.result_digests) == 2


def test_utf8_with_bom_tabs_and_english_headers(province: Province) -> None:
    s = scene(province, amounts=(1_234_50,), carded=1)
    batch = exported(province, s.money)
    (zhang,) = pending(batch)
    text = (
        "Batch result\n"
        "payment_id\tname\tcard number\tamount (CNY)\tresult\tremark\n"
        f"{zhang.pk}\t{zhang.payee_name}\t{zhang.account_number}\t1,234.50\tsucceeded\t\n"
    )
    report = payments.import_result(
        s.money.fred, batch, "r.txt", b"\xef\xbb\xbf" + text.encode("utf-8")
    )
    assert (report.rows, report.paid) == (1, 1)


def test_a_file_without_the_columns_is_refused_as_a_whole(province: Province) -> None:
    s = scene(province, amounts=(1_234_50,), carded=1)
    batch = exported(province, s.money)
    with pytest.raises(DomainError, match="明细号") as refused:
        payments.import_result(s.money.fred, batch, "r.csv", "姓名,金额\n张伟,1\n".encode("gbk"))
    assert refused.value.field == "file"
    with pytest.raises(DomainError, match="XLSX"):
        payments.import_result(s.money.fred, batch, "r.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100)


def test_the_words_banks_use() -> None:
    assert bankfiles.outcome("交易成功") == bankfiles.outcome(" Success ") == "paid"
    assert bankfiles.outcome("失败") == bankfiles.outcome("退票") == "failed"
    assert bankfiles.outcome("处理中") is None
    assert bankfiles.parse_date("2026年3月5日") == datetime.date(2026, 3, 5)
    assert bankfiles.parse_date("20260305 10:22:01") == datetime.date(2026, 3, 5)
    assert bankfiles.parse_date("soon") is None
    assert bankfiles.cell_text(1234.5) == "1234.5" and bankfiles.cell_text(3000.0) == "3000"
    assert bankfiles.header_columns(["序号", "明细号", "户名", "卡号", "金额（元）", "状态"]) == {
        "payment_id": 1,
        "name": 2,
        "card": 3,
        "amount": 4,
        "status": 5,
    }
