"""Help for a filed household, through the pages, as the people who do it: fiona (province
fund officer) allocates a budget to Yaohai; alice plans the household's aid; rita approves
it; fred (Yaohai fund officer) puts it in a batch, downloads the bank file and imports the
bank's answer; the household's page then shows the money paid."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path
from typing import Any

import pytest
from stdnum import luhn

from gonghui.accounts.choices import Role
from gonghui.assistance import accounts, funds
from gonghui.assistance.choices import AidKind, FundSource, LedgerKind, LineStatus
from gonghui.assistance.ledger import balance_of
from gonghui.assistance.models import AidPolicy, AssistanceLine, Budget, PaymentBatch
from tests.aid import YEAR
from tests.cases import filed
from tests.factories import Province, user

from .helpers import log_in, log_out, path_of, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def card_number() -> str:
    body = "622202000000123456"
    return body + luhn.calc_check_digit(body)


def bank_answer(exported: bytes) -> bytes:
    """The bank's result file for a downloaded batch file (columns as in
    ``bankfiles.EXPORT_HEADER``): every row paid, in GBK with a title row and amounts with
    thousands separators, as banks send them."""
    rows = list(csv.DictReader(io.StringIO(exported.decode("gb18030"))))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["批量代付结果"])
    writer.writerow(["明细号", "户名", "账号", "金额", "状态", "失败原因"])
    for row in rows:
        whole, _dot, cents = row["金额(元)"].partition(".")
        amount = f"{int(whole):,}.{cents or '00'}"
        writer.writerow([row["明细号"], row["收款人姓名"], row["银行卡号"], amount, "成功", ""])
    return out.getvalue().encode("gbk")


def test_a_household_is_helped_from_budget_to_bank(
    page: Any, live_server: Any, province: Province, tmp_path: Path
) -> None:
    p = province
    base = live_server.url
    # The policy, the fund and its province budget, through the services.
    AidPolicy.objects.create(
        name="安徽省困难职工帮扶标准", region=p.policy.region, valid_from=datetime.date(2024, 1, 1)
    )
    fiona = user("fiona", Role.FUND_OFFICER, p.anhui)
    fred = user("fred", Role.FUND_OFFICER, p.yaohai)
    fund = funds.define_fund(
        fiona,
        code=f"ZY-{YEAR}",
        name="中央财政帮扶资金",
        source=FundSource.CENTRAL,
        purposes=[AidKind.LIVING, AidKind.MEDICAL, AidKind.EDUCATION],
    )
    top = funds.open_budget(fiona, fund, p.anhui, YEAR)
    funds.receive(fiona, top, 1_000_000_00, memo="中央财政下达")
    # A filed household of three with 10,000 of self-paid medical costs, and a bank card.
    file = filed(p, size=3, wages="6000", illness="10000")
    accounts.save_bank_account(
        p.alice,
        file.applicant,
        bank_name="中国工商银行",
        account_number=card_number(),
        holder_name=file.applicant.name,
    )

    # fiona allocates 50,000 to Yaohai on the province budget's page.
    log_in(page, base, fiona)
    page.goto(f"{base}/budgets/{top.pk}/")
    allocate = f"form[action='/budgets/{top.pk}/allocate/']"
    page.select_option(f"{allocate} select[name=allocate-organisation]", str(p.yaohai.pk))
    page.fill(f"{allocate} input[name=allocate-amount]", "50,000")
    response = submit(page, f"{allocate} button[type=submit]")
    assert response.status == 200
    yaohai = Budget.objects.get(fund=fund, organisation=p.yaohai, year=YEAR)
    assert balance_of(yaohai).available == 50_000_00
    log_out(page)

    # alice proposes the plan by cause, then puts the medical aid on the fund.
    log_in(page, base, p.alice)
    page.goto(f"{base}/files/{file.pk}/aid/?year={YEAR}")
    response = submit(page, "form#propose button[type=submit]")
    assert response.status == 200 and path_of(page) == f"/files/{file.pk}/aid/"
    medical = AssistanceLine.objects.get(file=file, kind=AidKind.MEDICAL)
    assert (medical.amount_fen, medical.cap_rule) == (8_000_00, "medical_ratio")
    row = f"tr#line-{medical.pk}"
    assert page.locator(f"{row} td.amount").inner_text().strip() == "8,000.00"
    assert page.locator(f"{row} td.rule").inner_text().strip() != ""
    page.click(f"{row} details.action:has(form.edit-line) summary")
    page.select_option(f"{row} select[name=line{medical.pk}-fund]", str(fund.pk))
    page.fill(f"{row} input[name=line{medical.pk}-amount]", "8,000")
    response = submit(page, f"{row} form.edit-line button[type=submit]")
    assert response.status == 200
    medical.refresh_from_db()
    assert (medical.fund, medical.status) == (fund, LineStatus.PLANNED)
    log_out(page)

    # rita approves everything her queue holds (the medical aid), selecting all.
    log_in(page, base, p.rita)
    page.goto(f"{base}/aid/approvals/")
    assert page.locator("#approve-selected input[name=lines]").count() == 1
    page.check("#select-all")
    assert page.is_checked(f"#approve-selected input[name=lines][value='{medical.pk}']")
    response = submit(page, "#approve-selected button[name=approve]")
    assert response.status == 200 and path_of(page) == "/aid/approvals/"
    medical.refresh_from_db()
    assert (medical.status, medical.approved_by, medical.budget) == (
        LineStatus.APPROVED,
        p.rita,
        yaohai,
    )
    assert balance_of(yaohai).committed == 8_000_00
    log_out(page)

    # fred makes the batch, downloads the bank file and imports the bank's answer.
    log_in(page, base, fred)
    page.goto(f"{base}/batches/")
    page.select_option("form[action='/batches/new/'] select[name=fund]", str(fund.pk))
    response = submit(page, "form[action='/batches/new/'] button[type=submit]")
    assert response.status == 200
    batch = PaymentBatch.objects.get(fund=fund)
    assert path_of(page) == f"/batches/{batch.pk}/"
    export = f"form[action='/batches/{batch.pk}/export/']"
    with page.expect_download() as download:
        page.click(f"{export} button[value=csv]")
    exported = Path(download.value.path()).read_bytes()
    assert file.applicant.name in exported.decode("gb18030")
    answer = tmp_path / "result.csv"
    answer.write_bytes(bank_answer(exported))
    page.goto(f"{base}/batches/{batch.pk}/")
    upload = f"form[action='/batches/{batch.pk}/import/']"
    page.set_input_files(f"{upload} input[name=result]", str(answer))
    response = submit(page, f"{upload} button[type=submit]")
    assert response.status == 200
    assert page.locator("#import-report").count() == 1
    medical.refresh_from_db()
    assert medical.status == LineStatus.PAID
    balance = balance_of(yaohai)
    assert (balance.available, balance.committed, balance.paid) == (42_000_00, 0, 8_000_00)
    assert medical.entries.filter(kind=LedgerKind.PAY).count() == 1
    log_out(page)

    # The household's page shows the money paid this year, from the fund.
    log_in(page, base, p.alice)
    page.goto(f"{base}/files/{file.pk}/")  # the case page
    section = page.locator("#household-money")
    assert section.locator(".money-paid-total").inner_text().strip() == "8,000.00"
    assert fund.name in section.locator("table.by-fund").inner_text()
    page.goto(f"{base}/files/{file.pk}/aid/?year={YEAR}")
    status = page.locator(f"tr#line-{medical.pk} .line-status-{LineStatus.PAID}")
    assert status.count() == 1
