"""Changes to workers, households and members, for the web pages, the API and imports.

Each checks the user's capability and scope and lets the model's own validation name the
field at fault; a change of household members re-assesses the household's open file, so
the proposed category never lags behind the people it is about.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from gonghui.accounts.choices import Capability
from gonghui.errors import NotAllowed
from gonghui.organisations.models import Organisation, Region

from .choices import Relation
from .models import Household, HouseholdMember, Worker


def _require_edit(user: Any, organisation: Organisation | None, field: str) -> None:
    if not user.can(Capability.EDIT_PEOPLE):
        raise NotAllowed(_("Your role does not allow this."))
    mine = user.organisation
    if organisation is None or mine is None or not mine.contains(organisation):
        raise NotAllowed(_("This is outside your organisation."), field=field)


def save_worker(user: Any, worker: Worker) -> Worker:
    """Create or change a worker; the ID number decides birth date and sex."""
    if worker.pk is not None:
        stored = Worker.objects.select_related("organisation").get(pk=worker.pk)
        _require_edit(user, stored.organisation, "organisation")
    _require_edit(user, worker.organisation, "organisation")
    worker.full_clean(exclude={"sex", "birth_date"})
    worker.save()
    return worker


def create_household(user: Any, worker: Worker, region: Region, address: str) -> Household:
    """A new household under the worker's union, with the worker as its head (SELF)."""
    _require_edit(user, worker.organisation, "worker")
    with transaction.atomic():
        home = Household.objects.create(
            organisation=worker.organisation, region=region, address=address
        )
        HouseholdMember.objects.create(
            household=home,
            worker=worker,
            name=worker.name,
            id_number=worker.id_number,
            relation=Relation.SELF,
            birth_date=worker.birth_date,
        )
    return home


def save_member(user: Any, member: HouseholdMember) -> HouseholdMember:
    """Add or change a household member and re-assess the household's open file."""
    from gonghui.hardship.services import household_changed  # hardship builds on people

    _require_edit(user, member.household.organisation, "household")
    member.full_clean(exclude={"household"})
    with transaction.atomic():
        member.save()
        household_changed(user, member.household)
    return member
