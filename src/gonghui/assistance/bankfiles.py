"""Bank files: writing the payment file a bank portal takes, reading the result file it sends.

Nothing here touches the database. Writing: Chinese real-name columns, CSV in GB18030 (what
Chinese bank portals read) or UTF-8, or XLSX. Reading accepts the files banks actually send:
GBK/GB18030 or UTF-8 with or without a BOM, CSV (comma, tab, semicolon or bar) or XLSX,
title rows above the header (the header is the first row whose cells name the columns we
need, in Chinese or English), totals at the bottom, amounts such as "1,234.50".
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime
import functools
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from gonghui.errors import DomainError

from .choices import PaymentStatus

# --- writing ----------------------------------------------------------------------------

EXPORT_HEADER = [
    "序号",
    "明细号",
    "收款人姓名",
    "开户银行",
    "银行卡号",
    "金额(元)",
    "用途",
    "批次号",
]
CSV_ENCODINGS = ("gb18030", "utf-8", "utf-8-sig")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def write_csv(rows: Iterable[Sequence[str]], encoding: str = "gb18030") -> bytes:
    if encoding not in CSV_ENCODINGS:
        raise DomainError(_("Unknown file encoding."), field="encoding")
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)
    return text.getvalue().encode(encoding)


def write_xlsx(rows: Iterable[Sequence[str]], title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(EXPORT_HEADER)
    for row in rows:
        # Every cell is text: a card number stored as a number loses its last digits in
        # a spreadsheet (15 significant digits), and amounts stay exact.
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- reading: cells ------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) if it decodes as such, otherwise GB18030 (a superset of
    GBK and GB2312); Chinese text in GBK is practically never valid UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise DomainError(
            _("The file is neither UTF-8 nor GBK text: save it as CSV or XLSX."), field="file"
        ) from None


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person sees in it. Numeric cells arrive from
    openpyxl as int or float; a float is turned into its shortest decimal form (what Excel
    shows), never used as a number."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        exact = Decimal(repr(value))
        return str(exact.quantize(Decimal(1))) if exact == exact.to_integral() else str(exact)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise DomainError(_("This XLSX file cannot be read."), field="file") from None
    try:
        sheet = book.worksheets[0]
        return [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


# --- reading: the header -------------------------------------------------------------------


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Column names banks use, after normalising (lower case, no spaces, no units in brackets).
ALIASES: dict[str, tuple[str, ...]] = {
    "payment_id": words(
        "明细号 明细编号 付款明细号 支付明细号 明细id 付款编号 支付编号 客户参考号 客户流水号 "
        "业务参考号 paymentid paymentno payment detailid detailno"
    ),
    "name": words(
        "收款人姓名 收款人 收款人名称 收款户名 户名 账户名 账户名称 帐户名 帐户名称 姓名 持卡人 "
        "name payee payeename accountname holder"
    ),
    "card": words(
        "银行卡号 卡号 账号 帐号 收款账号 收款帐号 收款人账号 收款人帐号 收款卡号 收款账户 账户 "
        "帐户 card cardno cardnumber account accountno accountnumber"
    ),
    "amount": words("金额 交易金额 付款金额 支付金额 实付金额 发放金额 代发金额 amount amt"),
    "status": words(
        "状态 结果 处理结果 处理状态 交易状态 交易结果 付款状态 付款结果 支付状态 代发结果 "
        "status result"
    ),
    "reason": words(
        "失败原因 原因 备注 错误信息 失败信息 错误原因 说明 附言 reason failurereason message "
        "remark remarks note"
    ),
    "reference": words(
        "流水号 银行流水号 交易流水号 银行流水 交易参考号 银行参考号 bankreference bankref "
        "reference transactionid txnid"
    ),
    "date": words(
        "日期 交易日期 付款日期 支付日期 入账日期 处理日期 记账日期 date paidon valuedate "
        "transactiondate"
    ),
}
REQUIRED = ("payment_id", "name", "card", "amount", "status")
REQUIRED_NAMES = {
    "payment_id": "明细号",
    "name": "收款人姓名",
    "card": "银行卡号",
    "amount": "金额",
    "status": "状态",
}
HEADER_SEARCH_ROWS = 30
_BY_ALIAS = {alias: key for key, names in ALIASES.items() for alias in names}
_BRACKETS = re.compile(r"[(（\[【].*?[)）\]】]")


def normalise_name(text: str) -> str:
    text = _BRACKETS.sub("", text).lower()
    return re.sub(r"[\s_\-:：*#.]", "", text)


def header_columns(row: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(row):
        key = _BY_ALIAS.get(normalise_name(cell))
        if key is not None and key not in columns:
            columns[key] = index
    return columns


def find_header(rows: Sequence[Sequence[str]]) -> tuple[int, dict[str, int]] | None:
    """The index of the header row and where each column is, or None."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = header_columns(row)
        if all(key in columns for key in REQUIRED):
            return index, columns
    return None


