"""Finding the demo province in the database, and removing it (``load_demo --reset``).

Deletes are set-based (one DELETE ... WHERE id IN (subquery) per table, children first):
``QuerySet.delete()`` would load every row to send the audit mixin's post_delete signal
and write a million audit entries about deleting demo data.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model, Q, QuerySet

from gonghui.accounts.models import User
from gonghui.audit.models import AuditEntry
from gonghui.hardship import models as hardship
from gonghui.organisations.choices import OrganisationKind
from gonghui.organisations.models import Organisation, ServiceCentre
from gonghui.people.models import Household, HouseholdMember, Membership, Worker
from gonghui.supervision.models import Digest, Finding, FollowUpPlan, SupervisionTask

from . import aid, anhui, discovery

FILE_CHILDREN: tuple[type[Model], ...] = (
    hardship.FollowUp,
    hardship.IncomeReading,
    hardship.PeriodicReview,
    hardship.Attachment,
    hardship.Investigation,
    hardship.IncomeLine,
    hardship.ExpenseLine,
    hardship.FileEvent,
)


def demo_root() -> Organisation | None:
    """The demo's provincial federation. Test factories also build a 安徽省总工会; only the
    demo's has the courier-industry federation under it."""
    return Organisation.objects.filter(
        parent=None,
        name=anhui.PROVINCE_FEDERATION,
        kind=OrganisationKind.PROVINCE,
        children__name=anhui.INDUSTRY_FEDERATION,
    ).first()


def delete_rows(queryset: QuerySet[Any]) -> int:
    """DELETE the rows of ``queryset`` in one statement, bypassing signals."""
    model = queryset.model
    subquery, params = queryset.values("pk").query.sql_with_params()
    quote = connection.ops.quote_name
    table, key = quote(model._meta.db_table), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {key} IN ({subquery})", params)
        return int(cursor.rowcount)


def wipe(root: Organisation) -> dict[str, int]:
    """Remove everything under the demo province federation; returns rows per table."""
    tree = Organisation.objects.filter(root.subtree_q())
    files = hardship.HardshipFile.objects.filter(organisation__in=tree)
    gone: dict[str, int] = discovery.wipe(root)  # candidates point to workers
    # Supervision points to files and payment batches: before the money goes.
    gone["FollowUpPlan"] = delete_rows(FollowUpPlan.objects.filter(file__in=files))
    tasks = SupervisionTask.objects.filter(organisation__in=tree)
    gone["Finding"] = delete_rows(Finding.objects.filter(Q(task__in=tasks) | Q(file__in=files)))
    gone["SupervisionTask"] = delete_rows(tasks)
    gone.update(aid.wipe(root))  # the money next: it points to files and workers
    for model in FILE_CHILDREN:
        gone[model.__name__] = delete_rows(model._default_manager.filter(file__in=files))
    gone["HardshipFile"] = delete_rows(files)
    gone["HouseholdMember"] = delete_rows(
        HouseholdMember.objects.filter(household__organisation__in=tree)
    )
    gone["Household"] = delete_rows(Household.objects.filter(organisation__in=tree))
    gone["Membership"] = delete_rows(
        Membership.objects.filter(Q(organisation__in=tree) | Q(worker__organisation__in=tree))
    )
    gone["Worker"] = delete_rows(Worker.objects.filter(organisation__in=tree))
    gone["Digest"] = delete_rows(Digest.objects.filter(user__organisation__in=tree))
    gone["User"] = _remove_users(User.objects.filter(organisation__in=tree))
    gone["ServiceCentre"] = delete_rows(ServiceCentre.objects.filter(organisation__in=tree))
    gone["Organisation"] = delete_rows(tree)
    gone["Policy"] = delete_rows(
        hardship.Policy.objects.filter(region_id=anhui.PROVINCE_REGION, name=anhui.POLICY_NAME)
    )
    gone["LivingStandard"] = delete_rows(
        hardship.LivingStandard.objects.filter(region_id__in=[c.code for c in anhui.CITIES])
    )
    return gone


def _remove_users(users: QuerySet[User]) -> int:
    """The audit trail is append-only and points to who acted: users who appear in it are
    kept, detached and disabled (a rebuild takes them up again by username)."""
    in_audit = AuditEntry.objects.filter(actor__in=users).values("actor_id")
    users.filter(pk__in=in_audit).update(organisation=None, service_centre=None, is_active=False)
    return delete_rows(users.exclude(pk__in=in_audit))
