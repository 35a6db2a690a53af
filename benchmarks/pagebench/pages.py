"""The pages under test and one request to one of them."""

from __future__ import annotations

from dataclasses import dataclass, field

QUEUE = "queue"
SEARCH_NAME = "search_name"
SEARCH_ID = "search_id"
SEARCH_PHONE = "search_phone"
CASE = "case"
PAGES = (QUEUE, SEARCH_NAME, SEARCH_ID, SEARCH_PHONE, CASE)

# Share of each page in the mix: a case worker lives in the queue and on case pages, and
# finds people by name, ID number or phone at the desk.
WEIGHTS = {QUEUE: 0.25, SEARCH_NAME: 0.15, SEARCH_ID: 0.1, SEARCH_PHONE: 0.1, CASE: 0.4}


@dataclass(frozen=True)
class PageRequest:
    """A GET of one page as one user, with what the answer must (and must not) contain."""

    page: str
    user: str
    path: str
    expect: tuple[str, ...]
    forbid: tuple[str, ...] = ()
    # What the naive baseline needs to answer the same question in-process.
    params: dict[str, str | int | None] = field(default_factory=dict, hash=False, compare=False)
