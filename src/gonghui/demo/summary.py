"""What the demo holds, and how to log in: printed at the end of ``gonghui load_demo``."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from gonghui.accounts.models import User
from gonghui.hardship.choices import FileStatus
from gonghui.hardship.models import HardshipFile
from gonghui.organisations.models import Organisation, ServiceCentre
from gonghui.people.models import Household, Worker

from . import aid
from .staff import DEMO_PASSWORD, FIXED_LOGINS


@dataclass
class Summary:
    organisations: int
    centres: int
    users: int
    workers: int
    households: int
    files: dict[str, int] = field(default_factory=dict)
    money: list[str] = field(default_factory=list)  # funds, assistance lines, the campaign

    @property
    def file_total(self) -> int:
        return sum(self.files.values())


def summarise(root: Organisation) -> Summary:
    tree = Organisation.objects.filter(root.subtree_q())
    by_status = (
        HardshipFile.objects.filter(organisation__in=tree)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by("status")
    )
    return Summary(
        organisations=tree.count(),
        centres=ServiceCentre.objects.filter(organisation__in=tree).count(),
        users=User.objects.filter(organisation__in=tree).count(),
        workers=Worker.objects.filter(organisation__in=tree).count(),
        households=Household.objects.filter(organisation__in=tree).count(),
        # In workflow order: draft, investigated, notice, reviewed, filed, rejected, closed.
        files={s: n for s in FileStatus.values for status, n in by_status if status == s},
        money=aid.counts_text(root),
    )


def logins_text() -> list[str]:
    users = {
        u.username: u
        for u in User.objects.filter(
            username__in=[login.username for login in FIXED_LOGINS]
        ).select_related("organisation")
    }
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    for login in FIXED_LOGINS:
        user = users.get(login.username)
        org = user.organisation.name if user and user.organisation else "?"
        lines.append(f"  {login.username:<20} {login.role:<13} {org}")
    lines.append(
        "Assistance: fund (funds, budgets, payment batches), leader (holiday-visit campaign), "
        "yaohai_caseworker (plans, visits), yaohai_reviewer (aid waiting for approval)"
    )
    return lines


def counts_text(summary: Summary) -> list[str]:
    statuses = ", ".join(f"{status} {n:,}" for status, n in summary.files.items())
    return [
        f"Organisations {summary.organisations:,}; service centres {summary.centres:,}; "
        f"staff users {summary.users:,}",
        f"Workers {summary.workers:,}; households {summary.households:,}",
        f"Hardship files {summary.file_total:,}: {statuses}",
        *summary.money,
    ]
