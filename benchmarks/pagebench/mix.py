"""The request mix, drawn from the database: real people, real files, in the user's scope.

Needs Django set up (bench_pages.py does it before importing this module). Each request
carries what its answer must show, worked out here with the project's own functions: the
first file of a queue tab or a search, the searched person's masked ID number or phone,
the applicant on a case page (masked or not, as the user's role allows).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import escape

from gonghui.accounts.models import User
from gonghui.hardship.models import HardshipFile
from gonghui.hardship.queue import queue_counts, work_queue
from gonghui.hardship.search import search_files
from gonghui.people.idnumber import mask_id_number, mask_phone
from gonghui.people.personal import may_reveal, shown

from .pages import CASE, PAGES, QUEUE, SEARCH_ID, SEARCH_NAME, SEARCH_PHONE, WEIGHTS, PageRequest

# The commonest Chinese surnames: a search by one of them matches thousands of files.
COMMON_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周")
# Whole names searched for: a pool, so that building the mix's expectations stays quick.
NAME_POOL = 60
QUEUE_PANEL = 'id="queue-panel"'
RESULTS = 'id="results"'


@cache
def user_named(username: str) -> User:
    return User.objects.select_related("organisation").get(username=username)


def queue_kinds(user: User) -> list[str | None]:
    """The default tab and every tab that has files."""
    return [None, *(kind for kind, count in queue_counts(user).items() if count)]


@cache
def queue_request(username: str, kind: str | None) -> PageRequest:
    user = user_named(username)
    first = work_queue(user, kind).first()
    path = reverse("queue") + (f"?{urlencode({'kind': kind})}" if kind else "")
    expect = (QUEUE_PANEL, first.number) if first else (QUEUE_PANEL,)
    return PageRequest(QUEUE, username, path, expect, params={"kind": kind})


@cache
def name_search(username: str, q: str) -> PageRequest:
    """By the start of a name: the answer must begin with the newest matching file."""
    first = (
        search_files(user_named(username), q)
        .order_by("-applied_on", "-id")
        .values_list("number", flat=True)
        .first()
    )
    expect = (RESULTS, first) if first else (RESULTS,)
    return PageRequest(SEARCH_NAME, username, search_path(q), expect, params={"q": q})


def search_path(q: str) -> str:
    return f"{reverse('file-list')}?{urlencode({'q': q})}"


def exact_search(username: str, page: str, file: HardshipFile) -> PageRequest:
    """By full ID number or phone: the file and the person's masked number must show."""
    person = file.applicant
    q, masked = (
        (person.id_number, mask_id_number(person.id_number))
        if page == SEARCH_ID
        else (person.phone, mask_phone(person.phone))
    )
    expect = (RESULTS, file.number, masked)
    return PageRequest(page, username, search_path(q), expect, params={"q": q})


def case_request(username: str, file: HardshipFile) -> PageRequest:
    """The case page: the file, the applicant, the ID number as the role may see it."""
    user = user_named(username)
    reveal = may_reveal(user, single_household=True)
    person = file.applicant
    expect = (file.number, escape(person.name), shown(person.id_number, "id", reveal))
    forbid = () if reveal else (person.id_number,)
    path = reverse("file-detail", args=[file.pk])
    return PageRequest(CASE, username, path, expect, forbid, params={"pk": file.pk})


class MixBuilder:
    """Draws ``count`` requests for one user, pages in the proportions of WEIGHTS."""

    def __init__(self, username: str, rng: random.Random) -> None:
        self.username = username
        self.rng = rng
        self.user = user_named(username)
        self.file_ids = list(HardshipFile.objects.for_user(self.user).values_list("id", flat=True))
        if not self.file_ids:
            raise RuntimeError(f"{username} sees no hardship files: is the demo loaded?")
        self.kinds = queue_kinds(self.user)
        self.files: list[HardshipFile] = []
        self.with_phone: list[HardshipFile] = []
        self.names: list[str] = []

    def build(self, count: int) -> list[PageRequest]:
        pages = self.rng.choices(PAGES, weights=[WEIGHTS[page] for page in PAGES], k=count)
        self.files = self.random_files(count)
        self.with_phone = [file for file in self.files if file.applicant.phone]
        self.names = sorted({file.applicant.name for file in self.files[:NAME_POOL]})
        return [self.request(page) for page in pages]

    def random_files(self, count: int) -> list[HardshipFile]:
        """A random sample of the user's files with their applicants, in random order."""
        ids = self.rng.sample(self.file_ids, min(len(self.file_ids), count))
        found = HardshipFile.objects.select_related("applicant").in_bulk(ids)
        return [found[pk] for pk in ids]

    def request(self, page: str) -> PageRequest:
        if page == QUEUE:
            return queue_request(self.username, self.rng.choice(self.kinds))
        if page == SEARCH_NAME:
            return name_search(self.username, self.name_query())
        if page == SEARCH_PHONE:
            if self.with_phone:
                return exact_search(self.username, page, self.rng.choice(self.with_phone))
            page = SEARCH_ID  # nobody in scope has a phone
        file = self.rng.choice(self.files)
        return (
            exact_search(self.username, page, file)
            if page == SEARCH_ID
            else case_request(self.username, file)
        )

    def name_query(self) -> str:
        """Half the time a common surname, half the time the whole name of an applicant."""
        return self.rng.choice(COMMON_SURNAMES if self.rng.random() < 0.5 else self.names)


def interleave(groups: Sequence[Sequence[PageRequest]]) -> list[PageRequest]:
    """One list taking from each group in turn, so any prefix mixes users and pages."""
    mixed: list[PageRequest] = []
    for index in range(max((len(group) for group in groups), default=0)):
        mixed.extend(group[index] for group in groups if index < len(group))
    return mixed
