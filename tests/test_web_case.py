"""The case page: the whole household, the decision and its trace, the timeline, what is due,
and personal data shown only to those who may see it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from gonghui.hardship import services
from gonghui.hardship.choices import HardshipCause
from gonghui.hardship.models import HardshipFile
from gonghui.people.idnumber import mask_id_number, mask_phone
from gonghui.web.timeline import format_value
from tests.factories import Province
from tests.web_helpers import filed, logged_in, open_file, under_notice


def _page(client: Client, file: HardshipFile) -> str:
    response = client.get(reverse("file-detail", args=[file.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_a_case_worker_sees_the_full_id_and_phone(client: Client, province: Province) -> None:
    file = open_file(province)
    page = _page(logged_in(client, province.alice), file)
    assert file.applicant.id_number in page
    assert file.applicant.phone in page


@pytest.mark.django_db
def test_a_leader_sees_them_masked(client: Client, province: Province) -> None:
    file = open_file(province)
    page = _page(logged_in(client, province.leo), file)
    assert file.applicant.id_number not in page
    assert mask_id_number(file.applicant.id_number) in page
    assert file.applicant.phone not in page
    assert mask_phone(file.applicant.phone) in page


@pytest.mark.django_db
def test_it_shows_the_household_money_and_decision(client: Client, province: Province) -> None:
    file = open_file(province)  # (18,000 − 1,200) / 3 / 12 = 466.67 < 620: DEEP
    page = _page(logged_in(client, province.alice), file)
    for member in file.household.members.all():
        assert member.name in page
    assert "18,000.00" in page and "1,200.00" in page
    assert "466.67" in page
    assert "Major illness" in page and "Children in school" in page
    assert 'class="decisive"' in page
    assert "is below the local minimum living standard 620.00: DEEP." in page
    assert "安徽省困难职工帮扶政策" in page  # the policy it was decided under
    assert 'Home investigation due by <span class="date">2024-03-06</span>.' in page


@pytest.mark.django_db
def test_the_timeline_merges_events_and_field_changes(client: Client, province: Province) -> None:
    file = under_notice(province, open_file(province))
    page = _page(logged_in(client, province.alice), file)
    assert "Application opened" in page  # a FileEvent
    assert "Public notice started" in page
    assert "Investigated" in page and "Under public notice" in page  # status before → after
    assert "income" in page  # an audited IncomeLine was created
    assert "public notice until" in page  # the file's notice_end field changed


@pytest.mark.django_db
def test_the_actions_follow_status_and_role(client: Client, province: Province) -> None:
    file = open_file(province)
    page = _page(logged_in(client, province.alice), file)
    assert reverse("file-investigate", args=[file.pk]) in page
    assert reverse("file-approve", args=[file.pk]) not in page
    file = under_notice(province, file)
    page = _page(logged_in(client, province.rita), file)
    assert reverse("file-review", args=[file.pk]) in page
    assert "review after it ends" in page
    assert reverse("file-investigate", args=[file.pk]) not in page


@pytest.mark.django_db
def test_a_filed_case_shows_what_is_due(client: Client, province: Province) -> None:
    file = filed(province)
    page = _page(logged_in(client, province.alice), file)
    assert f'Periodic review due on <span class="date">{file.review_due}</span>.' in page
    assert "0 consecutive months above the standard recorded; 6 needed to exit." in page
    assert reverse("file-income-reading", args=[file.pk]) in page


@pytest.mark.django_db
def test_an_exited_case_lists_its_follow_ups(client: Client, province: Province) -> None:
    import datetime

    file = filed(province)
    services.exit_file(province.alice, file, "retirement", datetime.date(2026, 11, 1), "退休")
    page = _page(logged_in(client, province.alice), file)
    assert 'Follow-up call due on <span class="date">2027-02-01</span>.' in page
    assert reverse("file-reopen", args=[file.pk]) in page


def test_a_refused_action_keeps_the_language_switch_on_the_case_page(
    province: Province, client: Client
) -> None:
    import datetime

    file = open_file(province)
    client.force_login(province.alice)
    future = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    response = client.post(
        f"/files/{file.pk}/investigate/", {"visited_on": future, "findings": "x"}
    )
    assert response.status_code == 400
    assert f'name="next" value="/files/{file.pk}/"' in response.content.decode()


@pytest.mark.django_db
def test_the_timeline_names_the_records_a_change_points_to(
    client: Client, province: Province
) -> None:
    file = open_file(province)
    page = _page(logged_in(client, province.alice), file)
    timeline = page[page.index('id="timeline-h"') :]
    # The file's creation names its union, applicant and household, not their ids.
    assert province.yaohai.name in timeline
    assert file.applicant.name in timeline
    assert f"Household of {file.applicant.name}" in timeline
    for pk in (file.organisation_id, file.applicant_id, file.household_id):
        assert f">#{pk}<" not in timeline


def test_lists_of_labels_use_the_separator_of_the_language() -> None:
    causes = [HardshipCause.MAJOR_ILLNESS, HardshipCause.DISASTER]
    with translation.override("zh-hans"):
        text = format_value(None, "secondary_causes", causes, {}, reveal=False)
        assert text == "、".join(str(HardshipCause(c).label) for c in causes)
    with translation.override("en"):
        assert ", " in format_value(None, "secondary_causes", causes, {}, reveal=False)
