"""What the demo holds, and how to log in: printed at the end of ``gonghui load_demo``."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, Q
from django.utils import timezone

from gonghui.accounts.models import User
from gonghui.hardship.choices import FileStatus, FollowUpStatus
from gonghui.hardship.models import (
    Attachment,
    FollowUp,
    HardshipFile,
    Investigation,
    PeriodicReview,
)
from gonghui.organisations.models import Organisation, ServiceCentre
from gonghui.people.models import Household, Worker

from . import aid, discovery, supervision
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
    more: list[str] = field(default_factory=list)  # casework, supervision, discovery

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
        more=[
            casework_text(root),
            supervision.counts_text(root),
            *discovery.counts_text(root),
        ],
    )


def casework_text(root: Organisation) -> str:
    """Home visits with photos, periodic reviews (on time or not), follow-ups."""
    files = HardshipFile.objects.filter(root.subtree_q("organisation__"))
    visits = Investigation.objects.filter(file__in=files)
    photographed = visits.filter(attachments__isnull=False).distinct().count()
    reviews = PeriodicReview.objects.filter(file__in=files).aggregate(
        done=Count("pk"), on_time=Count("pk", filter=Q(done_on__lte=F("due_on")))
    )
    today = timezone.localdate()
    overdue = files.filter(status=FileStatus.FILED, review_due__lt=today).count()
    follow_ups = FollowUp.objects.filter(file__in=files).aggregate(
        all=Count("pk"),
        done=Count("pk", filter=Q(status=FollowUpStatus.DONE)),
        late=Count("pk", filter=Q(status=FollowUpStatus.DUE, due_on__lt=today)),
    )
    photos = Attachment.objects.filter(file__in=files).count()
    return (
        f"Home visits {visits.count():,} ({photographed:,} with photos, {photos:,} photos); "
        f"periodic reviews {reviews['done']:,} ({reviews['on_time']:,} on time, "
        f"{overdue:,} overdue now); follow-ups {follow_ups['all']:,} "
        f"({follow_ups['done']:,} done, {follow_ups['late']:,} overdue)"
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
    lines.append(
        "Discovery and supervision: admin (external lists, screening rules), "
        "yaohai_caseworker (outreach worklist, link reviews, a spot check to do), "
        "hefei_reviewer (supervision tasks), leader (indicators, competitions)"
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
        *summary.more,
    ]
