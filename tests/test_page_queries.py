"""The case page's money section reads its flags from the lines it loaded: the same
findings as the set-based :func:`flagged_lines`, in a fixed, small number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.assistance.choices import AidKind, LineStatus
from gonghui.assistance.flags import flagged_lines, flags_for_household
from gonghui.assistance.models import AssistanceLine
from gonghui.assistance.summary import household_money
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.people.models import HouseholdMember
from tests.aid import YEAR
from tests.factories import Province
from tests.test_aid_flags import Setting, line, setting
from tests.web_helpers import logged_in

pytestmark = pytest.mark.django_db


def _every_flag(s: Setting, p: Province) -> None:
    first, second = HouseholdMember.objects.filter(household=s.file.household).order_by("id")[1:]
    line(s, p, AidKind.LIVING, 25_000_00, s.money.fund, status=LineStatus.PAID)
    line(s, p, AidKind.LIVING, 6_000_00, s.local, cap_fen=5_000_00)  # twice, above its cap
    line(s, p, AidKind.EDUCATION, 12_000_00, s.money.fund, member=first)
    line(s, p, AidKind.EDUCATION, 9_000_00, s.local, member=first)  # twice, above the person cap
    line(s, p, AidKind.EDUCATION, 3_000_00, s.local, member=second)
    line(s, p, AidKind.MEDICAL, 4_000_00, s.local, status=LineStatus.PLANNED)
    line(s, p, AidKind.LIVING, 1_000_00, s.money.holiday, status=LineStatus.CANCELLED)
    line(s, p, AidKind.HOLIDAY_VISIT, 500_00, s.money.holiday, status=LineStatus.FAILED)
    line(s, p, AidKind.LEGAL_AID, 0, None, cash=False)
    last_year = line(s, p, AidKind.LIVING, 30_000_00, s.money.fund)
    AssistanceLine.objects.filter(pk=last_year.pk).update(year=YEAR - 1)  # another year


def _read_from_lines(s: Setting) -> dict[int, list[str]]:
    codes: dict[int, set[str]] = {}
    for flag in flags_for_household(s.file.household_id, YEAR):
        for pk in flag.line_ids:
            codes.setdefault(pk, set()).add(flag.code)
    return {pk: sorted(found) for pk, found in codes.items()}


@pytest.mark.parametrize("closed", [False, True])
def test_the_household_flags_are_the_set_based_flags(province: Province, closed: bool) -> None:
    s = setting(province)
    _every_flag(s, province)
    if closed:  # the funds that require a file flag every payment
        HardshipFile.objects.filter(pk=s.file.pk).update(status=FileStatus.CLOSED)
    lines = AssistanceLine.objects.filter(household=s.file.household, year=YEAR)
    expected = flagged_lines(lines)
    assert len(expected) == 6 and _read_from_lines(s) == expected
    assert household_money(province.rita, s.file.household, YEAR).flagged_line_ids == set(expected)


def test_the_household_money_costs_two_queries_with_its_members_union_and_file(
    province: Province,
) -> None:
    s = setting(province)
    _every_flag(s, province)
    file = HardshipFile.objects.select_related("household__organisation").get(pk=s.file.pk)
    members = list(HouseholdMember.objects.filter(household=file.household))
    with CaptureQueriesContext(connection) as queries:
        money = household_money(province.rita, file.household, YEAR, members, [file])
    assert len(queries) == 2  # the lines and the policies
    assert len(money.flags) >= 4 and [row.member.pk for row in money.person_caps] == sorted(
        row.member.pk for row in money.person_caps
    )
    # Without the file, its number and status come in one more query, with the same flags.
    with CaptureQueriesContext(connection) as queries:
        again = household_money(province.rita, file.household, YEAR, members)
    assert len(queries) == 3
    assert [flag.message for flag in again.flags] == [flag.message for flag in money.flags]


def _case_queries(client: Client, file: HardshipFile) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(reverse("file-detail", args=[file.pk]))
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_money_section_adds_two_queries_to_the_case_page(
    client: Client, province: Province
) -> None:
    s = setting(province)
    logged_in(client, province.alice)
    client.get(reverse("queue"))  # the session is warm
    without = _case_queries(client, s.file)
    _every_flag(s, province)
    with_money = _case_queries(client, s.file)
    page = client.get(reverse("file-detail", args=[s.file.pk])).content.decode()
    assert "Paid twice from two funds" in page and "Above the yearly cap per person" in page
    # The money section: its lines and the policies (both asked for even without lines).
    # The timeline names the new records its audit entries point to (web/timeline.py).
    assert with_money - without <= 12


def test_the_case_page_names_its_staff_in_one_query_however_many(
    client: Client, province: Province
) -> None:
    from gonghui.hardship.choices import EventKind
    from gonghui.hardship.models import FileEvent

    s = setting(province)
    logged_in(client, province.alice)
    client.get(reverse("queue"))  # the session is warm
    before = _case_queries(client, s.file)
    staff = [province.bob, province.rita, province.carl, province.leo, province.adam]
    for user in staff:
        FileEvent.objects.create(file=s.file, actor=user, kind=EventKind.EDITED, note="见面")
    after = _case_queries(client, s.file)
    page = client.get(reverse("file-detail", args=[s.file.pk])).content.decode()
    assert all(str(user) in page for user in staff)
    assert after == before
