"""One scoping mechanism: a user sees and changes only their organisation's subtree."""

from __future__ import annotations

import datetime

import pytest
from django.http import Http404

from gonghui.audit.models import AuditEntry
from gonghui.organisations.models import Organisation
from gonghui.organisations.scoping import get_for_user_or_404
from gonghui.people.models import Worker
from tests.factories import Province, worker


def test_a_county_sees_its_subtree_and_nothing_else(province: Province) -> None:
    mine = worker(province.yaohai_union, province.yaohai_region)
    theirs = worker(province.jinghu_union, province.jinghu_region)
    assert list(Worker.objects.for_user(province.alice)) == [mine]
    assert set(Worker.objects.for_user(province.leo)) == {mine, theirs}
    assert list(Worker.objects.for_user(province.charlie)) == [theirs]


def test_organisations_scope_to_the_subtree(province: Province) -> None:
    names = set(Organisation.objects.for_user(province.alice).values_list("name", flat=True))
    assert names == {"瑶海区总工会", "合肥某机械厂工会"}


def test_an_outsider_gets_404_not_403(province: Province) -> None:
    theirs = worker(province.jinghu_union, province.jinghu_region)
    with pytest.raises(Http404):
        get_for_user_or_404(Worker, province.alice, pk=theirs.pk)
    assert get_for_user_or_404(Worker, province.charlie, pk=theirs.pk) == theirs


def test_a_user_without_organisation_sees_nothing(province: Province) -> None:
    worker(province.yaohai_union, province.yaohai_region)
    province.alice.organisation = None
    assert not Worker.objects.for_user(province.alice).exists()


def test_sibling_paths_do_not_leak(province: Province) -> None:
    # 10 siblings: the path of the 1st ("…00001/") must not cover the 10th ("…0000a/").
    parent = province.yaohai
    siblings = [
        Organisation.objects.create(name=f"u{i}", kind="grassroots", parent=parent)
        for i in range(12)
    ]
    first = siblings[0]
    inside = Organisation.objects.filter(first.subtree_q())
    assert list(inside) == [first]


def test_every_change_is_audited_with_who_and_before_after(province: Province) -> None:
    from gonghui.audit.context import acting_as

    person = worker(province.yaohai_union, province.yaohai_region, name="李娜")
    with acting_as(province.alice, "web"):
        person.name = "李娜娜"
        person.save()
    entry = AuditEntry.objects.filter(model="people.worker", action="update").get()
    assert entry.actor == province.alice
    assert entry.source == "web"
    assert entry.changes == {"name": ["李娜", "李娜娜"]}
    assert entry.org_path == province.yaohai_union.path


def test_audit_entries_cannot_be_edited_or_deleted(province: Province) -> None:
    worker(province.yaohai_union, province.yaohai_region)
    entry = AuditEntry.objects.first()
    assert entry is not None
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().update(model="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


@pytest.mark.django_db
def test_the_database_refuses_to_rewrite_audit_on_postgresql(province: Province) -> None:
    from django.db import connection, transaction

    worker(province.yaohai_union, province.yaohai_region)
    if connection.vendor != "postgresql":
        return  # SQLite has no such trigger; the model-level guard is tested above
    from django.db.utils import DatabaseError

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET model = 'x'")


def test_worker_clean_derives_birth_and_sex_and_names_a_bad_number(province: Province) -> None:
    from django.core.exceptions import ValidationError

    from gonghui.people.idnumber import make_id_number

    number = make_id_number("340121", datetime.date(1985, 5, 17), 7)
    person = Worker(id_number=number.lower(), name="王芳", organisation=province.yaohai_union)
    person.full_clean()
    assert (person.birth_date, person.sex, person.id_number) == (
        datetime.date(1985, 5, 17),
        "M",
        number,
    )
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    person = Worker(id_number=wrong, name="王芳", organisation=province.yaohai_union)
    with pytest.raises(ValidationError) as excinfo:
        person.full_clean()
    assert "id_number" in excinfo.value.message_dict


def test_an_id_typed_with_spaces_and_full_width_digits_is_accepted(province: Province) -> None:
    from gonghui.people.idnumber import make_id_number

    number = make_id_number("340121", datetime.date(1985, 5, 17), 7)
    spaced = " ".join([number[:6], number[6:14], number[14:]])
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in spaced)
    person = Worker(id_number=full_width, name="王芳", organisation=province.yaohai_union)
    person.full_clean()
    assert person.id_number == number


def test_policies_scope_by_region_and_their_history_reaches_the_auditor(
    province: Province,
) -> None:
    from decimal import Decimal

    from gonghui.audit.context import acting_as
    from gonghui.hardship.models import LivingStandard, Policy

    hefei_standards = LivingStandard.objects.filter(region_id="340100")
    assert set(LivingStandard.objects.for_user(province.alice)) == set()  # a county: none
    province.alice.organisation = province.hefei  # a city user reaches the city's own
    assert set(LivingStandard.objects.for_user(province.alice)) == set(hefei_standards)
    assert list(Policy.objects.for_user(province.leo)) == [province.policy]
    with acting_as(province.adam, "web"):
        policy = Policy.objects.get()
        policy.minimum_wage = Decimal("2160")
        policy.save()
    entry = AuditEntry.objects.get(model="hardship.policy", action="update")
    assert entry.org_path == province.anhui.path
