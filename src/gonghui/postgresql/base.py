"""Django's PostgreSQL backend with server-side parameter binding and prepared statements.

Why: with Django's default client-side binding every statement reaches PostgreSQL as new
text, which the server parses and plans on each request. A case page runs a dozen short
queries; parsing and planning them was a third of PostgreSQL's CPU per page in the page
benchmark. Bound by the server, a statement a connection has run ``prepare_threshold``
times becomes a prepared statement, parsed once per connection.

The catch: the wire protocol counts bound parameters in 16 bits, so PostgreSQL refuses a
statement with more than 65,535 of them, and bulk work (a province-sized ``bulk_create``,
a long ``IN`` list) sends more. Such a statement is bound on the client instead, exactly as
Django's default cursor would bind it; everything else is bound by the server.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db.backends.postgresql import base

from gonghui.plans import is_stable

# The protocol's limit on bound parameters in one statement (an unsigned 16-bit count).
MAX_BOUND_PARAMETERS = 65_535


def too_many_parameters(params: Any) -> bool:
    return params is not None and len(params) > MAX_BOUND_PARAMETERS


# django-stubs know Django's cursors only by the psycopg2 names.
class Cursor(base.ServerBindingCursor):  # type: ignore[name-defined,misc]
    """Binds on the server, except a statement whose parameters the protocol cannot carry."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        if too_many_parameters(params):
            query, params = self.bound_on_client(query, params), None
        elif "prepare" not in kwargs and self.connection.prepare_threshold is not None:
            # A statement marked stable (gonghui/plans.py) is prepared at once and may keep
            # one plan; any other is planned for its values each time, as by Django.
            kwargs["prepare"] = is_stable(query)
        return super().execute(query, params, **kwargs)

    def bound_on_client(self, query: Any, params: Any) -> str:
        # ClientCursor.mogrify quotes every value with the connection's adapters, which is
        # what Django's default cursor sends; with no parameters left, psycopg sends the text
        # as it is (a "%" in a quoted value is not read as a placeholder).
        return psycopg.ClientCursor(self.connection).mogrify(query, params)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if self.features.uses_server_side_binding:  # type: ignore[attr-defined]
            params["cursor_factory"] = Cursor
        return params
