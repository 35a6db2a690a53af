"""Hardship files built through the real services, for every test that needs one."""

from __future__ import annotations

import datetime
from decimal import Decimal

from gonghui.hardship import services
from gonghui.hardship.choices import ExpenseKind, HardshipCause, IncomeKind
from gonghui.hardship.models import HardshipFile
from gonghui.hardship.services import Application, Line, Visit
from gonghui.organisations.models import Organisation
from tests.factories import Province, household, worker

APPLIED = datetime.date(2024, 3, 1)  # Hefei 2024: 低保 620


def open_file(
    p: Province,
    *,
    size: int = 3,
    wages: str = "18000",
    illness: str = "0",
    applied: datetime.date = APPLIED,
    name: str = "张伟",
    union: Organisation | None = None,
) -> HardshipFile:
    """Alice opens a file for a new household of ``size`` with its 12 months of money."""
    head = worker(p.yaohai_union, p.yaohai_region, name=name)
    home = household(union or p.yaohai_union, p.yaohai_region, head, size=size)
    file = services.open_application(
        p.alice,
        Application(
            household=home,
            applicant=head,
            primary_cause=HardshipCause.MAJOR_ILLNESS,
            secondary_causes=[HardshipCause.CHILDREN_IN_SCHOOL],
            applied_on=applied,
        ),
    )
    return services.set_finances(
        p.alice,
        file,
        incomes=[Line(IncomeKind.WAGES, Decimal(wages))],
        expenses=[Line(ExpenseKind.ILLNESS, Decimal(illness))],
    )


def investigate(p: Province, file: HardshipFile) -> HardshipFile:
    services.record_investigation(
        p.alice, file, Visit(visited_on=file.applied_on, findings="住房简陋，丈夫患病卧床。")
    )
    return HardshipFile.objects.get(pk=file.pk)


def under_notice(p: Province, file: HardshipFile) -> HardshipFile:
    return services.submit_for_notice(p.alice, investigate(p, file))


def end_notice(file: HardshipFile) -> None:
    """Let the public notice run out (it lasts 5 working days from today)."""
    HardshipFile.objects.filter(pk=file.pk).update(notice_end=datetime.date(2024, 3, 10))


def filed(p: Province, **kwargs: str) -> HardshipFile:
    file = under_notice(p, open_file(p, **kwargs))  # type: ignore[arg-type]
    end_notice(file)
    file = services.review(p.rita, HardshipFile.objects.get(pk=file.pk))
    return services.approve(p.rita, file)


def move(file: HardshipFile, **fields: object) -> HardshipFile:
    """Hand-set a file's dates or organisation (the services stamp today); the file again."""
    HardshipFile.objects.filter(pk=file.pk).update(**fields)
    return HardshipFile.objects.get(pk=file.pk)