# --- reading: the rows ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """One row of a bank result file, as text, with its row number in the file."""

    number: int
    payment_id: str
    name: str
    card: str
    amount: str
    status: str
    reason: str = ""
    reference: str = ""
    date: str = ""


assert tuple(ALIASES) == tuple(f.name for f in dataclasses.fields(ResultRow))[1:]

TOTAL_MARKERS = ("合计", "总计", "小计", "共计", "total", "sum")


def is_total(row: Sequence[str]) -> bool:
    first = next((cell for cell in row if cell), "")
    return first.lower().startswith(TOTAL_MARKERS)


def result_rows(
    rows: Sequence[Sequence[str]], header: int, columns: dict[str, int]
) -> list[ResultRow]:
    # ResultRow's fields after ``number`` are ALIASES' keys, in the same order.
    positions = [columns.get(key, -1) for key in ALIASES]
    found = []
    for index in range(header + 1, len(rows)):
        row = [cell.strip() for cell in rows[index]]
        if not any(row) or is_total(row):
            continue
        width = len(row)
        cells = (row[p] if 0 <= p < width else "" for p in positions)
        found.append(ResultRow(index + 1, *cells))
    return found


def csv_tables(text: str) -> Iterable[list[list[str]]]:
    for delimiter in (",", "\t", ";", "|"):
        yield list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def read_result(filename: str, data: bytes) -> list[ResultRow]:
    """The data rows of a bank result file; DomainError if it has no recognisable header."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DomainError(
            _("Old Excel files (.xls) cannot be read: save it as XLSX or CSV."), field="file"
        )
    is_xlsx = data.startswith(b"PK\x03\x04") or filename.lower().endswith(".xlsx")
    tables = [xlsx_rows(data)] if is_xlsx else csv_tables(decode(data))
    for rows in tables:
        found = find_header(rows)
        if found is not None:
            return result_rows(rows, *found)
    raise DomainError(
        _("No header row with the columns %(columns)s was found in this file.")
        % {"columns": ", ".join(REQUIRED_NAMES.values())},
        field="file",
    )


# --- reading: values ------------------------------------------------------------------------

SUCCESS = frozenset(
    words(
        "成功 交易成功 支付成功 付款成功 处理成功 代发成功 入账成功 已成功 已入账 已支付 已付款 "
        "success succeeded successful paid ok s"
    )
)
FAILURE = frozenset(
    words(
        "失败 交易失败 支付失败 付款失败 处理失败 代发失败 入账失败 已退回 退回 退票 failed "
        "failure fail f rejected returned error"
    )
)


@functools.lru_cache(maxsize=256)
def outcome(status: str) -> str | None:
    """PAID, FAILED, or None when the bank's word is neither (e.g. still processing)."""
    word = normalise_name(status)
    if word in SUCCESS:
        return PaymentStatus.PAID
    if word in FAILURE:
        return PaymentStatus.FAILED
    return None


_DATE = re.compile(r"(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?")


@functools.lru_cache(maxsize=1024)
def parse_date(text: str) -> datetime.date | None:
    """A date as banks write it ("2026-03-15", "2026/3/15", "20260315", "2026.03.15",
    "2026年3月15日", with or without a time); None if it is none of these. A result file
    holds few distinct dates, hence the cache."""
    day = text.strip().split(" ")[0].split("T")[0]
    found = _DATE.fullmatch(day)
    if found is None:
        return None
    try:
        return datetime.date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def parse_id(text: str) -> int | None:
    digits = text.strip()
    if digits.endswith(".0"):  # a numeric spreadsheet cell shown with a decimal
        digits = digits[:-2]
    return int(digits) if digits.isdigit() else None
