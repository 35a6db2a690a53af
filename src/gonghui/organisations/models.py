"""Regions (GB/T 2260) and the tree of union organisations with their service centres."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.audit.models import Audited
from gonghui.choicelabels import ChoiceLabels

from .choices import OrganisationKind, RegionLevel
from .scoping import ScopedQuerySet

# Each level of the materialised path is a fixed-width base-36 segment plus a separator,
# so a subtree is one index range scan: path >= "p" and path < "p" with its last "/"
# bumped to "0" ("/" sorts right before "0").
PATH_SEGMENT = 5
PATH_SEP = "/"


def subtree_upper_bound(path: str) -> str:
    return path[:-1] + chr(ord(PATH_SEP) + 1)


def encode_segment(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out.rjust(PATH_SEGMENT, "0") + PATH_SEP


class Region(ChoiceLabels):
    """An administrative division by its 6-digit GB/T 2260 code."""

    code = models.CharField(_("code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=64)
    level = models.CharField(_("level"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def lineage(self) -> list[Region]:
        """This region and its ancestors, most specific first (county, city, province)."""
        chain: list[Region] = []
        node: Region | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def lineage_codes(self) -> list[str]:
        """Codes from county to province, computed from the code itself (no queries)."""
        codes = [self.code]
        if not self.code.endswith("00"):
            codes.append(self.code[:4] + "00")
        if not self.code.endswith("0000"):
            codes.append(self.code[:2] + "0000")
        return codes


class Organisation(Audited):
    """A union body. Organisations form one tree; scope follows the tree."""

    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=12, choices=OrganisationKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT
    )
    # Materialised path of the organisation, e.g. "00001/0000a/"; see subtree_upper_bound.
    path = models.CharField(max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)

    objects = ScopedQuerySet.as_manager()
    scope_field = ""

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def audit_org_path(self) -> str:
        return self.path

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.path:
            self.path = self._next_path()
            self.depth = self.path.count(PATH_SEP) - 1
        super().save(*args, **kwargs)

    def _next_path(self) -> str:
        prefix = self.parent.path if self.parent else ""
        siblings = Organisation.objects.filter(parent=self.parent).count()
        return prefix + encode_segment(siblings + 1)

    def subtree_q(self, prefix: str = "") -> models.Q:
        """A filter for objects whose organisation path lies in this subtree."""
        field = f"{prefix}path" if prefix else "path"
        return models.Q(
            **{f"{field}__gte": self.path, f"{field}__lt": subtree_upper_bound(self.path)}
        )

    def contains(self, other: Organisation) -> bool:
        return other.path.startswith(self.path)

    def ancestors(self) -> models.QuerySet[Organisation]:
        step = PATH_SEGMENT + len(PATH_SEP)
        paths = [self.path[:end] for end in range(step, len(self.path) + 1, step)]
        return Organisation.objects.filter(path__in=paths).order_by("depth")


class ServiceCentre(ChoiceLabels):
    """A service desk (职工服务中心) of an organisation, where staff work."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="service_centres",
    )
    name = models.CharField(_("name"), max_length=128)
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_field = "organisation"

    class Meta:
        verbose_name = _("service centre")
        verbose_name_plural = _("service centres")

    def __str__(self) -> str:
        return self.name
