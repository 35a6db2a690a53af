"""The base of the commands that act as a named staff user (`gonghui file|aid|roster --as
USER …`): the same services as the pages, under the user's role and scope, audited as
coming from the command line, with domain refusals as a plain error message."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError
from django.db import models
from django.utils.translation import gettext as _

from gonghui.accounts.models import User
from gonghui.audit.context import acting_as
from gonghui.errors import DomainError

M = TypeVar("M", bound=models.Model)


class StaffCommand(BaseCommand):
    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--as", dest="username", required=True, help="act as this user")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.select_related("organisation").get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(
                _("No user named %(name)s.") % {"name": options["username"]}
            ) from None
        with acting_as(user, "cli"):
            try:
                self.dispatch(user, options)
            except DomainError as exc:
                raise CommandError(str(exc)) from None

    def dispatch(self, user: User, options: dict[str, Any]) -> None:
        raise NotImplementedError


def one_of(records: models.QuerySet[M], pk: int, missing: str) -> M:
    """The record ``pk`` among ``records`` (those in the user's scope); ``missing``, whose
    ``%(id)s`` is the number asked for, as the command's error when it is not there."""
    found = records.filter(pk=pk).first()
    if found is None:
        raise CommandError(missing % {"id": pk})
    return found
