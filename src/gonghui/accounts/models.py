"""Staff and worker accounts. Every user belongs to exactly one organisation."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.choicelabels import ChoiceLabels
from gonghui.organisations.models import Organisation, ServiceCentre

from .choices import ROLE_CAPABILITIES, Role


class User(ChoiceLabels, AbstractUser):
    """A person who logs in; what they see is their organisation's subtree."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    service_centre = models.ForeignKey(
        ServiceCentre,
        verbose_name=_("service centre"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff",
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.WORKER)
    display_name = models.CharField(_("display name"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    def can(self, capability: str) -> bool:
        return self.is_active and capability in ROLE_CAPABILITIES.get(self.role, frozenset())
