"""Resident ID numbers (GB 11643) and phone numbers: normalise, validate, derive, mask.

Validation leans on python-stdnum (``stdnum.cn.ric``) for the check digit and the
historical GB/T 2260 region table; this module adds the normalisation that real data
needs (full-width digits, lower-case x, spaces, 15-digit numbers) and one message per
kind of mistake so that the person at the keyboard knows what to fix.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

SEX_MALE = "M"
SEX_FEMALE = "F"


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: datetime.date
    sex: str
    region_code: str


def normalise(raw: str) -> str:
    """Full-width to half-width, spaces and dashes out, x to X."""
    text = unicodedata.normalize("NFKC", raw or "")
    return re.sub(r"[\s\-]", "", text).upper()


def tidy(raw: str) -> str:
    """Normalised, and an old 15-digit number upgraded; otherwise left for validation."""
    number = normalise(raw)
    return upgrade_15(number) if len(number) == 15 and number.isdigit() else number


def upgrade_15(number: str) -> str:
    """An old 15-digit number becomes 18 digits: century 19 and a check digit."""
    body = number[:6] + "19" + number[6:]
    return body + ric.calc_check_digit(body + "0")


def validate_id_number(raw: str, today: datetime.date | None = None) -> IdInfo:
    """Return the normalised number with what it tells, or raise a ValidationError naming
    exactly what is wrong."""
    number = tidy(raw)
    if len(number) != 18:
        raise ValidationError(
            _("An ID number has 18 characters; this one has %(n)d.") % {"n": len(number)},
            code="length",
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ValidationError(
            _("An ID number is 17 digits followed by a digit or X."), code="format"
        )
    try:
        birth = ric.get_birth_date(number)
    except stdnum_errors.ValidationError:
        raise ValidationError(
            _("Characters 7 to 14 are not a real date of birth (%(text)s).")
            % {"text": number[6:14]},
            code="birth_date",
        ) from None
    if birth > (today or datetime.date.today()) or birth.year < 1900:
        raise ValidationError(
            _("The date of birth %(date)s in the ID number is impossible.")
            % {"date": birth.isoformat()},
            code="birth_date",
        )
    try:
        ric.get_birth_place(number)
    # stdnum raises KeyError for a code that names a province or city but no county.
    except (stdnum_errors.ValidationError, KeyError):
        raise ValidationError(
            _("The first six digits %(code)s are not a region code in use in %(year)d.")
            % {"code": number[:6], "year": birth.year},
            code="region",
        ) from None
    if number[17] != ric.calc_check_digit(number):
        raise ValidationError(
            _("The check digit is wrong: it should be %(digit)s. Please check each digit.")
            % {"digit": ric.calc_check_digit(number)},
            code="check_digit",
        )
    sex = SEX_MALE if int(number[16]) % 2 else SEX_FEMALE
    return IdInfo(number=number, birth_date=birth, sex=sex, region_code=number[:6])


def make_id_number(region_code: str, birth: datetime.date, sequence: int) -> str:
    """Build a valid number from its parts; ``sequence`` (0-999) carries the sex."""
    body = f"{region_code}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}\d{7,8})$")


def validate_phone(raw: str) -> str:
    phone = normalise(raw).lstrip("+").removeprefix("86") if raw else ""
    if not PHONE_RE.match(phone):
        raise ValidationError(
            _(
                "A phone number is an 11-digit mobile number starting with 1, "
                "or a landline with its area code."
            ),
            code="phone",
        )
    return phone


def mask_id_number(number: str) -> str:
    """340102199001011234 -> 340102********1234."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
