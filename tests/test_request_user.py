"""Every request loads its session and its user with their union in SQL written once
(accounts/sessions.py, accounts/backends.py): the same values as the ORM, and the same
refusals (an expired session, a deactivated account, an unknown id)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gonghui.accounts.backends import user_with_organisation
from gonghui.accounts.models import User
from tests.factories import Province
from tests.web_helpers import logged_in


def _values(obj: object) -> dict[str, object]:
    fields = type(obj)._meta.concrete_fields  # type: ignore[attr-defined]
    return {field.attname: getattr(obj, field.attname) for field in fields}


def test_the_user_and_union_read_as_the_orm_reads_them(province: Province) -> None:
    User.objects.filter(pk=province.alice.pk).update(last_login=timezone.now())
    orm = User.objects.select_related("organisation").get(pk=province.alice.pk)
    with CaptureQueriesContext(connection) as queries:
        found = user_with_organisation(province.alice.pk)
        assert found is not None and found.organisation is not None
        assert found.organisation.name == orm.organisation.name  # type: ignore[union-attr]
    assert len(queries) == 1
    assert _values(found) == _values(orm)
    assert _values(found.organisation) == _values(orm.organisation)
    assert found.is_active is True and isinstance(found.last_login, datetime.datetime)
    assert found.can("investigate") == orm.can("investigate")


def test_a_user_without_a_union_and_an_unknown_id(province: Province) -> None:
    User.objects.filter(pk=province.adam.pk).update(organisation=None)
    with CaptureQueriesContext(connection) as queries:
        found = user_with_organisation(province.adam.pk)
        assert found is not None and found.organisation is None
    assert len(queries) == 1  # no second query for the missing union
    assert user_with_organisation(10**9) is None
    assert user_with_organisation("not a number") is None


@pytest.mark.django_db
def test_an_expired_session_or_a_deactivated_account_logs_out(
    client: Client, province: Province
) -> None:
    logged_in(client, province.alice)
    assert client.get(reverse("queue")).status_code == 200
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    assert client.get(reverse("queue")).status_code == 302  # to the login page

    logged_in(client, province.alice)
    assert client.get(reverse("queue")).status_code == 200
    User.objects.filter(pk=province.alice.pk).update(is_active=False)
    assert client.get(reverse("queue")).status_code == 302


@pytest.mark.django_db
def test_a_page_loads_session_and_user_in_two_queries(client: Client, province: Province) -> None:
    logged_in(client, province.alice)
    client.get(reverse("queue"))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("queue"))
    tables = [query["sql"] for query in queries.captured_queries[:2]]
    assert "django_session" in tables[0] and "accounts_user" in tables[1]
    assert "organisations_organisation" in tables[1]
