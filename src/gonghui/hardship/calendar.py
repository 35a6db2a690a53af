"""Working days in mainland China, for notice periods and investigation deadlines.

chinesecalendar knows the official holidays and the weekend days worked in exchange
(调休); for a year it does not know yet we fall back to Monday–Friday, which errs on
the side of a longer notice only when a holiday is missing.
"""

import datetime

import chinese_calendar


def is_working_day(day: datetime.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def last_of_working_days(start: datetime.date, count: int) -> datetime.date:
    """The last day of a period of ``count`` working days beginning on ``start``."""
    day, seen = start, 0
    while True:
        if is_working_day(day):
            seen += 1
            if seen == count:
                return day
        day += datetime.timedelta(days=1)


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """Working days in [start, end]."""
    days = (end - start).days + 1
    return sum(is_working_day(start + datetime.timedelta(days=i)) for i in range(max(days, 0)))
