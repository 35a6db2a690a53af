"""Households, members and workers through their forms: the models' checks speak."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from gonghui.audit.models import AuditEntry
from gonghui.people.idnumber import make_id_number
from gonghui.people.models import HouseholdMember
from tests.factories import Province
from tests.web_helpers import logged_in, open_file

MEMBER = {
    "name": "刘洋",
    "relation": "spouse",
    "birth_date": "",
    "health": "serious",
    "disability": "2",
    "schooling": "none",
    "employment": "unable",
    "monthly_income": "350",
}


@pytest.mark.django_db
def test_a_member_with_a_bad_id_number_is_refused(client: Client, province: Province) -> None:
    file = open_file(province)
    before = file.household.members.count()
    response = logged_in(client, province.alice).post(
        reverse("member-new", args=[file.household_id]),
        MEMBER | {"id_number": "340102198505170011"},
    )
    assert response.status_code == 400
    assert "The check digit is wrong" in response.content.decode()
    assert file.household.members.count() == before


@pytest.mark.django_db
def test_a_member_id_number_fills_the_birth_date(client: Client, province: Province) -> None:
    file = open_file(province)
    number = make_id_number("340102", file.applicant.birth_date, 26)
    response = logged_in(client, province.alice).post(
        reverse("member-new", args=[file.household_id]), MEMBER | {"id_number": number}
    )
    assert response.status_code == 302
    member = HouseholdMember.objects.get(id_number=number)
    assert member.birth_date == file.applicant.birth_date
    assert AuditEntry.objects.filter(
        model="people.householdmember", object_id=str(member.pk), actor=province.alice
    ).exists()


@pytest.mark.django_db
def test_a_member_is_edited(client: Client, province: Province) -> None:
    file = open_file(province)
    member = file.household.members.exclude(worker__isnull=False).first()
    assert member is not None
    url = reverse("member-edit", args=[file.household_id, member.pk])
    logged_in(client, province.alice)
    assert client.get(url).status_code == 200
    response = client.post(url, MEMBER | {"id_number": "", "monthly_income": "abc"})
    assert "The amount “abc” is not a number of yuan." in response.content.decode()
    response = client.post(url, MEMBER | {"id_number": "", "monthly_income": "1,200"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.name, str(member.monthly_income)) == ("刘洋", "1200.00")


@pytest.mark.django_db
def test_people_editing_needs_the_capability(client: Client, province: Province) -> None:
    file = open_file(province)
    logged_in(client, province.leo)
    assert client.get(reverse("household-detail", args=[file.household_id])).status_code == 200
    response = client.post(reverse("member-new", args=[file.household_id]), MEMBER)
    assert response.status_code == 403
    assert client.get(reverse("worker-edit", args=[file.applicant_id])).status_code == 403


@pytest.mark.django_db
def test_a_worker_is_edited_and_the_phone_checked(client: Client, province: Province) -> None:
    file = open_file(province)
    worker = file.applicant
    url = reverse("worker-edit", args=[worker.pk])
    data = {
        "id_number": worker.id_number,
        "name": "张伟",
        "phone": "12345",
        "region": "340102",
        "organisation": province.yaohai_union.pk,
        "employer": "",
    }
    logged_in(client, province.alice)
    page = client.get(url).content.decode()
    assert worker.id_number in page and "1985-05-17" in page  # derived, shown
    response = client.post(url, data)
    assert response.status_code == 400
    assert "A phone number is an 11-digit mobile number" in response.content.decode()
    response = client.post(url, data | {"phone": "+86 138-0000-1111"})
    assert response.status_code == 302
    worker.refresh_from_db()
    assert worker.phone == "13800001111"


@pytest.mark.django_db
def test_a_worker_cannot_be_put_outside_the_users_scope(client: Client, province: Province) -> None:
    file = open_file(province)
    data = {
        "id_number": file.applicant.id_number,
        "name": "张伟",
        "phone": "",
        "region": "340102",
        "organisation": province.jinghu_union.pk,
    }
    url = reverse("worker-edit", args=[file.applicant_id])
    response = logged_in(client, province.alice).post(url, data)
    assert response.status_code == 400
    file.applicant.refresh_from_db()
    assert file.applicant.organisation == province.yaohai_union


def test_an_uncaught_refusal_is_a_page_with_the_message_not_a_traceback(
    province: Province, rf: RequestFactory
) -> None:
    from gonghui.errors import Conflict
    from gonghui.web.middleware import DomainErrorMiddleware

    request = rf.get("/files/1/")
    request.user = province.alice
    middleware = DomainErrorMiddleware(lambda r: HttpResponse())
    response = middleware.process_exception(request, Conflict("已被他人审批"))
    assert response is not None and response.status_code == 409
    assert "已被他人审批" in response.content.decode()
    assert middleware.process_exception(rf.get("/api/files/"), Conflict("x")) is None


def test_a_new_member_re_assesses_the_open_file(province: Province) -> None:
    from decimal import Decimal

    from gonghui.people.services import save_member

    file = open_file(province)
    before = file.per_capita_income
    save_member(
        province.alice, HouseholdMember(household=file.household, name="新生儿", relation="child")
    )
    file.refresh_from_db()
    size = file.household.members.count()
    assert file.per_capita_income == (before * (size - 1) / size).quantize(Decimal("0.01"))
