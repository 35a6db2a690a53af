"""GB/T 2260 administrative divisions, read from python-stdnum's historical code table.

stdnum ships the table it validates ID numbers against (``stdnum/cn/loc.dat``): every code
ever used, each with the years its names were in force, e.g. ``[1983-2001]东市区,[2002-]瑶海区``.
Reading the same table means that the regions we store and the ID numbers we accept can
never disagree. A division is *current* when its latest name has no end year; ``市辖区``
(code xx01) is a statistical pseudo-entry, not a place, and is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from stdnum import numdb

from .choices import RegionLevel

PSEUDO_NAMES = frozenset({"市辖区", "市区", "省直辖行政单位"})
_SPAN = re.compile(r"^\[(\d*)-(\d*)\](.+)$")


@dataclass(frozen=True)
class NameSpan:
    """One name of a code and the years it was in force (None: open-ended)."""

    name: str
    start: int | None
    end: int | None

    def covers(self, year: int) -> bool:
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


@dataclass(frozen=True)
class Division:
    """A division as the code table knows it, with the history of its names."""

    code: str
    level: str
    spans: tuple[NameSpan, ...]

    @property
    def name(self) -> str:
        return self.spans[-1].name

    @property
    def parent_code(self) -> str | None:
        if self.level == RegionLevel.PROVINCE:
            return None
        if self.level == RegionLevel.CITY:
            return self.code[:2] + "0000"
        return self.code[:4] + "00"

    @property
    def is_current(self) -> bool:
        return self.spans[-1].end is None and self.name not in PSEUDO_NAMES

    def in_use(self, year: int) -> bool:
        """Whether an ID number of someone born in ``year`` may carry this code; the same
        test as ``stdnum.cn.ric.get_birth_place``."""
        return any(span.covers(year) for span in self.spans)


def parse_spans(text: str) -> tuple[NameSpan, ...]:
    """``"[1983-2001]东市区,[2002-]瑶海区"`` -> two spans; a bare name is always in force."""
    spans = []
    for part in text.split(","):
        match = _SPAN.match(part)
        if match is None:
            spans.append(NameSpan(part, None, None))
            continue
        start, end, name = match.groups()
        spans.append(NameSpan(name, int(start) if start else None, int(end) if end else None))
    return tuple(spans)


def _level(code: str) -> str:
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    return RegionLevel.CITY if code.endswith("00") else RegionLevel.COUNTY


def _province_entries(province_code: str) -> Iterator[tuple[str, str]]:
    """(6-digit code, raw name text) for every code under the province, in table order.

    stdnum's prefix tree holds (length, low, high, properties, children) at each level:
    the province ("34") at the top, then the four-digit rest of each code below it.
    """
    for _length, low, high, _props, children in numdb.get("cn/loc").prefixes:
        if low <= province_code <= high:
            for _len, sub_low, _sub_high, props, _sub in children:
                if "county" in props:
                    yield province_code + sub_low, props["county"]


def all_divisions(province_code: str = "34") -> list[Division]:
    """Every code of the province ever used, sorted by code."""
    found = {
        code: Division(code, _level(code), parse_spans(text))
        for code, text in _province_entries(province_code)
    }
    return [found[code] for code in sorted(found)]


def current_divisions(province_code: str = "34") -> list[Division]:
    """The province, its cities and their counties as they are today, sorted by code."""
    divisions = [d for d in all_divisions(province_code) if d.is_current]
    codes = {d.code for d in divisions}
    # A county whose city was abolished would hang in the air; the table has none today,
    # but keeping only attached divisions makes the tree safe to build.
    return [d for d in divisions if d.parent_code is None or d.parent_code in codes]


def load_regions(province_code: str = "34") -> int:
    """Insert or update the province's current regions; safe to run any number of times.

    Returns the number of regions of the province now stored.
    """
    from .models import Region

    rows = [
        Region(code=d.code, name=d.name, level=d.level, parent_id=d.parent_code)
        for d in current_divisions(province_code)
    ]
    # Sorted by code, so a parent is always written before its children.
    Region.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "level", "parent"],
    )
    return len(rows)
