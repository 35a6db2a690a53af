"""The API of the household side of assistance: lines of a plan and campaigns, through the
same services as the pages, scoped and with errors that name the field."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from gonghui.accounts.models import User
from gonghui.assistance.choices import AidKind, LineStatus
from gonghui.assistance.models import AssistanceLine, CampaignTarget, Visit
from gonghui.audit.models import AuditEntry
from tests.aid import YEAR, build_money
from tests.cases import filed
from tests.factories import PASSWORD, Province
from tests.test_campaigns import VISITED, campaign_at, world
from tests.web_helpers import png_bytes


def client_for(user: User) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_a_plan_is_proposed_edited_and_approved_through_the_api(province: Province) -> None:
    money = build_money(province)
    file = filed(province, size=3, wages="6000", illness="10000")
    alice, rita = client_for(province.alice), client_for(province.rita)
    response = alice.post("/api/aid/lines/propose/", {"file": file.pk, "year": YEAR}, "json")
    assert response.status_code == 201, response.content
    medical = next(row for row in response.json() if row["aid_kind"] == AidKind.MEDICAL)
    assert (medical["amount"], medical["cap"], medical["cap_rule"]) == (
        "8000.00",
        "8000.00",
        "medical_ratio",
    )
    assert medical["cap_text"].startswith("Medical aid: 80% of the self-paid 10,000.00 yuan")
    url = f"/api/aid/lines/{medical['id']}/"
    response = alice.patch(url, {"amount": "8000.01", "fund": money.fund.pk}, "json")
    assert response.status_code == 400
    assert response.json()["field"] == "amount" and "8,000.00" in response.json()["detail"]
    response = alice.patch(url, {"amount": "7,500", "fund": money.fund.pk}, "json")
    assert response.status_code == 400 and response.json()["field"] == "amount"
    response = alice.patch(url, {"amount": "7500.00", "fund": money.fund.pk}, "json")
    assert response.status_code == 200
    assert (response.json()["amount"], response.json()["fund"]) == ("7500.00", money.fund.pk)
    # Four eyes: the maker has no right to approve; the reviewer does.
    assert alice.post(f"{url}approve/").status_code == 403
    response = rita.post(f"{url}approve/")
    assert response.status_code == 200
    assert (response.json()["line_status"], response.json()["approved_by"]) == ("approved", "rita")
    assert AuditEntry.objects.filter(
        model="assistance.assistanceline", object_id=str(medical["id"]), source="api"
    ).exists()
    listed = rita.get("/api/aid/lines/", {"file": file.pk, "line_status": "approved"}).json()
    assert [row["id"] for row in listed["results"]] == [medical["id"]]


def test_lines_are_added_cancelled_and_approved_in_bulk(province: Province) -> None:
    money = build_money(province)
    file = filed(province, size=3, wages="6000", illness="10000")
    alice, rita = client_for(province.alice), client_for(province.rita)
    body = {"file": file.pk, "year": YEAR, "aid_kind": "training", "cash": False}
    response = alice.post("/api/aid/lines/", {**body, "description": "叉车培训"}, "json")
    assert response.status_code == 201 and response.json()["cash"] is False
    body = {"file": file.pk, "year": YEAR, "aid_kind": "medical", "amount": "3000", "fund": 999999}
    response = alice.post("/api/aid/lines/", body, "json")
    assert response.status_code == 400 and response.json()["field"] == "fund"
    body["fund"] = money.holiday.pk
    response = alice.post("/api/aid/lines/", body, "json")
    assert response.status_code == 400 and "专款专用" in response.json()["detail"]
    body["fund"] = money.fund.pk
    first = alice.post("/api/aid/lines/", body, "json").json()
    second = alice.post("/api/aid/lines/", {**body, "amount": "1000"}, "json").json()
    response = alice.post(f"/api/aid/lines/{second['id']}/cancel/", {"reason": "重复"}, "json")
    assert response.status_code == 200 and response.json()["line_status"] == "cancelled"
    response = rita.post("/api/aid/lines/approve-many/", {"lines": [first["id"]]}, "json")
    assert response.json() == {"count": 1, "total": "3000.00", "skipped": 0}
    response = rita.post("/api/aid/lines/approve-many/", {"lines": [first["id"]]}, "json")
    assert response.json() == {"count": 0, "total": "0.00", "skipped": 1}
    assert AssistanceLine.objects.get(pk=first["id"]).status == LineStatus.APPROVED


def test_an_outsider_gets_404_on_lines_and_files(province: Province) -> None:
    money = build_money(province)
    file = filed(province, size=3, wages="6000", illness="10000")
    line = AssistanceLine.objects.get(
        pk=client_for(province.alice)
        .post("/api/aid/lines/propose/", {"file": file.pk, "year": YEAR}, "json")
        .json()[0]["id"]
    )
    charlie = client_for(province.charlie)
    assert charlie.get(f"/api/aid/lines/{line.pk}/").status_code == 404
    assert charlie.post(f"/api/aid/lines/{line.pk}/cancel/").status_code == 404
    patch = {"amount": "1", "fund": money.fund.pk}
    assert charlie.patch(f"/api/aid/lines/{line.pk}/", patch, "json").status_code == 404
    assert charlie.get("/api/aid/lines/").json()["count"] == 0
    response = charlie.post("/api/aid/lines/propose/", {"file": file.pk}, "json")
    assert response.status_code == 400 and response.json()["field"] == "file"
    assert AssistanceLine.objects.get(pk=line.pk).status == LineStatus.PLANNED


def test_campaigns_progress_and_a_visit_through_the_api(province: Province) -> None:
    w = world(province)
    campaign = campaign_at(province, w)
    alice = client_for(province.alice)
    listed = alice.get("/api/aid/campaigns/").json()
    assert [row["id"] for row in listed["results"]] == [campaign.pk]
    targets = alice.get(f"/api/aid/campaigns/{campaign.pk}/targets/", {"visited": "false"})
    assert targets.json()["count"] == 3
    target = CampaignTarget.objects.get(campaign=campaign, worker=w.rider)
    url = f"/api/aid/targets/{target.pk}/visit/"
    data = {"visited_on": VISITED.isoformat(), "visitors": "区总工会主席", "goods": "防寒服"}
    response = alice.post(url, {**data, "cash": "300.01"}, "json")
    assert response.status_code == 400 and response.json()["field"] == "cash"
    photo = SimpleUploadedFile("visit.png", png_bytes(), "image/png")
    response = alice.post(url, {**data, "cash": "300", "photo": photo}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["cash"] == "300.00"
    assert Visit.objects.get(target=target).photo.name.endswith(".png")
    assert alice.post(url, {**data, "cash": "300"}, "json").status_code == 409
    rows = alice.get(f"/api/aid/campaigns/{campaign.pk}/progress/").json()
    total = rows[-1]
    assert (total["organisation"], total["targets"], total["visited"], total["cash"]) == (
        None,
        3,
        1,
        "300.00",
    )
    charlie = client_for(province.charlie)
    assert charlie.post(url, data, "json").status_code == 404
    yaohai_campaign = campaign_at(province, w, province.yaohai)
    assert charlie.get(f"/api/aid/campaigns/{yaohai_campaign.pk}/").status_code == 404
    assert charlie.get(f"/api/aid/campaigns/{yaohai_campaign.pk}/progress/").status_code == 404


def test_the_schema_documents_the_assistance_endpoints(province: Province) -> None:
    schema = json.loads(APIClient().get("/api/schema/", {"format": "json"}).content)
    validate_schema(schema)
    for path in (
        "/api/aid/lines/",
        "/api/aid/lines/{id}/approve/",
        "/api/aid/lines/approve-many/",
        "/api/aid/campaigns/{id}/progress/",
        "/api/aid/targets/{id}/visit/",
    ):
        assert path in schema["paths"], path
