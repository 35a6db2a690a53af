"""The fund pages: funds, the budget tree with balances, one budget's ledger and actions,
fund views with drill-down and XLSX, as the right roles and with constant query counts."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from stdnum import luhn

from gonghui.accounts.choices import Role
from gonghui.assistance import accounts, funds, payments, planning
from gonghui.assistance.choices import AidKind, LedgerKind, LineStatus
from gonghui.assistance.ledger import balance_of
from gonghui.assistance.models import AssistanceLine, Budget, Fund, LedgerEntry, PaymentBatch
from gonghui.assistance.money import to_yuan
from gonghui.audit.models import AuditEntry
from gonghui.organisations.choices import OrganisationKind
from gonghui.people.personal import mask_card
from tests.aid import YEAR, Money, build_money
from tests.cases import filed
from tests.factories import Province, organisation, user
from tests.web_helpers import logged_in

pytestmark = pytest.mark.django_db


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(context.captured_queries)


def approved_line(p: Province, money: Money) -> int:
    """A filed Yaohai household's medical aid, approved: money committed on Yaohai's budget."""
    file = filed(p, size=3, wages="6000", illness="10000")
    line = next(
        line for line in planning.propose_plan(p.alice, file, YEAR) if line.kind == AidKind.MEDICAL
    )
    line = planning.edit_line(
        p.alice, line, amount_fen=line.amount_fen, fund=money.fund, description=""
    )
    planning.approve_line(p.rita, line)
    return line.amount_fen


# --- funds ----------------------------------------------------------------------------------


def test_the_fund_list_shows_funds_to_readers_only(client: Client, province: Province) -> None:
    money = build_money(province)
    page = logged_in(client, money.fiona).get(reverse("fund-list")).content.decode()
    assert "ZY-2026" in page and "SWN-2026" in page and "Medical aid" in page
    assert reverse("fund-edit", args=[money.fund.pk]) in page
    # The county fund officer sees the province's fund through his budget, not to edit.
    page = logged_in(Client(), money.fred).get(reverse("fund-list")).content.decode()
    assert "ZY-2026" in page and "SWN-2026" not in page
    assert reverse("fund-edit", args=[money.fund.pk]) not in page
    assert logged_in(Client(), province.alice).get(reverse("fund-list")).status_code == 403
    assert logged_in(Client(), province.charlie).get(reverse("fund-list")).status_code == 403


def test_a_fund_officer_defines_a_fund(client: Client, province: Province) -> None:
    fiona = user("fiona", Role.FUND_OFFICER, province.anhui)
    data = {
        "code": "ZX-YQ",
        "name": "疫情防控专项资金",
        "source": "special",
        "purposes": ["living", "medical"],
        "requires_file": "on",
    }
    response = logged_in(client, fiona).post(reverse("fund-new"), data)
    assert response.status_code == 302
    fund = Fund.objects.get(code="ZX-YQ")
    assert fund.purposes == ["living", "medical"] and fund.organisation == province.anhui
    assert AuditEntry.objects.filter(model="assistance.fund", object_id=str(fund.pk)).exists()


def test_fund_errors_are_shown_on_the_field(client: Client, province: Province) -> None:
    money = build_money(province)
    logged_in(client, money.fiona)
    data = {"code": "ZY-2026", "name": "x", "source": "central", "purposes": ["living"]}
    response = client.post(reverse("fund-new"), data)
    assert response.status_code == 400
    assert response.context["form"].errors["code"] == ["A fund with this code already exists."]
    response = client.post(reverse("fund-new"), data | {"code": "NEW", "purposes": []})
    assert response.context["form"].errors["purposes"] == ["Choose at least one purpose."]
    assert Fund.objects.count() == 2


def test_a_fund_is_edited_by_its_own_organisation_only(client: Client, province: Province) -> None:
    money = build_money(province)
    url = reverse("fund-edit", args=[money.fund.pk])
    data = {"name": "中央财政帮扶资金（2026）", "purposes": ["living"], "active": "on"}
    assert logged_in(client, money.fiona).post(url, data).status_code == 302
    money.fund.refresh_from_db()
    assert money.fund.name == "中央财政帮扶资金（2026）" and money.fund.purposes == ["living"]
    assert money.fund.code == "ZY-2026"  # disabled on the form: not changed by a post
    assert logged_in(Client(), money.fred).get(url).status_code == 404


# --- the budget tree ------------------------------------------------------------------------


def test_the_budget_tree_shows_real_balances(client: Client, province: Province) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    spent = approved_line(province, money)
    url = reverse("fund-budgets", args=[money.fund.pk]) + f"?year={YEAR}"
    response = logged_in(client, money.fiona).get(url)
    rows = {row.budget.organisation.name: row.figures for row in response.context["rows"]}
    assert rows["安徽省总工会"].total == 800_000_00
    assert rows["瑶海区总工会"].committed == spent == 8_000_00
    assert rows["瑶海区总工会"].available == 200_000_00 - spent
    assert response.context["total"].total == 1_000_000_00
    page = response.content.decode()
    assert "800,000.00" in page and "192,000.00" in page and "8,000.00" in page
    # The county officer sees his budget alone, and the tree total is his.
    response = logged_in(Client(), money.fred).get(url)
    assert [r.budget for r in response.context["rows"]] == [money.yaohai_budget]


def test_the_budget_tree_runs_a_constant_number_of_queries(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    money = build_money(province)
    url = reverse("fund-budgets", args=[money.fund.pk]) + f"?year={YEAR}"
    logged_in(client, money.fiona)
    few = count_queries(client, url)
    for index in range(8):
        union = organisation(f"工会{index}", OrganisationKind.GRASSROOTS, province.yaohai, None)
        funds.allocate(money.fred, money.yaohai_budget, union, 1_000_00)
    funds.allocate(money.fiona, money.province_budget, province.wuhu, 1_000_00)
    with django_assert_num_queries(few):  # type: ignore[operator]
        response = client.get(url)
    assert len(response.context["rows"]) == 11  # province, Yaohai, 8 unions, Wuhu


def test_the_fund_officer_opens_the_root_budget_for_a_year(
    client: Client, province: Province
) -> None:
    money = build_money(province)
    url = reverse("fund-budgets", args=[money.holiday.pk]) + f"?year={YEAR}"
    page = logged_in(client, money.fiona).get(url).content.decode()
    assert reverse("budget-open", args=[money.holiday.pk]) in page
    response = client.post(reverse("budget-open", args=[money.holiday.pk]), {"year": YEAR})
    budget = Budget.objects.get(fund=money.holiday, year=YEAR)
    assert response.status_code == 302 and response["Location"] == reverse(
        "budget-detail", args=[budget.pk]
    )


# --- one budget -------------------------------------------------------------------------------


def test_the_budget_page_reconciles_its_entries(client: Client, province: Province) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    approved_line(province, money)
    url = reverse("budget-detail", args=[money.yaohai_budget.pk])
    response = logged_in(client, province.audrey).get(url)
    check = response.context["check"]
    assert check.reconciles and check.balance.available == 192_000_00
    assert {k.kind: k.amount_fen for k in check.kinds} == {
        LedgerKind.ALLOCATE_IN: 200_000_00,
        LedgerKind.COMMIT: 8_000_00,
    }
    page = response.content.decode()
    assert "The entries add up to the balance, to the fen." in page
    assert "Committed at approval" in page and "rita" in page
    assert "Receive money" not in page  # the auditor reads; he does not move money


def test_money_is_received_allocated_and_returned_from_the_page(
    client: Client, province: Province
) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    top = reverse("budget-detail", args=[money.province_budget.pk])
    logged_in(client, money.fiona)
    page = client.get(top).content.decode()
    assert province.hefei.name in page and province.yaohai_union.name not in page  # 2 levels
    pk = money.province_budget.pk
    client.post(reverse("budget-receive", args=[pk]), {"receive-amount": "5,000.50"})
    data = {"allocate-organisation": province.hefei.pk, "allocate-amount": "100000"}
    assert client.post(reverse("budget-allocate", args=[pk]), data).status_code == 302
    yaohai = reverse("budget-return", args=[money.yaohai_budget.pk])
    assert client.post(yaohai, {"return-amount": "1000", "return-memo": "结余"}).status_code == 302
    assert balance_of(money.province_budget).available == 701_000_00 + 5_000_50
    hefei = Budget.objects.get(organisation=province.hefei, fund=money.fund)
    assert balance_of(hefei).available == 100_000_00
    assert LedgerEntry.objects.get(kind=LedgerKind.RETURN_IN).memo == "结余"


def test_an_allocation_above_what_is_left_is_refused_on_the_field(
    client: Client, province: Province
) -> None:
    money = build_money(province, province_yuan=300_000, yaohai_yuan=200_000)
    url = reverse("budget-allocate", args=[money.province_budget.pk])
    data = {"allocate-organisation": province.hefei.pk, "allocate-amount": "100000.01"}
    response = logged_in(client, money.fiona).post(url, data)
    assert response.status_code == 400
    errors = response.context["forms"]["allocate"].errors
    assert "100,000.00 yuan left" in errors["amount"][0]
    assert balance_of(money.province_budget).available == 100_000_00
    response = client.post(url, data | {"allocate-amount": "abc"})
    assert response.context["forms"]["allocate"].errors["amount"]
    # A county fund officer cannot move the province's money, nor see the budget.
    assert logged_in(Client(), money.fred).post(url, data).status_code == 404
    reader = logged_in(Client(), province.rita).post(
        reverse("budget-receive", args=[money.yaohai_budget.pk]), {"receive-amount": "1"}
    )
    assert reader.status_code == 403


# --- fund views -------------------------------------------------------------------------------


def test_the_fund_view_drills_down_the_tree(client: Client, province: Province) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    spent = approved_line(province, money)
    funds.allocate(money.fiona, money.province_budget, province.wuhu, 50_000_00)
    url = reverse("fund-report", args=[money.fund.pk])
    response = logged_in(client, province.leo).get(url, {"year": YEAR})
    view = response.context["view"]
    rows = {(r.organisation.name, r.own): r for r in view.rows}
    assert rows[("安徽省总工会", True)].figures.total == 750_000_00
    # Yaohai's money is under Hefei, one level down; the province sees Hefei's subtree.
    hefei = rows[("合肥市总工会", False)]
    assert (hefei.figures.total, hefei.figures.committed, hefei.deeper) == (
        200_000_00,
        spent,
        True,
    )
    assert rows[("芜湖市总工会", False)].figures.total == 50_000_00
    assert view.total.total == 1_000_000_00
    month = next(m for m in view.months if m.committed)
    assert month.committed == spent and month.paid == 0
    page = response.content.decode()
    assert 'id="fund-chart-data"' in page and "echarts.min.js" in page
    # One level down: Hefei's own budget is empty, Yaohai is the row.
    response = client.get(url, {"year": YEAR, "org": province.hefei.pk})
    rows = {r.organisation.name: r for r in response.context["view"].rows}
    assert set(rows) == {"瑶海区总工会"} and rows["瑶海区总工会"].figures.committed == spent
    assert [o.name for o in response.context["view"].path] == ["安徽省总工会", "合肥市总工会"]


def test_the_fund_view_is_scoped(client: Client, province: Province) -> None:
    money = build_money(province)
    url = reverse("fund-report", args=[money.fund.pk])
    assert logged_in(client, money.fred).get(url, {"org": province.hefei.pk}).status_code == 404
    response = logged_in(client, money.fred).get(url, {"year": YEAR})
    assert [r.organisation for r in response.context["view"].rows] == [province.yaohai]
    wuhu = user("wendy", Role.FUND_OFFICER, province.wuhu)
    assert logged_in(Client(), wuhu).get(url).status_code == 404  # no budget: no fund
    assert logged_in(Client(), province.alice).get(url).status_code == 403


def test_the_fund_view_runs_a_constant_number_of_queries(
    client: Client, province: Province, django_assert_num_queries: object
) -> None:
    money = build_money(province)
    url = reverse("fund-report", args=[money.fund.pk]) + f"?year={YEAR}"
    logged_in(client, money.fiona)
    few = count_queries(client, url)
    for index in range(6):
        city = organisation(f"城市{index}", OrganisationKind.CITY, province.anhui, None)
        funds.allocate(money.fiona, money.province_budget, city, 1_000_00)
    approved_line(province, money)
    with django_assert_num_queries(few):  # type: ignore[operator]
        response = client.get(url)
    assert len(response.context["view"].rows) == 8  # own, Hefei and 6 cities


def test_every_figure_drills_down_to_the_entries_behind_it(
    client: Client, province: Province
) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    spent = approved_line(province, money)
    view = reverse("fund-report", args=[money.fund.pk])
    logged_in(client, money.fiona)
    report = client.get(view, {"year": YEAR}).context["view"]
    url = reverse("fund-entries", args=[money.fund.pk])
    for row in report.rows:
        for measure in ("total", "available", "committed", "paid"):
            params = {"year": YEAR, "org": row.organisation.pk, "measure": measure}
            if row.own:
                params["own"] = "1"
            response = client.get(url, params)
            assert response.context["total"] == row.figures.get(measure), (row, measure)
    month = next(m for m in report.months if m.committed)
    response = client.get(url, {"year": YEAR, "measure": "committed", "month": month.label})
    assert response.context["total"] == spent
    page = response.content.decode()
    assert "张伟" in page and "Medical aid" in page
    assert client.get(url, {"year": YEAR, "month": "March"}).status_code == 400


def test_the_fund_view_exports_to_xlsx_and_logs_it(client: Client, province: Province) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    url = reverse("fund-report-xlsx", args=[money.fund.pk])
    response = logged_in(client, province.leo).get(url, {"year": YEAR})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:2] == ("Organisation", "Budget")
    by_name = {row[0]: row for row in rows[2:]}
    assert by_name["安徽省总工会 (own budget)"][1] == 800_000
    assert by_name["合肥市总工会"][1] == 200_000
    assert by_name["Total"][1] == 1_000_000
    assert sheet["B3"].number_format == "#,##0.00"
    assert len(list(book.worksheets[1].iter_rows())) == 13  # header and 12 months
    entry = AuditEntry.objects.get(action="export", model="assistance.fundview")
    assert entry.actor == province.leo and entry.changes["filters"]["fund"] == "ZY-2026"


def test_the_fund_page_works_without_the_chart_library(client: Client, province: Province) -> None:
    """The chart script is an addition: the tables carry every figure without it."""
    money = build_money(province)
    page = logged_in(client, money.fiona).get(reverse("fund-report", args=[money.fund.pk]))
    body = page.content.decode()
    assert 'id="by-organisation"' in body and 'id="by-month"' in body
    assert 'id="fund-chart"' in body and "hidden" in body.split('id="fund-chart"')[1][:200]


# --- payment batches ---------------------------------------------------------------------------

ICBC = "中国工商银行"


def card_number(seed: int) -> str:
    body = f"622202{seed:012d}"
    return body + luhn.calc_check_digit(body)


def approved_with_card(p: Province, money: Money, name: str, amount_fen: int) -> AssistanceLine:
    file = filed(p, size=1, wages="3000", illness="10000", name=name)
    line = planning.add_line(
        p.alice,
        file,
        planning.LineInput(kind=AidKind.MEDICAL, amount_fen=amount_fen, fund=money.fund),
        YEAR,
    )
    line = planning.approve_line(p.rita, line)
    accounts.save_bank_account(
        p.alice,
        line.worker,
        bank_name=ICBC,
        account_number=card_number(line.pk),
        holder_name=name,
    )
    return line


def result_file(batch: PaymentBatch, statuses: dict[str, tuple[str, str]]) -> bytes:
    """The bank's answer, in GBK with a title row: {payee: (状态, 失败原因)}."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["批量代付结果"])
    writer.writerow(["明细号", "户名", "账号", "金额", "状态", "失败原因"])
    for p in batch.payments.order_by("id"):
        status, reason = statuses[p.payee_name]
        amount = f"{to_yuan(p.amount_fen):,}"
        writer.writerow([p.pk, p.payee_name, p.account_number, amount, status, reason])
    writer.writerow(["9999", "无此人", "6222020000000000000", "1.00", "成功", ""])
    return out.getvalue().encode("gbk")


