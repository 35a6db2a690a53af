"""Small helpers for people records that the web pages need and no service offers yet."""

from __future__ import annotations

from django.db.models import QuerySet

from gonghui.accounts.models import User
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.models import Region
from gonghui.people.models import Household, HouseholdMember, Worker


def household_of(user: User, worker: Worker) -> Household | None:
    return (
        Household.objects.for_user(user)
        .select_related("region")
        .filter(members__worker=worker)
        .first()
    )


def has_household_elsewhere(worker: Worker) -> bool:
    """The worker is a member of some household (perhaps outside the user's scope)."""
    return HouseholdMember.objects.filter(worker=worker).exists()


def open_file_of(household: Household) -> HardshipFile | None:
    return household.files.exclude(status__in=[FileStatus.REJECTED, FileStatus.CLOSED]).first()


def region_choices(base: QuerySet[Region], keep: Region | None) -> QuerySet[Region]:
    """The user's regions, plus the one already on the record so editing never loses it."""
    if keep is None:
        return base
    return (base | Region.objects.filter(pk=keep.pk)).distinct().order_by("code")
