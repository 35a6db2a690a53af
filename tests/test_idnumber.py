import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from gonghui.people import idnumber

VALID = "11010519491231002X"  # the GB 11643 example


def test_it_accepts_the_standard_example() -> None:
    info = idnumber.validate_id_number(VALID)
    assert info.birth_date == datetime.date(1949, 12, 31)
    assert info.sex == idnumber.SEX_FEMALE  # 17th digit 2 is even
    assert info.region_code == "110105"


def test_it_normalises_full_width_lower_case_and_spaces() -> None:
    assert idnumber.validate_id_number(" １１０１０５１９４９１２３１００２x ").number == VALID


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1101051949123100", "length"),
        ("11010519491231002Y", "format"),
        ("110105194913310028", "birth_date"),  # month 13
        ("990105194912310029", "region"),
        ("110105194912310021", "check_digit"),
    ],
)
def test_it_names_what_is_wrong(raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        idnumber.validate_id_number(raw)
    assert excinfo.value.code == code


def test_it_rejects_a_birth_date_in_the_future() -> None:
    number = idnumber.make_id_number("340102", datetime.date(2030, 1, 1), 11)
    with pytest.raises(ValidationError) as excinfo:
        idnumber.validate_id_number(number, today=datetime.date(2026, 11, 30))
    assert excinfo.value.code == "birth_date"


def test_it_upgrades_a_15_digit_number() -> None:
    # 15-digit form of the same person: century dropped, no check digit.
    assert idnumber.validate_id_number("110105491231002").number == VALID


def test_it_masks_ids_and_phones() -> None:
    assert idnumber.mask_id_number("340102199001011234") == "340102********1234"
    assert idnumber.mask_phone("13812345678") == "138****5678"


def test_it_validates_phones() -> None:
    assert idnumber.validate_phone("+86 138 1234 5678") == "13812345678"
    assert idnumber.validate_phone("055162345678") == "055162345678"
    with pytest.raises(ValidationError):
        idnumber.validate_phone("12345")


births = st.dates(min_value=datetime.date(1950, 1, 1), max_value=datetime.date(2005, 12, 31))


@given(birth=births, sequence=st.integers(0, 999))
def test_every_generated_number_validates_and_round_trips(
    birth: datetime.date, sequence: int
) -> None:
    number = idnumber.make_id_number("340121", birth, sequence)
    info = idnumber.validate_id_number(number)
    assert info.birth_date == birth
    assert info.sex == (idnumber.SEX_MALE if sequence % 2 else idnumber.SEX_FEMALE)


@given(
    birth=births, sequence=st.integers(0, 999), position=st.integers(0, 16), delta=st.integers(1, 9)
)
def test_any_single_digit_change_is_caught(
    birth: datetime.date, sequence: int, position: int, delta: int
) -> None:
    number = idnumber.make_id_number("340121", birth, sequence)
    digit = (int(number[position]) + delta) % 10
    mutated = number[:position] + str(digit) + number[position + 1 :]
    with pytest.raises(ValidationError):
        idnumber.validate_id_number(mutated)