def test_a_batch_is_created_exported_and_settled_from_the_pages(
    client: Client, province: Province
) -> None:
    money = build_money(province, yaohai_yuan=100_000)
    paid = approved_with_card(province, money, "张伟", 3_000_00)
    failed = approved_with_card(province, money, "李娜", 1_234_50)
    logged_in(client, money.fred)
    response = client.post(reverse("batch-new"), {"fund": money.fund.pk})
    batch = PaymentBatch.objects.get()
    assert response["Location"] == reverse("batch-detail", args=[batch.pk])
    page = client.get(response["Location"]).content.decode()
    assert card_number(paid.pk) in page  # the fund officer may see whole cards
    assert "4,234.50" in page
    # The auditor reads the batch with cards masked.
    audited = logged_in(Client(), province.audrey).get(response["Location"]).content.decode()
    assert card_number(paid.pk) not in audited and mask_card(card_number(paid.pk)) in audited
    export = client.post(reverse("batch-export", args=[batch.pk]), {"format": "xlsx"})
    assert export["Content-Disposition"] == f'attachment; filename="{batch.number}.xlsx"'
    assert load_workbook(io.BytesIO(export.content)).worksheets[0].max_row == 3
    export = client.post(reverse("batch-export", args=[batch.pk]), {"format": "csv"})
    assert "张伟" in export.content.decode("gb18030")
    data = result_file(batch, {"张伟": ("成功", ""), "李娜": ("失败", "账户已销户")})
    upload = SimpleUploadedFile("result.csv", data, "text/csv")
    response = client.post(reverse("batch-import", args=[batch.pk]), {"result": upload})
    report = response.context["report"]
    assert (report.rows, report.paid, report.failed, len(report.rejected)) == (3, 1, 1, 1)
    page = response.content.decode()
    assert "is not in batch" in page and 'id="rejected"' in page
    paid.refresh_from_db()
    failed.refresh_from_db()
    assert (paid.status, failed.status) == (LineStatus.PAID, LineStatus.FAILED)
    assert balance_of(money.yaohai_budget).paid == 3_000_00
    # The same file again changes nothing.
    upload = SimpleUploadedFile("result.csv", data, "text/csv")
    again = client.post(reverse("batch-import", args=[batch.pk]), {"result": upload})
    assert again.context["report"].already_imported
    assert balance_of(money.yaohai_budget).paid == 3_000_00
    # Later the bank sends 张伟's money back: the fund officer reverses the payment.
    payment = batch.payments.get(line=paid)
    reverse_url = reverse("payment-reverse", args=[payment.pk])
    assert reverse_url in client.get(reverse("batch-detail", args=[batch.pk])).content.decode()
    assert client.post(reverse_url, {"reason": "银行退票"}).status_code == 302
    paid.refresh_from_db()
    assert paid.status == LineStatus.FAILED and paid.failure_reason == "银行退票"
    assert balance_of(money.yaohai_budget).paid == 0
    assert client.post(reverse_url, {"reason": "again"}).status_code == 409


