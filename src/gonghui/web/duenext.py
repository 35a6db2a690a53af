"""What is due next on a file, in words, from its status and dates."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from gonghui.hardship.choices import FileStatus, FollowUpStatus
from gonghui.hardship.models import FollowUp, HardshipFile

DEFAULT_INVESTIGATION_DAYS = 5  # DESIGN §4.2, used when the file has no policy yet


@dataclass(frozen=True)
class Due:
    text: str
    day: datetime.date | None = None
    late: bool = False


def _on(template: str, day: datetime.date | None) -> str:
    """A translated sentence with its date kept on one line (safe HTML)."""
    before, _sep, after = template.partition("%(day)s")
    date = format_html('<span class="date">{}</span>', day.isoformat() if day else "—")
    return format_html("{}{}{}", before, date, after)


def _investigation(file: HardshipFile, today: datetime.date) -> Due:
    days = file.policy.investigation_days if file.policy else DEFAULT_INVESTIGATION_DAYS
    day = file.applied_on + datetime.timedelta(days=days)
    return Due(_on(_("Home investigation due by %(day)s."), day), day, today > day)


def _notice(file: HardshipFile, today: datetime.date) -> Due:
    end = file.notice_end
    if end is not None and today > end:
        return Due(
            _on(_("The public notice ended on %(day)s; the file waits for review."), end), end
        )
    return Due(_on(_("The public notice ends on %(day)s; review from the next day."), end), end)


def _filed(file: HardshipFile, today: datetime.date, months_above: int) -> list[Due]:
    items = []
    if file.review_due:
        late = today > file.review_due
        items.append(
            Due(
                _on(_("Periodic review due on %(day)s."), file.review_due),
                file.review_due,
                late,
            )
        )
    need = int(file.policy_snapshot.get("exit_months", 6)) if file.policy_snapshot else 6
    items.append(
        Due(
            ngettext(
                "%(have)d consecutive month above the standard recorded; %(need)d needed to exit.",
                "%(have)d consecutive months above the standard recorded; %(need)d needed to exit.",
                months_above,
            )
            % {"have": months_above, "need": need}
        )
    )
    return items


def due_next(
    file: HardshipFile,
    today: datetime.date,
    follow_ups: Iterable[FollowUp] = (),
    months_above: int = 0,
) -> list[Due]:
    status = file.status
    if status == FileStatus.DRAFT:
        return [_investigation(file, today)]
    if status == FileStatus.INVESTIGATED:
        return [Due(_("Ready to be submitted for public notice."))]
    if status == FileStatus.NOTICE:
        return [_notice(file, today)]
    if status == FileStatus.REVIEWED:
        return [Due(_("Waiting for approval and filing at county level or above."))]
    if status == FileStatus.FILED:
        return _filed(file, today, months_above)
    if status == FileStatus.CLOSED:
        due = [f for f in follow_ups if f.status == FollowUpStatus.DUE]
        return [
            Due(_on(_("Follow-up call due on %(day)s."), f.due_on), f.due_on, today > f.due_on)
            for f in due
        ] or [Due(_("No follow-up is due."))]
    return [Due(_("Rejected. The file can be reopened if the household falls back into hardship."))]
