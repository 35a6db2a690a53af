"""Typed domain errors. Services raise them; the edges (views, API, commands) turn them
into a message for the person, naming the field where there is one."""

from __future__ import annotations

from django.utils.functional import Promise


class DomainError(Exception):
    """A rule of the domain forbids what was asked; ``field`` names the input at fault."""

    def __init__(self, message: str | Promise, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class NotAllowed(DomainError):
    """The user's role or relation to the object does not permit this action."""


class Conflict(DomainError):
    """Someone else changed the object first (e.g. two approvals at once)."""
