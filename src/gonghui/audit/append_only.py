"""A PostgreSQL trigger that refuses UPDATE and DELETE on a table, for records that are
only ever appended (the audit trail, the money ledger): not even a raw SQL session of the
application can rewrite them. TRUNCATE, used to empty test databases, is not a row
operation and still works. SQLite has no such guard: there the models refuse changes."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def append_only(table: str, name: str, what: str) -> migrations.RunPython:
    """The migration operation that installs (and on reverse removes) the trigger ``name``
    (also the name of its function) on ``table``."""
    forward_sql = f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{what} are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {name}
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {name}();
"""
    backward_sql = f"""
DROP TRIGGER IF EXISTS {name} ON {table};
DROP FUNCTION IF EXISTS {name}();
"""

    def forward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(forward_sql)

    def backward(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(backward_sql)

    return migrations.RunPython(forward, backward)
