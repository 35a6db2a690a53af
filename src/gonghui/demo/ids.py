"""Unique, valid resident ID numbers for invented people.

An ID number carries the code of the place of birth *as it was in the birth year*: stdnum
(and so :func:`gonghui.people.idnumber.validate_id_number`) refuses 瑶海区's 340102 for
someone born in 1975, when the district was still 东市区 under another code range. So a
person takes their county's code if it was in use when they were born, else a code of the
same city in use that year, else any code of the province in use that year.
"""

from __future__ import annotations

import datetime
import random

from gonghui.organisations.choices import RegionLevel
from gonghui.organisations.regions import Division
from gonghui.people.idnumber import make_id_number


class IdNumbers:
    """Hands out ID numbers, never the same one twice."""

    def __init__(self, rng: random.Random, divisions: list[Division]) -> None:
        self.rng = rng
        # 市辖区 (xx01) is in the table but stands for no place of birth.
        self.places = [
            d for d in divisions if d.level == RegionLevel.COUNTY and not d.code.endswith("01")
        ]
        self.by_code = {d.code: d for d in self.places}
        self.used: set[int] = set()
        self._codes: dict[tuple[str, int], tuple[str, ...]] = {}
        self._in_use: dict[int, list[str]] = {}

    def birth_codes(self, county: str, year: int) -> tuple[str, ...]:
        key = (county, year)
        if key not in self._codes:
            self._codes[key] = self._find_codes(county, year)
        return self._codes[key]

    def _find_codes(self, county: str, year: int) -> tuple[str, ...]:
        own = self.by_code.get(county)
        if own is not None and own.in_use(year):
            return (county,)
        if year not in self._in_use:
            self._in_use[year] = [d.code for d in self.places if d.in_use(year)]
        in_use = self._in_use[year]
        same_city = [code for code in in_use if code[:4] == county[:4]]
        return tuple(same_city or in_use)

    def make(self, county: str, birth: datetime.date, male: bool) -> str:
        codes = self.birth_codes(county, birth.year)
        code = codes[0] if len(codes) == 1 else codes[self.rng.randrange(len(codes))]
        # The 3-digit sequence is odd for men, even for women; step by 2 past numbers
        # already given so the sex stays right.
        sequence = self.rng.randrange(500) * 2 + (1 if male else 0)
        for _attempt in range(500):
            number = make_id_number(code, birth, sequence)
            key = int(number[:17])
            if key not in self.used:
                self.used.add(key)
                return number
            sequence = (sequence + 2) % 1000
        raise RuntimeError(f"no ID number left for {code} born {birth}")
