"""Which header means which roster field: built-in names in Chinese and English, overridden
by the mapping saved on a source."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence

from django.utils.translation import gettext as _

from gonghui.errors import DomainError

from .choices import RosterField

REQUIRED = (RosterField.ID_NUMBER, RosterField.NAME)

# Headers as they are written in real rosters (simplified and traditional Chinese, English).
ALIASES: dict[str, tuple[str, ...]] = {
    RosterField.ID_NUMBER: (
        "身份证号", "身份证号码", "公民身份号码", "身份证", "证件号码", "身份證號", "身份證號碼",
        "id_number", "id number", "id no", "id", "resident id", "identity number",
    ),
    RosterField.NAME: ("姓名", "职工姓名", "会员姓名", "name", "full name", "worker name"),
    RosterField.PHONE: (
        "手机号", "手机号码", "手機號碼", "联系电话", "电话", "电话号码", "phone", "mobile",
        "telephone",
    ),
    RosterField.REGION: (
        "行政区划代码", "区划代码", "居住地区划代码", "地区代码", "region", "region code",
        "region_code",
    ),
    RosterField.EMPLOYER: ("工作单位", "单位", "单位名称", "用人单位", "employer", "company"),
    RosterField.ORGANISATION: (
        "所属工会", "工会", "工会编号", "基层工会", "organisation", "organization", "union",
    ),
    RosterField.MEMBER_SINCE: (
        "入会日期", "入会时间", "member_since", "member since", "joined", "join date",
    ),
    RosterField.EMPLOYMENT_FORM: (
        "就业形态", "用工形式", "employment_form", "employment form", "employment",
    ),
}  # fmt: skip


def header_key(header: str) -> str:
    """The comparable form of a header: full-width to half-width, lower case, no blanks,
    underscores, asterisks (a "required" mark) or colons."""
    text = unicodedata.normalize("NFKC", header or "").strip().lower()
    return re.sub(r"[\s_*:：]+", "", text)


def _lookup(saved: Mapping[str, str], aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    table = {header_key(alias): field for field, names in aliases.items() for alias in names}
    table.update({header_key(header): field for header, field in saved.items()})
    return table


def map_headers(
    headers: Sequence[str],
    saved: Mapping[str, str],
    aliases: Mapping[str, Sequence[str]] | None = None,
    required: Sequence[str] = REQUIRED,
    label: Callable[[str], str] | None = None,
) -> tuple[dict[str, int], list[str]]:
    """(field → column index, headers that map to nothing). A missing required column or a
    field named twice is a :class:`DomainError` naming it. Rosters use the roster fields;
    an external list passes its own ``aliases``, ``required`` fields and ``label``."""
    aliases = ALIASES if aliases is None else aliases
    label = label or (lambda name: str(RosterField(name).label))
    table = _lookup(saved, aliases)
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        field = table.get(header_key(header))
        if field is None:
            ignored.append(header)
        elif field in found:
            raise DomainError(
                _("Two columns, “%(a)s” and “%(b)s”, both hold the %(field)s.")
                % {"a": headers[found[field]], "b": header, "field": label(field)},
                field="file",
            )
        else:
            found[field] = index
    missing = [f for f in required if f not in found]
    if missing:
        raise DomainError(missing_message(missing, headers, aliases, label), field="file")
    return found, ignored


def missing_message(
    missing: Sequence[str],
    headers: Sequence[str],
    aliases: Mapping[str, Sequence[str]] | None = None,
    label: Callable[[str], str] | None = None,
) -> str:
    aliases = ALIASES if aliases is None else aliases
    label = label or (lambda name: str(RosterField(name).label))
    names = "、".join(label(f) for f in missing)
    first = tuple(aliases[missing[0]])
    english = [alias for alias in first if alias.isascii()]
    examples = "、".join([*[a for a in first if not a.isascii()][:2], *english[:2]])
    shown = ", ".join(f"“{h}”" for h in headers[:12]) or _("(none)")
    return _(
        "The file has no column for the %(fields)s (a header such as %(examples)s). "
        "Its headers are: %(headers)s. If these headers are in another language, save a "
        "column mapping for the source (e.g. --map 'header=id_number'); if they look "
        "garbled, save the file as UTF-8 or GBK."
    ) % {"fields": names, "examples": examples, "headers": shown}


def check_mapping(
    mapping: Mapping[str, str], fields: Sequence[str] | None = None
) -> dict[str, str]:
    """A mapping to save: every target must be a field of the source (a roster field unless
    ``fields`` says otherwise)."""
    allowed = list(RosterField.values if fields is None else fields)
    clean: dict[str, str] = {}
    for header, field in mapping.items():
        if field not in allowed:
            raise DomainError(
                _("“%(field)s” is not a field of this source; the fields are: %(fields)s.")
                % {"field": field, "fields": ", ".join(allowed)},
                field="column_mapping",
            )
        clean[header.strip()] = field
    return clean
