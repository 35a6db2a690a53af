"""The fund side of the API: funds, budgets with balances, allocation, payment batches, the
bank file and its result, through the same services as the pages."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from rest_framework.test import APIClient

from gonghui.accounts.models import User
from gonghui.assistance import funds
from gonghui.assistance.choices import LedgerKind, LineStatus
from gonghui.assistance.ledger import balance_of
from gonghui.assistance.models import Budget, Fund, LedgerEntry, PaymentBatch
from gonghui.assistance.money import to_yuan
from gonghui.audit.models import AuditEntry
from gonghui.organisations.choices import OrganisationKind
from tests.aid import YEAR, build_money
from tests.factories import PASSWORD, Province, organisation
from tests.test_web_funds import approved_with_card

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_funds_are_listed_in_scope_and_defined(province: Province) -> None:
    money = build_money(province)
    body = client_for(money.fred).get("/api/funds/").json()
    assert [f["code"] for f in body["results"]] == ["ZY-2026"]
    data = {"code": "JZ-2026", "name": "社会捐赠", "source": "donation", "purposes": ["living"]}
    response = client_for(money.fiona).post("/api/funds/", data, format="json")
    assert response.status_code == 201 and response.json()["purposes"] == ["living"]
    assert Fund.objects.get(code="JZ-2026").organisation == province.anhui
    refused = client_for(money.fiona).post("/api/funds/", data, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "code"
    assert client_for(province.alice).get("/api/funds/").status_code == 403


def test_budgets_come_with_their_balances_in_constant_queries(province: Province) -> None:
    money = build_money(province, province_yuan=1_000_000, yaohai_yuan=200_000)
    client = client_for(money.fiona)
    body = client.get("/api/budgets/", {"fund": "ZY-2026", "year": YEAR}).json()
    by_org = {row["organisation"]["name"]: row["balance"] for row in body["results"]}
    assert by_org["安徽省总工会"] == {
        "total": "800000.00",
        "available": "800000.00",
        "committed": "0.00",
        "paid": "0.00",
    }
    assert by_org["瑶海区总工会"]["available"] == "200000.00"
    with CaptureQueriesContext(connection) as few:
        client.get("/api/budgets/")
    for index in range(5):
        union = organisation(f"工会{index}", OrganisationKind.GRASSROOTS, province.yaohai, None)
        funds.allocate(money.fred, money.yaohai_budget, union, 1_00)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/budgets/").json()["results"]) == 7
    assert len(many.captured_queries) == len(few.captured_queries)
    assert client_for(province.charlie).get(
        f"/api/budgets/{money.yaohai_budget.pk}/"
    ).status_code in (
        403,
        404,
    )


def test_money_is_received_and_allocated(province: Province) -> None:
    money = build_money(province, province_yuan=300_000, yaohai_yuan=200_000)
    client = client_for(money.fiona)
    url = f"/api/budgets/{money.province_budget.pk}/"
    response = client.post(url + "receive/", {"amount": "1000.50", "memo": "利息"}, format="json")
    assert response.json()["balance"]["available"] == "101000.50"
    data = {"organisation": province.hefei.pk, "amount": "50000"}
    response = client.post(url + "allocate/", data, format="json")
    assert response.status_code == 200
    hefei = Budget.objects.get(organisation=province.hefei)
    assert response.json()["id"] == hefei.pk and response.json()["balance"]["total"] == "50000.00"
    assert balance_of(money.province_budget).available == 51_000_50
    too_much = client.post(url + "allocate/", data | {"amount": "60000"}, format="json")
    assert too_much.status_code == 400 and too_much.json()["field"] == "amount"
    assert LedgerEntry.objects.filter(kind=LedgerKind.ALLOCATE_OUT).count() == 2
    entry = AuditEntry.objects.filter(model="assistance.ledgerentry", source="api").first()
    assert entry is not None and entry.actor == money.fiona
    # The county officer cannot reach the province's budget.
    assert client_for(money.fred).post(url + "receive/", {"amount": "1"}).status_code == 404


def test_a_batch_is_created_exported_and_its_result_imported(province: Province) -> None:
    money = build_money(province, yaohai_yuan=100_000)
    line = approved_with_card(province, money, "张伟", 3_000_00)
    client = client_for(money.fred)
    response = client.post("/api/batches/", {"fund": "ZY-2026"}, format="json")
    assert response.status_code == 201, response.json()
    batch = PaymentBatch.objects.get()
    assert response.json()["total"] == "3000.00" and response.json()["payment_count"] == 1
    url = f"/api/batches/{batch.pk}/"
    xlsx = client.post(url + "export/", {"file_format": "xlsx"}, format="json")
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].endswith('.xlsx"')
    assert load_workbook(io.BytesIO(xlsx.content)).worksheets[0].max_row == 2
    exported = client.post(url + "export/", {"file_format": "csv"}, format="json")
    assert "张伟" in exported.content.decode("gb18030")
    payment = batch.payments.get()
    out = io.StringIO()
    csv.writer(out).writerows(
        [
            ["明细号", "户名", "账号", "金额", "状态"],
            [
                payment.pk,
                "张伟",
                payment.account_number,
                f"{to_yuan(payment.amount_fen):,}",
                "成功",
            ],
        ]
    )
    upload = SimpleUploadedFile("result.csv", out.getvalue().encode("gbk"), "text/csv")
    report = client.post(url + "import-result/", {"result": upload}, format="multipart").json()
    assert (report["rows"], report["paid"], report["rejected"]) == (1, 1, [])
    line.refresh_from_db()
    assert line.status == LineStatus.PAID
    assert client.get(url).json()["batch_status"] == "settled"
    assert client_for(province.charlie).get(url).status_code in (403, 404)
