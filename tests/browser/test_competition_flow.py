"""A competition through the pages, as the people who run it: leo (province leader) defines a
competition of the county federations, with judy among its judges; judy scores innovation
on her page; leo reads the leaderboard (the ranks, the breakdown, the chart, a click to the
files behind a value), freezes and publishes it; a file then leaves the record through the
service and the published ranking does not move; leo downloads the PDF report and the XLSX.

The data, by hand. Three county federations compete in one tier on files per 1,000 members
(60 points, min–max) and innovation (40 points, the judges' mean × 40 ÷ 100):

* 瑶海 (合肥): 4 members, 2 files on record → 2 / 4 × 1000 = 500 → 60 points;
* 镜湖 (芜湖): 4 members, 1 file → 250 → 60 × (250 − 200) / (500 − 200) = 10 points;
* 包河 (合肥, built here): 5 members, 1 file → 200 → 0 points.

judy scores 镜湖 60 and 包河 95 on the page, jack (through the service) 包河 85: 镜湖 mean 60
→ 24 points, 包河 mean 90 → 36 points. Totals: 瑶海 60, 包河 36, 镜湖 34 — innovation puts
包河 ahead of 镜湖.

After the freeze, one of 瑶海's files is exited on 2024-12-31 (before the period): live, 瑶海
would fall to 250 (60 points, tied best with 镜湖: 60 + 24 = 84), so 镜湖 would lead. The
published ranking stays 瑶海, 包河, 镜湖.

Elements are found by ids, classes and data attributes, never by text: the pages speak
Chinese here (the browser asks for zh-CN).
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from gonghui.accounts.choices import Role
from gonghui.hardship import services
from gonghui.hardship.choices import ExitKind
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.choices import OrganisationKind, RegionLevel
from gonghui.supervision import competition as comp
from gonghui.supervision.models import Competition, CompetitionStatus, JudgeScore, Snapshot
from tests.cases import filed, move
from tests.factories import Province, members, organisation, region, user

from .helpers import log_in, log_out, path_of, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = datetime.date
CODE = "files_per_1000_members"
NAME = "2025年度找得更全帮得更好劳动竞赛（区县）"


def on_record(p: Province, union: Any) -> HardshipFile:
    """A file filed through the services, then dated 2024-06-01 and put under ``union``."""
    return move(filed(p), filed_on=D(2024, 6, 1), organisation=union)


def cell(page: Any, org: Any, selector: str) -> str:
    return str(page.locator(f"tr[data-org='{org.pk}'] {selector}").inner_text()).strip()


def leaderboard(page: Any) -> list[tuple[str, str, str, str]]:
    """Per row of the table, top to bottom: organisation id, rank, the indicator's points,
    the total."""
    rows = page.locator("section.tier table.leaderboard tbody tr")
    found = []
    for index in range(rows.count()):
        row = rows.nth(index)
        found.append(
            (
                str(row.get_attribute("data-org")),
                str(row.locator("td.rank").inner_text()).strip(),
                str(row.locator(f"td.part[data-code='{CODE}'] strong").inner_text()).strip(),
                str(row.locator("td.total").inner_text()).strip(),
            )
        )
    return found


def test_a_competition_is_defined_judged_ranked_frozen_and_exported(
    page: Any, live_server: Any, province: Province
) -> None:
    p = province
    base = live_server.url
    # A third county federation under 合肥, with its own grassroots union.
    bh = region("340111", "包河区", RegionLevel.COUNTY, p.yaohai_region.parent)
    baohe = organisation("包河区总工会", OrganisationKind.COUNTY, p.hefei, bh)
    baohe_union = organisation("合肥某电子厂工会", OrganisationKind.GRASSROOTS, baohe, bh)
    members(p, p.yaohai_union, 4)
    members(p, p.jinghu_union, 4)
    members(p, baohe_union, 5)
    yaohai_files = [on_record(p, p.yaohai_union) for _ in range(2)]
    on_record(p, p.jinghu_union)
    on_record(p, baohe_union)
    judy = user("judy", Role.REVIEWER, p.anhui)
    jack = user("jack", Role.REVIEWER, p.anhui)

    # leo defines the competition on the page: one tier, all county federations.
    log_in(page, base, p.leo)
    page.goto(f"{base}/competitions/new/")
    form = "form#define-competition"
    page.fill(f"{form} input[name=name]", NAME)
    page.fill(f"{form} input[name=start]", "2025-01-01")
    page.fill(f"{form} input[name=end]", "2025-12-31")
    page.fill(f"{form} input[name=tier1_name]", "区县级")
    page.select_option(f"{form} select[name=tier1_kind]", OrganisationKind.COUNTY.value)
    page.fill(f"{form} input[name=w_{CODE}]", "60")
    page.select_option(f"{form} select[name=n_{CODE}]", "min_max")
    page.fill(f"{form} input[name=innovation_weight]", "40")
    page.check(f"{form} input[name=judges][value='{judy.pk}']")
    page.check(f"{form} input[name=judges][value='{jack.pk}']")
    response = submit(page, f"{form} button[type=submit]")
    assert response.status == 200
    competition = Competition.objects.get(name=NAME)
    assert path_of(page) == f"/competitions/{competition.pk}/"
    tiers = {t.name: {o.pk for o in t.organisations.all()} for t in competition.tiers.all()}
    assert tiers == {"区县级": {p.yaohai.pk, p.jinghu.pk, baohe.pk}}
    assert set(competition.judges.all()) == {judy, jack}
    log_out(page)

    # jack's score through the service; judy's on her page, with a comment.
    comp.score_innovation(jack, competition, baohe, Decimal("85"), "")
    log_in(page, base, judy)
    page.goto(f"{base}/competitions/{competition.pk}/judge/")
    for org, score, comment in ((p.jinghu, "60", "思路稳健"), (baohe, "95", "驿站联动有新意")):
        row = f"table#judge-scores tr[data-org='{org.pk}'] form"
        page.fill(f"{row} input[name=score]", score)
        page.fill(f"{row} textarea[name=comment]", comment)
        response = submit(page, f"{row} button[type=submit]")
        assert response.status == 200
        assert path_of(page) == f"/competitions/{competition.pk}/judge/"
    mine = {
        s.organisation_id: (s.score, s.comment)
        for s in JudgeScore.objects.filter(competition=competition, judge=judy)
    }
    assert mine == {
        p.jinghu.pk: (Decimal("60.00"), "思路稳健"),
        baohe.pk: (Decimal("95.00"), "驿站联动有新意"),
    }
    # Her page shows her own score back in the form.
    own = f"table#judge-scores tr[data-org='{baohe.pk}'] form textarea[name=comment]"
    assert page.locator(own).input_value() == "驿站联动有新意"
    log_out(page)

    # leo's leaderboard: the ranks and the breakdown, computed by hand above.
    log_in(page, base, p.leo)
    page.goto(f"{base}/competitions/{competition.pk}/")
    expected = [
        (str(p.yaohai.pk), "1", "60.00", "60.00"),
        (str(baohe.pk), "2", "0.00", "36.00"),
        (str(p.jinghu.pk), "3", "10.00", "34.00"),
    ]
    assert leaderboard(page) == expected
    value = f"td.part[data-code='{CODE}'] a.value"
    assert cell(page, p.yaohai, value) == "500.00"
    assert cell(page, p.jinghu, value) == "250.00"
    assert cell(page, baohe, value) == "200.00"
    # Innovation: the cell after the indicator's, the mean of judy's 95 and jack's 85.
    innovation = cell(page, baohe, f"td.part[data-code='{CODE}'] + td")
    assert innovation.split()[0] == "36.00" and innovation.split()[-1] == "90.00"
    assert cell(page, p.jinghu, f"td.part[data-code='{CODE}'] + td").split()[0] == "24.00"
    # The chart: ECharts (vendored) draws the bar chart of the totals.
    bar = page.locator("section.tier [data-ranking-chart=bar]")
    bar.locator("svg").first.wait_for(state="attached")
    assert bar.is_visible()

    # A click on 瑶海's value leads to the two files behind it.
    with page.expect_navigation():
        page.click(f"tr[data-org='{p.yaohai.pk}'] {value}")
    assert path_of(page) == "/indicators/records/"
    links = page.locator("table#records tbody tr td:first-child a")
    assert links.count() == 2
    hrefs = {links.nth(i).get_attribute("href") for i in range(2)}
    assert hrefs == {f"/files/{f.pk}/" for f in yaohai_files}

    # Freeze and publish.
    page.goto(f"{base}/competitions/{competition.pk}/")
    response = submit(page, "form#freeze-form button[type=submit]")
    assert response.status == 200
    assert path_of(page) == f"/competitions/{competition.pk}/"
    assert page.locator("#frozen").count() == 1 and page.locator("#freeze-form").count() == 0
    competition.refresh_from_db()
    assert competition.status == CompetitionStatus.FROZEN
    assert Snapshot.objects.filter(competition=competition).count() == 1

    # A 瑶海 household leaves the record, exited through the service on 2024-12-31.
    gone = services.exit_file(
        p.rita, yaohai_files[0], ExitKind.TRANSFER, D(2024, 12, 31), "调往外省工作，已转出"
    )
    assert gone.exit_on == D(2024, 12, 31)
    # Live, the ranking would now move: 镜湖 first (60 + 24), 瑶海 second (60).
    live = comp.score(comp.gather(competition))
    assert [(r.organisation_id, r.total) for r in live.tiers[0].rows] == [
        (p.jinghu.pk, Decimal("84.00")),
        (p.yaohai.pk, Decimal("60.00")),
        (baohe.pk, Decimal("36.00")),
    ]
    # The published ranking does not.
    page.reload()
    assert leaderboard(page) == expected
    assert cell(page, p.yaohai, value) == "500.00"

    # The PDF report, then the XLSX: both are attachments named after the competition
    # (Alt+click, which saves a link's target, downloads it as well).
    with page.expect_download() as pdf:
        page.click("#pdf-link", modifiers=["Alt"])
    report = Path(pdf.value.path()).read_bytes()
    assert report.startswith(b"%PDF") and len(report) > 2000
    with page.expect_download() as xlsx:
        page.click(f"#competition-actions a[href='/competitions/{competition.pk}/xlsx/']")
    book = load_workbook(io.BytesIO(Path(xlsx.value.path()).read_bytes()))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    ranked = [(r[0], r[1], Decimal(str(r[2]))) for r in rows[2:5]]
    assert ranked == [
        (1, "瑶海区总工会", Decimal("60")),
        (2, "包河区总工会", Decimal("36")),
        (3, "镜湖区总工会", Decimal("34")),
    ]
    judged = {r[:4] for r in list(book.worksheets[1].iter_rows(values_only=True))[1:]}
    assert ("包河区总工会", "judy", 95, "驿站联动有新意") in judged
