"""Funds, budgets and an assistance policy for the test province, built through the real
services."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from gonghui.accounts.choices import Role
from gonghui.accounts.models import User
from gonghui.assistance import funds
from gonghui.assistance.choices import AidKind, FundSource
from gonghui.assistance.models import AidPolicy, Budget, Fund
from tests.factories import Province, user

# A year the test province has living standards for (Hefei 2026: 680 a month).
YEAR = 2026


@dataclass
class Money:
    fiona: User  # fund officer, province
    fred: User  # fund officer, Yaohai county
    fund: Fund  # central budget: living, medical, education, accident
    holiday: Fund  # holiday-visit fund
    province_budget: Budget
    yaohai_budget: Budget


def build_money(
    p: Province, *, province_yuan: int = 1_000_000, yaohai_yuan: int = 200_000
) -> Money:
    AidPolicy.objects.create(
        name="安徽省困难职工帮扶标准", region=p.policy.region, valid_from=datetime.date(2024, 1, 1)
    )
    fiona = user("fiona", Role.FUND_OFFICER, p.anhui)
    fred = user("fred", Role.FUND_OFFICER, p.yaohai)
    fund = funds.define_fund(
        fiona,
        code="ZY-2026",
        name="中央财政帮扶资金",
        source=FundSource.CENTRAL,
        purposes=[AidKind.LIVING, AidKind.MEDICAL, AidKind.EDUCATION, AidKind.ACCIDENT],
    )
    holiday = funds.define_fund(
        fiona,
        code="SWN-2026",
        name="送温暖资金",
        source=FundSource.HOLIDAY,
        purposes=[AidKind.HOLIDAY_VISIT, AidKind.NECESSITIES, AidKind.LIVING],
        requires_file=False,
    )
    top = funds.open_budget(fiona, fund, p.anhui, YEAR)
    funds.receive(fiona, top, province_yuan * 100, memo="中央财政下达")
    yaohai = funds.allocate(fiona, top, p.yaohai, yaohai_yuan * 100)
    return Money(fiona, fred, fund, holiday, top, yaohai)
