"""The REST API: scope, masking, the workflow through HTTP, errors, query counts, schema."""

from __future__ import annotations

import base64
import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from gonghui.accounts.models import User
from gonghui.audit.models import AuditEntry
from gonghui.hardship import services
from gonghui.hardship.choices import (
    EventKind,
    ExitKind,
    FileStatus,
    HardshipCategory,
    HardshipCause,
    IncomeKind,
)
from gonghui.hardship.models import Attachment, HardshipFile, IncomeLine
from gonghui.hardship.services import Application, Line, Visit
from gonghui.people.idnumber import make_id_number, mask_id_number
from gonghui.people.models import Household, Worker
from tests.factories import PASSWORD, Province, household, worker

APPLIED = datetime.date(2024, 3, 1)  # Hefei 2024: 低保 620
ACTIONS = [
    "finances",
    "investigation",
    "submit",
    "review",
    "approve",
    "reject",
    "periodic-review",
    "income-reading",
    "exit",
    "reopen",
]


def client_for(user: User, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def home_of(p: Province) -> Household:
    return household(p.yaohai_union, p.yaohai_region, worker(p.yaohai_union, p.yaohai_region))


def opened(p: Province) -> HardshipFile:
    """A draft file of a household of three at Yaohai, made through the services."""
    head = worker(p.yaohai_union, p.yaohai_region)
    application = Application(
        household=household(p.yaohai_union, p.yaohai_region, head),
        applicant=head,
        primary_cause=HardshipCause.MAJOR_ILLNESS,
        applied_on=APPLIED,
    )
    file = services.open_application(p.alice, application)
    return services.set_finances(p.alice, file, [Line(IncomeKind.WAGES, Decimal("18000"))], [])


def filed(p: Province) -> HardshipFile:
    file = opened(p)
    services.record_investigation(p.alice, file, Visit(visited_on=APPLIED, findings="属实"))
    file = services.submit_for_notice(p.alice, HardshipFile.objects.get(pk=file.pk))
    end_notice(file)
    return services.approve(p.carl, services.review(p.rita, file))


def end_notice(file: HardshipFile) -> None:
    HardshipFile.objects.filter(pk=file.pk).update(notice_end=datetime.date(2024, 3, 10))


def url(file: HardshipFile | int, action: str = "") -> str:
    pk = file if isinstance(file, int) else file.pk
    return f"/api/files/{pk}/{action}/" if action else f"/api/files/{pk}/"


# --- scope -------------------------------------------------------------------------------


def test_it_lists_only_the_files_in_the_users_subtree(province: Province) -> None:
    first, second = opened(province), opened(province)
    alice = client_for(province.alice).get("/api/files/")
    assert alice.status_code == 200
    assert {row["id"] for row in alice.json()["results"]} == {first.pk, second.pk}
    charlie = client_for(province.charlie).get("/api/files/")
    assert charlie.status_code == 200
    assert charlie.json()["count"] == 0
    assert client_for(province.charlie).get("/api/files/", {"q": first.number}).json()["count"] == 0


def test_the_outsider_gets_404_on_the_file_and_on_every_action(province: Province) -> None:
    file = opened(province)
    charlie = client_for(province.charlie)
    assert charlie.get(url(file)).status_code == 404
    for action in ACTIONS:
        response = charlie.post(url(file, action), {}, format="json")
        assert response.status_code == 404, action
    assert HardshipFile.objects.get(pk=file.pk).status == FileStatus.DRAFT
    assert not file.events.exclude(actor=province.alice).exists()


def test_the_outsider_cannot_open_a_file_for_a_household_outside_their_subtree(
    province: Province,
) -> None:
    home = home_of(province)
    response = client_for(province.charlie).post("/api/files/", open_body(home), format="json")
    assert response.status_code == 404
    assert not HardshipFile.objects.filter(household=home).exists()


def test_the_list_filters_by_status_and_searches_by_name(province: Province) -> None:
    draft, other = opened(province), opened(province)
    Worker.objects.filter(pk=other.applicant_id).update(name="李娜")
    client = client_for(province.alice)
    assert client.get("/api/files/", {"q": "李"}).json()["count"] == 1
    assert client.get("/api/files/", {"status": "draft"}).json()["count"] == 2
    assert client.get("/api/files/", {"status": "filed"}).json()["count"] == 0
    bad = client.get("/api/files/", {"status": "lost"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "status"
    assert draft.pk in {row["id"] for row in client.get("/api/files/").json()["results"]}


# --- personal data -------------------------------------------------------------------------


def test_the_leader_sees_masked_numbers_and_the_case_worker_sees_them_in_full(
    province: Province,
) -> None:
    file = opened(province)
    applicant = file.applicant
    leo = client_for(province.leo).get(url(file)).json()
    assert leo["applicant"]["id_number"] == mask_id_number(applicant.id_number)
    assert leo["applicant"]["phone"].count("*") == 4
    assert leo["household"]["members"][0]["birth_date"] is None
    alice = client_for(province.alice).get(url(file)).json()
    assert alice["applicant"]["id_number"] == applicant.id_number
    assert alice["applicant"]["phone"] == applicant.phone
    assert alice["household"]["members"][0]["birth_date"] == applicant.birth_date.isoformat()
    # Lists are masked for everyone, whatever the role.
    row = client_for(province.alice).get("/api/files/").json()["results"][0]
    assert row["applicant"]["id_number"] == mask_id_number(applicant.id_number)


# --- the workflow ----------------------------------------------------------------------------


def open_body(home: Household, **extra: Any) -> dict[str, Any]:
    head = home.members.get(relation="self").worker
    assert head is not None
    return {
        "household": home.pk,
        "applicant": head.pk,
        "primary_cause": HardshipCause.MAJOR_ILLNESS,
        "secondary_causes": [HardshipCause.CHILDREN_IN_SCHOOL],
        "applied_on": APPLIED.isoformat(),
        "income_pledge": True,
        "finance_check_authorised": True,
        **extra,
    }


def test_it_walks_a_household_from_application_to_filing(province: Province) -> None:
    alice, rita, carl = (client_for(u) for u in (province.alice, province.rita, province.carl))
    home = home_of(province)

    response = alice.post("/api/files/", open_body(home), format="json")
    assert response.status_code == 201, response.json()
    file_id = response.json()["id"]
    assert response.json()["status"] == FileStatus.DRAFT
    assert [c["code"] for c in response.json()["causes"]] == [6, 9]

    member = home.members.get(relation="spouse")
    finances = {
        "incomes": [{"kind": "wages", "amount": "18000.00", "member": member.pk}],
        "expenses": [{"kind": "illness", "amount": "1200.5", "note": "住院自付"}],
    }
    response = alice.post(url(file_id, "finances"), finances, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["incomes"][0]["amount"] == "18000.00"
    assert body["expenses"][0]["amount"] == "1200.50"
    assert body["assessment"]["per_capita_income"] == "466.65"  # (18000 - 1200.5) / 3 / 12
    assert body["assessment"]["category"] == HardshipCategory.DEEP
    assert body["assessment"]["trace"][0]["text"]

    photo = SimpleUploadedFile("door.jpg", b"\xff\xd8jpeg", content_type="image/jpeg")
    visit = {
        "visited_on": APPLIED.isoformat(),
        "findings": "住房简陋，丈夫患病卧床。",
        "attachments": [photo],
        "captions": ["门口"],
    }
    response = alice.post(url(file_id, "investigation"), visit, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == FileStatus.INVESTIGATED
    assert response.json()["investigations"][0]["household_confirmed"] is True
    assert Attachment.objects.get(file_id=file_id).caption == "门口"

    response = alice.post(url(file_id, "submit"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == FileStatus.NOTICE

    early = rita.post(url(file_id, "review"), {}, format="json")
    assert early.status_code == 400
    assert early.json()["field"] == "notice_end"

    end_notice(HardshipFile.objects.get(pk=file_id))
    response = rita.post(url(file_id, "review"), {"note": "公示无异议"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == FileStatus.REVIEWED

    # The one who submitted may not approve, even with a reviewer's role.
    User.objects.filter(pk=province.alice.pk).update(role="reviewer")
    refused = alice.post(url(file_id, "approve"), {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["field"] == "status"
    assert HardshipFile.objects.get(pk=file_id).status == FileStatus.REVIEWED

    response = carl.post(url(file_id, "approve"), {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == FileStatus.FILED
    assert response.json()["category"] == HardshipCategory.DEEP

    again = rita.post(url(file_id, "approve"), {}, format="json")
    assert again.status_code == 409
    assert again.json()["field"] == "status"
    file = HardshipFile.objects.get(pk=file_id)
    assert file.approved_by == province.carl
    assert list(file.events.values_list("kind", flat=True))[-4:] == [
        EventKind.INVESTIGATED,
        EventKind.NOTICE,
        EventKind.REVIEWED,
        EventKind.FILED,
    ]


def test_a_filed_household_is_reviewed_measured_exited_and_reopened(province: Province) -> None:
    file = filed(province)
    alice = client_for(province.alice)
    response = alice.post(url(file, "periodic-review"), {"note": "年审"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["events"][-1]["kind"] == EventKind.ANNUAL_REVIEW

    reading = {"month": "2026-05-17", "per_capita_income": "700.00"}
    response = alice.post(url(file, "income-reading"), reading, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["readings"] == [
        {"month": "2026-05-01", "per_capita_income": "700.00", "living_standard": "680.00"}
    ]

    too_soon = {"exit_kind": ExitKind.RECOVERED, "exit_on": "2026-06-01"}
    response = alice.post(url(file, "exit"), too_soon, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "exit_kind"

    stabilised = {**too_soon, "exit_kind": ExitKind.STABILISED, "exit_reason": "低保兜底"}
    response = alice.post(url(file, "exit"), stabilised, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == FileStatus.CLOSED
    assert len(response.json()["follow_ups"]) == 3

    blank = alice.post(url(file, "reopen"), {"reason": " "}, format="json")
    assert blank.status_code == 400
    assert blank.json()["field"] == "reason"
    response = alice.post(url(file, "reopen"), {"reason": "丈夫再次住院"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == FileStatus.DRAFT
    assert response.json()["reopen_count"] == 1


def test_a_case_worker_rejects_a_draft_with_a_reason(province: Province) -> None:
    file = opened(province)
    alice = client_for(province.alice)
    assert alice.post(url(file, "reject"), {"reason": ""}, format="json").status_code == 400
    response = alice.post(url(file, "reject"), {"reason": "有两套住房"}, format="json")
    assert response.status_code == 200
    file.refresh_from_db()
    assert (file.status, file.rejection_reason) == (FileStatus.REJECTED, "有两套住房")


def test_a_role_without_the_right_gets_403(province: Province) -> None:
    file = opened(province)
    response = client_for(province.leo).post(url(file, "reject"), {"reason": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Your role does not allow this."


# --- errors ----------------------------------------------------------------------------------


def test_a_bad_amount_is_refused_naming_the_field(province: Province) -> None:
    file = opened(province)
    bad = {"incomes": [{"kind": "wages", "amount": "12,3a"}], "expenses": []}
    response = client_for(province.alice).post(url(file, "finances"), bad, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "incomes.0.amount"
    assert body["detail"] == "A valid number is required."
    assert list(IncomeLine.objects.filter(file=file).values_list("amount", flat=True)) == [
        Decimal("18000.00")
    ]


def test_messages_follow_the_accept_language_header(province: Province) -> None:
    file = opened(province)
    bad = {"incomes": [{"kind": "wages", "amount": "12,3a"}], "expenses": []}
    client = client_for(province.alice, language="zh-hans")
    response = client.post(url(file, "finances"), bad, format="json")
    assert response.json()["detail"] == "请填写合法的数字。"


def test_a_member_of_another_household_cannot_carry_a_line(province: Province) -> None:
    file, other = opened(province), home_of(province)
    stranger = other.members.first()
    assert stranger is not None
    lines = {"incomes": [{"kind": "wages", "amount": "1", "member": stranger.pk}], "expenses": []}
    response = client_for(province.alice).post(url(file, "finances"), lines, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "incomes"


def test_a_service_refusal_names_its_field(province: Province) -> None:
    home = home_of(province)
    body = open_body(home, secondary_causes=[1, 2, 3, 4])
    response = client_for(province.alice).post("/api/files/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "secondary_causes"
    assert response.json()["errors"] == {"secondary_causes": ["At most three secondary causes."]}


# --- queue -----------------------------------------------------------------------------------


def test_the_queue_lists_what_needs_the_user(province: Province) -> None:
    file = opened(province)
    alice = client_for(province.alice)
    rows = alice.get("/api/queue/").json()["results"]
    assert [(row["id"], row["queue_reason"]) for row in rows] == [(file.pk, "overdue")]
    assert alice.get("/api/queue/", {"kind": "submit"}).json()["count"] == 0
    counts = {row["queue_reason"]: row["count"] for row in alice.get("/api/queue/counts/").json()}
    assert counts["overdue"] == 1
    assert counts["submit"] == 0
    assert client_for(province.charlie).get("/api/queue/").json()["count"] == 0


# --- people ----------------------------------------------------------------------------------


def test_a_bad_id_number_is_refused_naming_the_field(province: Province) -> None:
    number = make_id_number("340102", datetime.date(1990, 1, 1), 123)
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    body = {"id_number": wrong, "name": "王芳", "region": "340102"}
    response = client_for(province.alice).post("/api/workers/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "id_number"
    assert "check digit" in response.json()["detail"]
    assert not Worker.objects.filter(name="王芳").exists()


def test_a_case_worker_registers_and_corrects_a_worker(province: Province) -> None:
    number = make_id_number("340102", datetime.date(1990, 1, 1), 124)
    spaced = f"{number[:6]} {number[6:14]} {number[14:]}"
    alice = client_for(province.alice)
    body = {"id_number": spaced, "name": "王芳", "region": "340102", "phone": "139 0000 1111"}
    response = alice.post("/api/workers/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["id_number"], created["sex"], created["birth_date"]) == (
        number,
        "F",
        "1990-01-01",
    )
    assert created["organisation"]["id"] == province.yaohai.pk
    worker_url = f"/api/workers/{created['id']}/"
    response = alice.patch(worker_url, {"phone": "12345"}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "phone"
    response = alice.patch(worker_url, {"phone": "13800001234"}, format="json")
    assert response.status_code == 200
    assert Worker.objects.get(pk=created["id"]).phone == "13800001234"
    assert client_for(province.charlie).get(worker_url).status_code == 404
    assert client_for(province.charlie).patch(worker_url, {"name": "x"}).status_code == 404
    leo = client_for(province.leo)
    assert leo.get(worker_url).json()["id_number"] == mask_id_number(number)
    assert leo.patch(worker_url, {"name": "x"}, format="json").status_code == 403


def test_a_worker_cannot_be_placed_in_an_organisation_outside_the_subtree(
    province: Province,
) -> None:
    number = make_id_number("340102", datetime.date(1990, 1, 1), 125)
    body = {"id_number": number, "name": "王芳", "region": "340102"}
    body["organisation"] = province.jinghu.pk  # type: ignore[assignment]
    response = client_for(province.alice).post("/api/workers/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "organisation"


def test_the_worker_list_is_scoped_searched_and_masked(province: Province) -> None:
    ours = worker(province.yaohai_union, province.yaohai_region, name="赵敏")
    worker(province.jinghu_union, province.jinghu_region, name="赵雷")
    alice = client_for(province.alice)
    rows = alice.get("/api/workers/", {"q": "赵"}).json()["results"]
    assert [row["id"] for row in rows] == [ours.pk]
    assert rows[0]["id_number"] == mask_id_number(ours.id_number)
    assert rows[0]["birth_date"] is None
    assert alice.get("/api/workers/", {"q": ours.id_number}).json()["count"] == 1


def test_a_household_shows_its_members_and_files(province: Province) -> None:
    file = opened(province)
    path = f"/api/households/{file.household_id}/"
    body = client_for(province.alice).get(path).json()
    assert len(body["members"]) == 3
    assert [f["number"] for f in body["files"]] == [file.number]
    assert client_for(province.charlie).get(path).status_code == 404


# --- audit, query counts, schema -----------------------------------------------------------


def test_changes_made_with_basic_auth_are_attributed_to_the_user(province: Province) -> None:
    file = opened(province)
    token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    client = APIClient(HTTP_AUTHORIZATION=f"Basic {token}")
    response = client.post(url(file, "reject"), {"reason": "不符合条件"}, format="json")
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(model="hardship.hardshipfile", object_id=str(file.pk))
    last = entry.order_by("-id").first()
    assert last is not None
    assert (last.actor, last.source) == (province.alice, "api")


def test_anonymous_requests_are_refused(province: Province) -> None:
    assert APIClient().get("/api/files/").status_code in {401, 403}


def _list_queries(client: APIClient, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.parametrize("path", ["/api/files/", "/api/queue/", "/api/workers/"])
def test_lists_take_the_same_number_of_queries_for_3_or_20_rows(
    province: Province, path: str
) -> None:
    for _ in range(3):
        opened(province)
    client = client_for(province.alice)
    few = _list_queries(client, path)
    for _ in range(17):
        opened(province)
    assert _list_queries(client, path) == few


def test_the_file_page_takes_a_fixed_number_of_queries(province: Province) -> None:
    file = filed(province)
    client = client_for(province.alice)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(file)).status_code == 200
    assert len(queries) <= 16


def test_the_schema_is_valid_openapi_3(province: Province) -> None:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert "/api/files/{id}/approve/" in schema["paths"]
    docs = APIClient().get("/api/docs/")
    assert docs.status_code == 200
    assert "/api/files/{id}/periodic-review/" in docs.content.decode()
