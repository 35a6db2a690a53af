"""Which actions a user may take on a file now, and the form each one posts."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.choices import Capability
from gonghui.accounts.models import User
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile

from . import forms as web_forms

BEFORE_NOTICE = frozenset({FileStatus.DRAFT, FileStatus.INVESTIGATED})
AFTER_NOTICE = frozenset({FileStatus.NOTICE, FileStatus.REVIEWED})


@dataclass(frozen=True)
class Action:
    name: str
    label: Promise
    form: type[forms.Form]
    url_name: str
    allowed: Callable[[User, HardshipFile], bool]
    danger: bool = False


def _when(capability: str, statuses: Iterable[str]) -> Callable[[User, HardshipFile], bool]:
    states = frozenset(statuses)
    return lambda user, file: user.can(capability) and file.status in states


def _may_reject(user: User, file: HardshipFile) -> bool:
    # Before the notice the case worker may turn an application down; after it, the reviewer.
    if file.status in BEFORE_NOTICE:
        return user.can(Capability.OPEN_FILE)
    return file.status in AFTER_NOTICE and user.can(Capability.APPROVE)


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in [
        Action(
            "investigate",
            _("Record home investigation"),
            web_forms.InvestigationForm,
            "file-investigate",
            _when(Capability.INVESTIGATE, BEFORE_NOTICE),
        ),
        Action(
            "submit",
            _("Submit for public notice"),
            web_forms.SubmitForm,
            "file-submit",
            _when(Capability.OPEN_FILE, {FileStatus.INVESTIGATED}),
        ),
        Action(
            "review",
            _("Review after the notice"),
            web_forms.NoteForm,
            "file-review",
            _when(Capability.APPROVE, {FileStatus.NOTICE}),
        ),
        Action(
            "approve",
            _("Approve and file"),
            web_forms.NoteForm,
            "file-approve",
            _when(Capability.APPROVE, {FileStatus.REVIEWED}),
        ),
        Action(
            "periodic_review",
            _("Periodic review"),
            web_forms.NoteForm,
            "file-periodic-review",
            _when(Capability.MANAGE_FILED, {FileStatus.FILED}),
        ),
        Action(
            "income_reading",
            _("Record monthly income"),
            web_forms.IncomeReadingForm,
            "file-income-reading",
            _when(Capability.MANAGE_FILED, {FileStatus.FILED}),
        ),
        Action(
            "exit",
            _("Exit the file"),
            web_forms.ExitForm,
            "file-exit",
            _when(Capability.MANAGE_FILED, {FileStatus.FILED}),
            danger=True,
        ),
        Action(
            "reopen",
            _("Reopen"),
            web_forms.ReasonForm,
            "file-reopen",
            _when(Capability.OPEN_FILE, {FileStatus.CLOSED, FileStatus.REJECTED}),
        ),
        Action("reject", _("Reject"), web_forms.ReasonForm, "file-reject", _may_reject, True),
    ]
}


def available_actions(user: User, file: HardshipFile) -> list[Action]:
    return [action for action in ACTIONS.values() if action.allowed(user, file)]


def _initial(name: str, today: datetime.date) -> dict[str, object]:
    if name == "investigate":
        return {"visited_on": today}
    if name == "income_reading":
        return {"month": today.replace(day=1)}
    if name == "exit":
        return {"exit_on": today}
    return {}


def action_forms(
    actions: Iterable[Action],
    file: HardshipFile,
    today: datetime.date,
    bound: Mapping[str, forms.BaseForm],
) -> dict[str, forms.BaseForm]:
    """A fresh form per available action, or the bound one that failed, with its errors."""
    return {
        action.name: bound.get(action.name) or action.form(initial=_initial(action.name, today))
        for action in actions
    }