def test_a_batch_with_nothing_to_pay_is_refused_on_the_field(
    client: Client, province: Province
) -> None:
    money = build_money(province)
    response = logged_in(client, money.fred).post(reverse("batch-new"), {"fund": money.fund.pk})
    assert response.status_code == 400
    assert "ready to be paid" in response.context["form"].errors["fund"][0]
    assert not PaymentBatch.objects.exists()
    assert logged_in(Client(), province.alice).get(reverse("batch-list")).status_code == 403


def test_failed_payments_are_fixed_or_cancelled(client: Client, province: Province) -> None:
    money = build_money(province, yaohai_yuan=100_000)
    first = approved_with_card(province, money, "张伟", 3_000_00)
    second = approved_with_card(province, money, "李娜", 1_000_00)
    batched = payments.create_batch(money.fred, money.fund)
    payments.export_batch(money.fred, batched.batch, "csv")
    data = result_file(batched.batch, {"张伟": ("失败", "户名不符"), "李娜": ("失败", "卡已挂失")})
    payments.import_result(money.fred, batched.batch, "r.csv", data)
    logged_in(client, province.alice)
    page = client.get(reverse("failed-list")).content.decode()
    assert "户名不符" in page and "卡已挂失" in page
    # A mistyped card is refused on its field; a good one is saved.
    url = reverse("failed-card", args=[first.pk])
    form = {"bank_name": ICBC, "account_number": "6222020000000000001", "holder_name": "张伟"}
    response = client.post(url, form)
    assert response.status_code == 400
    assert "check digit" in response.context["form"].errors["account_number"][0]
    response = client.post(url, form | {"account_number": card_number(77)})
    assert response.status_code == 302
    # The second line is cancelled: its money goes back to the budget.
    cancel = reverse("failed-cancel", args=[second.pk])
    assert client.post(cancel, {"reason": "本人放弃"}).status_code == 302
    second.refresh_from_db()
    assert second.status == LineStatus.CANCELLED
    assert balance_of(money.yaohai_budget).committed == 3_000_00
    # The next batch pays the fixed line again.
    again = payments.create_batch(money.fred, money.fund)
    assert again.count == 1 and again.batch.payments.get().account_number == card_number(77)
