"""The assistance caps are policy data an administrator edits, versioned and audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from gonghui.assistance.models import AidPolicy
from tests.factories import Province
from tests.web_helpers import logged_in

CAPS = {
    "name": "安徽省帮扶标准",
    "region": "340000",
    "valid_from": "2024-01-01",
    "valid_to": "",
    "deep_living_months": "10",
    "relative_living_months": "8",
    "relative_one_kind": "on",
    "living_per_person": "on",
    "medical_ratio": "0.80",
    "medical_cap": "16000",
    "major_illness_cap": "30000",
    "accident_ratio": "0.15",
    "accident_cap": "10000",
    "person_year_cap": "20000",
    "household_year_cap": "40000",
    "education_text": "university = 5000\nsenior：3000",
    "levels_text": "50000 = national\n20,000 = province",
}


@pytest.mark.django_db
def test_caps_are_created_and_an_edit_raises_the_version(
    client: Client, province: Province
) -> None:
    logged_in(client, province.adam)
    assert client.post(reverse("aid-policy-new"), CAPS).status_code == 302
    policy = AidPolicy.objects.get()
    assert policy.education_amounts == {"university": "5000", "senior": "3000"}
    assert policy.approval_levels == [["20000", "province"], ["50000", "national"]]
    url = reverse("aid-policy-edit", args=[policy.pk])
    assert client.post(url, CAPS | {"medical_cap": "18000"}).status_code == 302
    policy.refresh_from_db()
    assert policy.version == 2 and str(policy.medical_cap) == "18000.00"
    assert "16000.00" in client.get(url).content.decode()  # the history shows the old cap
    assert "40,000.00" in client.get(reverse("policy-list")).content.decode()


@pytest.mark.django_db
def test_bad_lines_and_shares_are_refused_on_their_field(
    client: Client, province: Province
) -> None:
    logged_in(client, province.adam)
    bad = CAPS | {"education_text": "kindergarten = lots", "medical_ratio": "1.5"}
    response = client.post(reverse("aid-policy-new"), bad)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Write a school level" in page and "A share is between 0 and 1." in page
    assert not AidPolicy.objects.exists()


@pytest.mark.django_db
def test_case_workers_cannot_edit_caps(client: Client, province: Province) -> None:
    logged_in(client, province.alice)
    assert client.get(reverse("aid-policy-new")).status_code in (403, 404)
