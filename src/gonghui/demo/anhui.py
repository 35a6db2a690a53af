"""Facts about the demo province that do not depend on the seed.

Population weights are the cities' resident populations in 10,000s (rounded, 2020 census);
living standards (低保, yuan per person per month) are invented but plausible, except that
合肥 is 620 in 2024 so that DESIGN §4.1's example thresholds (DEEP < 620, RELATIVE < 1,240,
ACCIDENT < 1,860) hold for it. Standards rise a few per cent each year.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

PROVINCE_CODE = "34"
PROVINCE_REGION = "340000"
PROVINCE_FEDERATION = "安徽省总工会"
INDUSTRY_FEDERATION = "安徽省快递行业工会联合会"
PROVINCE_SEAT = "合肥市庐阳区"  # where the provincial bodies sit, for addresses
POLICY_NAME = "安徽省困难职工帮扶政策"
POLICY_FROM = datetime.date(2024, 1, 1)
MINIMUM_WAGE = Decimal("2060")
STANDARD_YEARS = (2024, 2025, 2026)

# The county where the fixed demo logins work; it gets extra workers and files so that
# every screen has something to show to yaohai_caseworker and yaohai_reviewer.
SHOWCASE_COUNTY = "340102"
SHOWCASE_CITY = "340100"
SHOWCASE_WEIGHT = 2.0


@dataclass(frozen=True)
class City:
    code: str
    population: int  # 10,000s of residents, the weight for spreading workers
    area_code: str  # telephone area code, for service-centre phone numbers
    standard_2024: int  # 低保 in 2024, yuan per person per month
    growth_percent: int  # yearly rise of the standard

    def standard(self, year: int) -> Decimal:
        """The standard in ``year``: whole yuan, as local notices publish it, kept to the fen
        as the database returns it (so snapshots read "620.00" whoever wrote them)."""
        amount = Decimal(self.standard_2024)
        for _ in range(2024, year):
            amount = (amount * (100 + self.growth_percent) / 100).quantize(Decimal("1"))
        return amount.quantize(Decimal("0.01"))


CITIES = (
    City("340100", 985, "0551", 620, 4),  # 合肥
    City("340200", 364, "0553", 700, 4),  # 芜湖
    City("340300", 330, "0552", 680, 3),  # 蚌埠
    City("340400", 303, "0554", 690, 3),  # 淮南
    City("340500", 216, "0555", 760, 5),  # 马鞍山
    City("340600", 197, "0561", 650, 3),  # 淮北
    City("340700", 131, "0562", 720, 4),  # 铜陵
    City("340800", 417, "0556", 640, 4),  # 安庆
    City("341000", 133, "0559", 660, 3),  # 黄山
    City("341100", 399, "0550", 670, 4),  # 滁州
    City("341200", 820, "0558", 600, 5),  # 阜阳
    City("341300", 532, "0557", 610, 4),  # 宿州
    City("341500", 440, "0564", 630, 4),  # 六安
    City("341600", 499, "0558", 605, 5),  # 亳州
    City("341700", 134, "0566", 650, 3),  # 池州
    City("341800", 250, "0563", 680, 4),  # 宣城
)
CITY_BY_CODE = {city.code: city for city in CITIES}
