"""The main navigation, grouped by the work it serves, built once per role and language.

Twenty-odd pages would not fit a phone's width as one row of links, so they are grouped
the way a service centre divides its work: casework, discovery, assistance and money,
supervision, administration. Each group is a ``<details>`` menu (no script needed to open
it; on a phone it opens in place, on a wide screen it drops down); a group with a single
page the user may open is a plain link.

What a user sees depends only on their role (capabilities are per role) and the language,
and which link is current only on the path; so the HTML is cached per (role, language,
current page) and a request pays a dictionary lookup, not twenty capability checks and URL
reversals in the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.choices import ROLE_CAPABILITIES
from gonghui.accounts.choices import Capability as C

EVERYONE: tuple[str, ...] = ()
MONEY_READERS = (C.MANAGE_FUNDS, C.APPROVE_AID, C.RUN_CAMPAIGNS, C.READ_AUDIT)
# Every staff role holds some capability; a worker's own account holds none.
ANY_STAFF = tuple(C.values)


@dataclass(frozen=True)
class Item:
    url_name: str
    label: Promise
    needs: tuple[str, ...] = EVERYONE  # any one of these capabilities; empty: every user
    also: tuple[str, ...] = ()  # further path prefixes that belong to this page

    def visible(self, capabilities: frozenset[str]) -> bool:
        return not self.needs or any(need in capabilities for need in self.needs)


@dataclass(frozen=True)
class Group:
    label: Promise
    items: tuple[Item, ...]


NAV: tuple[Group, ...] = (
    Group(
        _("Casework"),
        (
            Item("queue", _("Work queue")),
            Item("file-list", _("Files")),
            Item("file-new", _("New application"), (C.OPEN_FILE,)),
            Item("notice-list", _("Public notices")),
            Item("follow-up-list", _("Follow-ups"), (C.MANAGE_FILED,)),
            Item("digest", _("Today's digest")),
        ),
    ),
    Group(
        _("Discovery"),
        (
            Item("outreach-list", _("Outreach"), (C.OPEN_FILE, C.MANAGE_FILED)),
            Item(
                "outreach-coverage",
                _("Coverage"),
                (C.OPEN_FILE, C.MANAGE_FILED, C.RUN_COMPETITIONS),
            ),
            Item(
                "link-review-list",
                _("Linkage review"),
                (C.MANAGE_FILED, C.IMPORT_ROSTERS),
                also=("/linkage/",),
            ),
            Item("roster-imports", _("Imports"), (C.IMPORT_ROSTERS,), also=("/imports/",)),
            Item("rule-list", _("Screening rules"), (C.IMPORT_ROSTERS,)),
        ),
    ),
    Group(
        _("Assistance and funds"),
        (
            Item("aid-approvals", _("Assistance to approve"), (C.APPROVE_AID,)),
            Item("campaign-list", _("Holiday-visit campaigns"), (C.PLAN_AID, C.RUN_CAMPAIGNS)),
            Item("fund-list", _("Funds"), MONEY_READERS, also=("/budgets/",)),
            Item("batch-list", _("Payment batches"), MONEY_READERS),
            Item("failed-list", _("Failed payments"), (C.PLAN_AID, C.MANAGE_FUNDS)),
        ),
    ),
    Group(
        _("Supervision"),
        (
            Item("dashboard", _("Dashboard"), (C.SUPERVISE,)),
            Item("indicators", _("Indicators"), (C.SUPERVISE,)),
            # Published rankings are read by the staff of every competing union (and above).
            Item("competition-list", _("Competitions"), ANY_STAFF),
            Item("task-list", _("Supervision tasks"), (C.MANAGE_FILED, C.SUPERVISE)),
        ),
    ),
    Group(
        _("Administration"),
        (
            Item("policy-list", _("Policies"), (C.EDIT_POLICY,)),
            Item("audit-list", _("Audit log"), (C.READ_AUDIT,)),
        ),
    ),
)


@dataclass(frozen=True)
class Link:
    url: str
    label: Promise
    prefixes: tuple[str, ...]


@lru_cache(maxsize=32)
def _links(role: str) -> tuple[tuple[Promise, tuple[Link, ...]], ...]:
    """The pages a role may open, per group (empty groups dropped); labels stay lazy."""
    capabilities = ROLE_CAPABILITIES.get(role, frozenset())
    groups = []
    for group in NAV:
        links = tuple(
            Link(reverse(item.url_name), item.label, item.also)
            for item in group.items
            if item.visible(capabilities)
        )
        if links:
            groups.append((group.label, links))
    return tuple(groups)


def current_url(role: str, path: str) -> str:
    """The page this path belongs to: the longest matching prefix; the queue ("/") only
    exactly, since every path starts with it. Empty when none does."""
    best, length = "", 0
    for _label, links in _links(role):
        for link in links:
            if path == link.url:
                return link.url
            for prefix in (link.url, *link.prefixes):
                if prefix != "/" and path.startswith(prefix) and len(prefix) > length:
                    best, length = link.url, len(prefix)
    return best


def _anchor(link: Link, current: str) -> SafeString:
    if link.url == current:
        return format_html('<a href="{}" aria-current="page">{}</a>', link.url, link.label)
    return format_html('<a href="{}">{}</a>', link.url, link.label)


@lru_cache(maxsize=1024)
def _html(role: str, language: str, current: str) -> SafeString:
    # ``language`` only keys the cache: the lazy labels render in the active language.
    parts = []
    for label, links in _links(role):
        if len(links) == 1:
            parts.append(_anchor(links[0], current))
            continue
        active = any(link.url == current for link in links)
        parts.append(
            format_html(
                '<details class="nav-group"><summary{}>{}</summary>'
                '<div class="nav-menu">{}</div></details>',
                SafeString(' aria-current="true"') if active else "",
                label,
                format_html_join("", "{}", ((_anchor(link, current),) for link in links)),
            )
        )
    return SafeString("".join(parts))


def main_nav(user: Any, path: str) -> SafeString:
    """The grouped navigation for this user on this path."""
    if not user.is_active:
        return SafeString("")
    return _html(user.role, get_language() or "", current_url(user.role, path))
