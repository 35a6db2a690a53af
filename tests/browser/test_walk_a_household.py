"""One household from application to filing, through the pages only, as the people who do it:
alice applies, records the finances and the home visit and submits for public notice; when
the notice is over rita reviews and carl (the city federation) approves."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from gonghui.hardship import rules
from gonghui.hardship.choices import (
    ExpenseKind,
    FileStatus,
    HardshipCategory,
    HardshipCause,
    IncomeKind,
)
from gonghui.hardship.models import Attachment, HardshipFile, Investigation
from tests.factories import Province, household, worker
from tests.web_helpers import APPLIED, png_bytes

from .helpers import in_language, log_in, log_out, open_action, path_of, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# 3 people; (18,000 + 2,400 − 1,200) ÷ 3 ÷ 12 = 533.33 yuan, below Hefei's 620 of 2024.
PER_CAPITA = Decimal("533.33")


def let_the_notice_end(file: HardshipFile) -> None:
    """Move the public notice back in time so that it ended yesterday, as days passing would."""
    file.refresh_from_db()
    assert file.notice_start is not None and file.notice_end is not None
    shift = file.notice_end - (timezone.localdate() - datetime.timedelta(days=1))
    HardshipFile.objects.filter(pk=file.pk).update(
        notice_start=file.notice_start - shift, notice_end=file.notice_end - shift
    )


def open_from_queue(page: Any, kind: str, file: HardshipFile) -> None:
    """On the work queue, pick the tab ``kind`` (htmx swaps the panel) and open the file."""
    with page.expect_response(lambda r: f"kind={kind}" in r.url and r.ok):
        page.click(f"#queue-panel nav a[href='?kind={kind}']")
    page.wait_for_selector(f"#queue-panel nav a[href='?kind={kind}'][aria-current=page]")
    row = page.locator("#queue-panel tbody tr", has=page.locator(f".reason-{kind}"))
    assert row.count() == 1
    response = submit(page, f"#queue-panel a[href='/files/{file.pk}/'] >> nth=0")
    assert response.status == 200


def test_a_household_is_filed_through_the_pages(
    page: Any, live_server: Any, province: Province, tmp_path: Path
) -> None:
    p = province
    head = worker(p.yaohai_union, p.yaohai_region, name="罗秀英", born=datetime.date(1985, 3, 8))
    home = household(p.yaohai, p.yaohai_region, head, size=3)
    base = live_server.url

    # alice finds the worker by ID number; the household exists, so none is asked for.
    log_in(page, base, p.alice)
    # "New application" sits in the navigation's casework menu: open it, then follow it.
    page.click("nav details.nav-group:has(a[href='/files/new/']) summary")
    submit(page, "nav a[href='/files/new/']")
    page.fill("form[method=get][action='/files/new/'] input[name=id_number]", head.id_number)
    response = submit(page, "form[method=get][action='/files/new/'] button[type=submit]")
    assert response.status == 200
    assert page.locator(f"a[href='/households/{home.pk}/']").count() == 1
    application = "form[method=post][action^='/files/new/?']"
    assert page.locator(f"{application} [name=region]").count() == 0

    page.select_option(
        f"{application} select[name=primary_cause]", str(HardshipCause.MAJOR_ILLNESS)
    )
    page.check(
        f"{application} input[name=secondary_causes][value='{HardshipCause.CHILDREN_IN_SCHOOL}']"
    )
    page.fill(f"{application} input[name=applied_on]", APPLIED.isoformat())
    page.check(f"{application} input[name=income_pledge]")
    page.check(f"{application} input[name=finance_check_authorised]")
    response = submit(page, f"{application} button[type=submit]")
    file = HardshipFile.objects.get(applicant=head)
    assert response.status == 200
    assert path_of(page) == f"/files/{file.pk}/finances/"
    assert file.household == home and file.status == FileStatus.DRAFT
    assert file.secondary_causes == [HardshipCause.CHILDREN_IN_SCHOOL]

    # The finances, one amount typed with a thousands separator.
    page.select_option("select[name=income-0-kind]", IncomeKind.WAGES)
    page.fill("input[name=income-0-amount]", "18,000")
    page.select_option("select[name=income-1-kind]", IncomeKind.TRANSFERS)
    page.fill("input[name=income-1-amount]", "2400")
    page.fill("input[name=income-1-note]", "低保金")
    page.select_option("select[name=expense-0-kind]", ExpenseKind.ILLNESS)
    page.fill("input[name=expense-0-amount]", "1200.00")
    response = submit(page, "form.finances button[type=submit]")
    assert response.status == 200
    assert path_of(page) == f"/files/{file.pk}/"
    assert sorted(file.incomelines.values_list("kind", "amount")) == [
        (IncomeKind.TRANSFERS, Decimal("2400")),
        (IncomeKind.WAGES, Decimal("18000")),
    ]
    assert list(file.expenselines.values_list("kind", "amount")) == [
        (ExpenseKind.ILLNESS, Decimal("1200"))
    ]
    assert page.locator(".figure-value").inner_text().startswith(str(PER_CAPITA))

    # The home visit, with a photo.
    photo = tmp_path / "door.png"
    photo.write_bytes(png_bytes())
    visit = open_action(page, "investigate")
    assert page.input_value(f"{visit} input[name=visited_on]") == timezone.localdate().isoformat()
    page.fill(f"{visit} textarea[name=findings]", "住房简陋，配偶长期住院。")
    page.fill(f"{visit} input[name=co_investigators]", "社区网格员")
    page.set_input_files(f"{visit} input[name=photos]", str(photo))
    page.fill(f"{visit} input[name=caption]", "门口")
    response = submit(page, f"{visit} button[type=submit]")
    assert response.status == 200
    assert path_of(page) == f"/files/{file.pk}/"
    investigation = Investigation.objects.get(file=file)
    attachment = Attachment.objects.get(investigation=investigation)
    assert attachment.caption == "门口"
    image = page.locator(f"ul.thumbs img[src='/attachments/{attachment.pk}/']")
    assert image.count() == 1
    served = page.request.get(f"{base}/attachments/{attachment.pk}/")
    assert served.status == 200
    assert served.headers["content-type"] == "image/png"
    assert served.body() == png_bytes()

    # Public notice.
    response = submit(page, f"{open_action(page, 'submit')} button[type=submit]")
    assert response.status == 200
    file.refresh_from_db()
    assert file.status == FileStatus.NOTICE and file.submitted_by == p.alice
    assert page.locator("#act-submit").count() == 0
    let_the_notice_end(file)
    log_out(page)

    # rita reviews after the notice, from her work queue.
    log_in(page, base, p.rita)
    open_from_queue(page, "to_review", file)
    review = open_action(page, "review")
    page.fill(f"{review} textarea[name=note]", "公示无异议。")
    response = submit(page, f"{review} button[type=submit]")
    assert response.status == 200
    file.refresh_from_db()
    assert file.status == FileStatus.REVIEWED and file.reviewed_by == p.rita
    log_out(page)

    # carl, at the city federation, approves and files.
    log_in(page, base, p.carl)
    open_from_queue(page, "to_approve", file)
    response = submit(page, f"{open_action(page, 'approve')} button[type=submit]")
    assert response.status == 200
    assert path_of(page) == f"/files/{file.pk}/"

    file.refresh_from_db()
    assert file.status == FileStatus.FILED
    assert file.approved_by == p.carl
    assert file.category == HardshipCategory.DEEP
    assert file.per_capita_income == PER_CAPITA
    assert file.filed_on == timezone.localdate()

    # The page says so: filed, the category, and the decision line by line.
    assert page.locator(f".case-head .badge.status-{FileStatus.FILED}").count() == 1
    assert page.locator(f".case-head .cat.cat-{HardshipCategory.DEEP}:not(.proposed)").count() == 1
    assert page.locator("details#act-approve, details#act-review").count() == 0
    assert page.locator(".figure-value").inner_text().startswith(str(PER_CAPITA))
    shown = [
        re.sub(r"\s+", " ", text).strip() for text in page.locator("ol.trace li").all_inner_texts()
    ]
    expected = in_language(
        page, lambda: [rules.TraceLine(**line).text() for line in file.decision_trace]
    )
    assert shown == expected
    per_capita = next(line for line in file.decision_trace if line["code"] == "per_capita")
    assert per_capita["params"]["per_capita"] == str(PER_CAPITA)
    assert any(str(PER_CAPITA) in text for text in shown)
    assert page.locator("ol.trace li.decisive").count() >= 1
