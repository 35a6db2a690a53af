"""Policies and standards for administrators, and the audit log for auditors."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from gonghui.accounts.choices import Role
from gonghui.hardship.models import LivingStandard, Policy
from tests.factories import Province, user
from tests.web_helpers import logged_in, open_file

POLICY = {
    "name": "安徽省困难职工帮扶政策（修订）",
    "region": "340000",
    "valid_from": "2024-01-01",
    "valid_to": "",
    "relative_multiplier": "2",
    "accident_multiplier": "3",
    "accident_cost_ratio": "0.80",
    "minimum_wage": "2060",
    "count_union_aid": "on",
    "exclusions": ["car", "shareholder"],
    "review_interval_months": "12",
    "notice_working_days": "7",
    "investigation_days": "5",
    "exit_months": "6",
    "follow_up_months": "3，6, 12",
    "filing_limit_days": "30",
    "help_limit_days": "30",
}


@pytest.mark.django_db
def test_a_policy_edit_is_versioned_and_in_its_history(client: Client, province: Province) -> None:
    url = reverse("policy-edit", args=[province.policy.pk])
    logged_in(client, province.adam)
    response = client.post(url, POLICY)
    assert response.status_code == 302
    policy = Policy.objects.get(pk=province.policy.pk)
    assert policy.version == 2 and policy.notice_working_days == 7
    assert policy.exclusions == ["car", "shareholder"] and policy.follow_up_months == [3, 6, 12]
    page = client.get(url).content.decode()
    assert "adam" in page and "public notice (working days)" in page
    assert '5</span> → <span class="after">7' in page


@pytest.mark.django_db
def test_a_policy_constraint_is_shown(client: Client, province: Province) -> None:
    url = reverse("policy-edit", args=[province.policy.pk])
    response = logged_in(client, province.adam).post(url, POLICY | {"notice_working_days": "3"})
    assert response.status_code == 400
    assert "Public notice lasts at least 5 working days." in response.content.decode()
    assert Policy.objects.get(pk=province.policy.pk).version == 1


@pytest.mark.django_db
def test_a_standard_is_added_once_per_region_and_day(client: Client, province: Province) -> None:
    logged_in(client, province.adam)
    data = {"region": "340200", "valid_from": "2025-01-01", "monthly_amount": "７２０"}
    assert client.post(reverse("standard-new"), data).status_code == 302
    assert (
        LivingStandard.objects.get(region="340200", valid_from="2025-01-01").monthly_amount == 720
    )
    response = client.post(reverse("standard-new"), data)
    assert response.status_code == 400
    assert "This region already has a standard from that day." in response.content.decode()


@pytest.mark.django_db
def test_the_audit_log_is_limited_to_the_subtree(client: Client, province: Province) -> None:
    file = open_file(province)  # changes in Yaohai
    county_auditor = user("wendy", Role.AUDITOR, province.jinghu)
    page = logged_in(client, province.audrey).get(reverse("audit-list")).content.decode()
    assert "hardship file <span" in page and file.number in page
    assert file.applicant.id_number not in page  # personal data masked in the log
    page = logged_in(client, county_auditor).get(reverse("audit-list")).content.decode()
    assert "hardship file <span" not in page and file.number not in page


@pytest.mark.django_db
def test_the_audit_log_filters_by_record_type_and_date(client: Client, province: Province) -> None:
    open_file(province)
    logged_in(client, province.audrey)
    page = client.get(reverse("audit-list"), {"model": "hardship.incomeline"}).content.decode()
    assert "Created</span> income" in page and "hardship file <" not in page
    page = client.get(reverse("audit-list"), {"date_to": "2020-01-01"}).content.decode()
    assert "No changes recorded." in page
