"""Two cities competing in 2025, for the competition tests of the services and the pages.

4 members in each of 瑶海's and 镜湖's grassroots unions; two files filed on 2025-03-01
under 瑶海 (合肥) and one under 镜湖 (芜湖): 合肥 2 / 4 × 1000 = 500 files per 1,000
members, 芜湖 1 / 4 × 1000 = 250. Two reviewers of the province judge the competition.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from gonghui.accounts.choices import Role
from gonghui.organisations.choices import OrganisationKind
from gonghui.supervision import competition as comp
from gonghui.supervision.indicators import Period
from gonghui.supervision.models import Competition
from tests.cases import filed, move
from tests.factories import Province, members, user

NAME = "2025年度找得更全帮得更好劳动竞赛"
CODE = "files_per_1000_members"


def competing_cities(p: Province) -> dict[str, Any]:
    """The members and files above, and the judges: ``p``, ``judy``, ``jack`` and
    ``files`` (瑶海's two)."""
    members(p, p.yaohai_union, 4)
    members(p, p.jinghu_union, 4)
    files = [move(filed(p), filed_on=datetime.date(2025, 3, 1)) for _ in range(2)]
    move(filed(p), filed_on=datetime.date(2025, 3, 1), organisation=p.jinghu_union)
    judy = user("judy", Role.REVIEWER, p.anhui)
    jack = user("jack", Role.REVIEWER, p.anhui)
    return {"p": p, "judy": judy, "jack": jack, "files": files}


def define(setup: dict[str, Any], **extra: Any) -> Competition:
    """The province's leader defines the 2025 competition of the cities: files per 1,000
    members for 80 points, innovation for 20, judged by judy and jack."""
    p = setup["p"]
    return comp.define_competition(
        p.leo,
        name=NAME,
        period=Period.year(2025),
        tiers=[comp.TierSpec("市级", comp.organisations_of_kind(p.leo, OrganisationKind.CITY))],
        indicators=[comp.IndicatorSpec(CODE, Decimal("80"))],
        innovation_weight=Decimal("20"),
        judges=[setup["judy"], setup["jack"]],
        **extra,
    )
