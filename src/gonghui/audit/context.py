"""Who is acting right now: set by the web middleware, the API and the command line.

A context variable rather than a thread-local so that the same code records the right
actor under threads, async views and management commands alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gonghui.accounts.models import User

_actor: ContextVar[Any] = ContextVar("gonghui_actor", default=None)
_source: ContextVar[str] = ContextVar("gonghui_source", default="system")


def current_actor() -> User | None:
    actor = _actor.get()
    return actor if actor is not None and actor.is_authenticated else None


def current_source() -> str:
    return _source.get()


@contextmanager
def acting_as(user: Any, source: str) -> Iterator[None]:
    """Attribute every audited change inside the block to ``user`` coming from ``source``."""
    actor_token = _actor.set(user)
    source_token = _source.set(source)
    try:
        yield
    finally:
        _actor.reset(actor_token)
        _source.reset(source_token)
