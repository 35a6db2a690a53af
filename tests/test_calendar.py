import datetime

from gonghui.hardship.calendar import is_working_day, last_of_working_days


def test_a_notice_published_on_monday_ends_on_friday() -> None:
    assert last_of_working_days(datetime.date(2026, 11, 23), 5) == datetime.date(2026, 11, 27)


def test_national_day_holidays_are_skipped() -> None:
    # 2026: 1–7 October are holidays; 10 October (Saturday) is worked in exchange.
    assert not is_working_day(datetime.date(2026, 10, 2))
    assert last_of_working_days(datetime.date(2026, 9, 30), 5) > datetime.date(2026, 10, 7)


def test_a_year_the_library_does_not_know_falls_back_to_weekdays() -> None:
    assert is_working_day(datetime.date(2031, 3, 3))  # a Monday
    assert not is_working_day(datetime.date(2031, 3, 1))  # a Saturday
