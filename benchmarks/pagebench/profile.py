"""Where a page's time goes: the same requests, one at a time, through Django in this process.

No network, no other clients: the time is the page's own cost (middleware, queries,
template). Every query is captured with its duration, so a slow page names its slow query.
Under N closed-loop clients on C cores a page cannot answer faster than about
N x (CPU per request) / C, so these serial figures say how much room the target leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from .mix import user_named
from .pages import PageRequest


@dataclass(frozen=True)
class Profile:
    request: PageRequest
    millis: float
    queries: int
    sql_millis: float
    slowest_sql: str
    slowest_millis: float


@cache
def client_for(username: str) -> Client:
    client = Client()
    client.force_login(user_named(username))
    return client


def profile_one(request: PageRequest) -> Profile:
    client = client_for(request.user)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get(request.path)
        millis = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{request.path} as {request.user}: status {response.status_code}")
    queries = captured.captured_queries
    timed = [(float(query["time"]) * 1000, query["sql"]) for query in queries]
    slowest_millis, slowest_sql = max(timed, default=(0.0, ""))
    return Profile(
        request,
        millis,
        len(queries),
        sum(ms for ms, _ in timed),
        slowest_sql,
        slowest_millis,
    )


def run_profile(
    requests: Sequence[PageRequest], seconds: float, tick: Callable[[], None]
) -> list[Profile]:
    """Replay ``requests`` one by one until done or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    profiles = []
    for request in requests:
        if time.monotonic() >= deadline:
            break
        profiles.append(profile_one(request))
        tick()
    return profiles
