"""Mistakes people make, refused with a message where they made them and nothing saved: an ID
number with a wrong check digit, an amount that is not a number, a visit in the future.

The messages are compared with what the code says in the language of the page, so these tests
hold whichever language the interface speaks."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gonghui.errors import DomainError
from gonghui.hardship import services
from gonghui.hardship.choices import ExpenseKind, FileStatus, IncomeKind
from gonghui.hardship.models import Attachment, HardshipFile, Investigation
from gonghui.people.idnumber import make_id_number, validate_id_number
from gonghui.people.models import Household, Worker
from gonghui.web.money import parse_yuan
from tests.factories import Province
from tests.web_helpers import open_file

from .helpers import in_language, log_in, open_action, path_of, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wrong_check_digit(number: str) -> str:
    digits = "0123456789X"
    return number[:17] + digits[(digits.index(number[17]) + 1) % len(digits)]


def refusal(produce: Any) -> str:
    """The message of the ValidationError or DomainError that ``produce()`` raises."""
    try:
        produce()
    except ValidationError as exc:
        return " ".join(exc.messages)
    except DomainError as exc:
        return str(exc)
    raise AssertionError("nothing was refused")


def test_a_wrong_check_digit_is_named_and_nothing_is_created(
    page: Any, live_server: Any, province: Province
) -> None:
    number = wrong_check_digit(make_id_number("340102", datetime.date(1985, 5, 17), 417))
    with pytest.raises(ValidationError) as refused:
        validate_id_number(number)
    assert refused.value.code == "check_digit"
    workers, households = Worker.objects.count(), Household.objects.count()

    log_in(page, live_server.url, province.alice)
    page.goto(f"{live_server.url}/files/new/")
    lookup = "form[method=get][action='/files/new/']"
    page.fill(f"{lookup} input[name=id_number]", number)
    response = submit(page, f"{lookup} button[type=submit]")

    assert response.status == 200
    field = page.locator(f"{lookup} .field.has-error", has=page.locator("input[name=id_number]"))
    assert field.count() == 1
    assert field.locator("input[name=id_number]").input_value() == number
    expected = in_language(page, lambda: refusal(lambda: validate_id_number(number)))
    assert field.locator(".error").all_inner_texts() == [expected]
    # No applicant, so no application form and no link to register someone under this number.
    assert page.locator("form[method=post][action^='/files/new/']").count() == 0
    assert page.locator("a[href^='/workers/new/']").count() == 0
    assert HardshipFile.objects.count() == 0
    assert (Worker.objects.count(), Household.objects.count()) == (workers, households)


def test_a_malformed_amount_names_its_row_and_keeps_the_saved_lines(
    page: Any, live_server: Any, province: Province
) -> None:
    file = open_file(province)  # wages 18,000 and illness 1,200 already saved
    saved = (
        list(file.incomelines.values_list("kind", "amount")),
        list(file.expenselines.values_list("kind", "amount")),
        file.per_capita_income,
    )
    assert saved[0] == [(IncomeKind.WAGES, Decimal("18000"))]

    log_in(page, live_server.url, province.alice)
    page.goto(f"{live_server.url}/files/{file.pk}/finances/")
    assert page.input_value("input[name=income-0-amount]") == "18000.00"
    page.select_option("select[name=income-1-kind]", IncomeKind.TRANSFERS)
    page.fill("input[name=income-1-amount]", "八百")
    page.select_option("select[name=expense-1-kind]", ExpenseKind.HOUSING)
    page.fill("input[name=expense-1-amount]", "3,600")
    response = submit(page, "form.finances button[type=submit]")

    assert response.status == 400
    assert path_of(page) == f"/files/{file.pk}/finances/"
    row = page.locator("form.finances tr", has=page.locator("input[name=income-1-amount]"))
    assert row.locator(".row-no").inner_text() == "2"
    expected = in_language(page, lambda: refusal(lambda: parse_yuan("八百", row=2)))
    assert row.locator(".error").all_inner_texts() == [expected]
    assert page.locator("form.finances .error").count() == 1
    # What was typed is still there to be corrected.
    assert row.locator("input[name=income-1-amount]").input_value() == "八百"
    assert page.input_value("input[name=income-0-amount]") == "18000.00"
    assert page.input_value("input[name=expense-1-amount]") == "3,600"

    file.refresh_from_db()
    assert (
        list(file.incomelines.values_list("kind", "amount")),
        list(file.expenselines.values_list("kind", "amount")),
        file.per_capita_income,
    ) == saved


def test_a_visit_in_the_future_is_refused(page: Any, live_server: Any, province: Province) -> None:
    file = open_file(province)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    log_in(page, live_server.url, province.alice)
    page.goto(f"{live_server.url}/files/{file.pk}/")
    visit = open_action(page, "investigate")
    page.fill(f"{visit} input[name=visited_on]", tomorrow.isoformat())
    page.fill(f"{visit} textarea[name=findings]", "入户走访。")
    response = submit(page, f"{visit} button[type=submit]")

    assert response.status == 400
    # The case page again, with the form unfolded and the message at the date.
    assert page.locator(visit).get_attribute("open") is not None
    field = page.locator(f"{visit} .field.has-error", has=page.locator("input[name=visited_on]"))
    assert field.locator("input[name=visited_on]").input_value() == tomorrow.isoformat()
    expected = in_language(
        page,
        lambda: refusal(
            lambda: services.record_investigation(
                province.alice, file, services.Visit(visited_on=tomorrow, findings="x")
            )
        ),
    )
    assert field.locator(".error").all_inner_texts() == [expected]
    assert page.input_value(f"{visit} textarea[name=findings]") == "入户走访。"

    file.refresh_from_db()
    assert file.status == FileStatus.DRAFT
    assert not Investigation.objects.filter(file=file).exists()
    assert not Attachment.objects.filter(file=file).exists()
