"""Which statements may run on a plan made once, whatever their values.

PostgreSQL plans a statement for its values, and for a union's subtree that matters: a
county's work queue and the province's are different plans (a generic plan made the
county's 5 -> 13 ms). A row by its key, a file's children, the session and the user are
the same plan for every value, and planning them was a third of PostgreSQL's CPU on the
case page (0.8 ms to plan the file's query, 0.09 ms to run it). Such statements carry
:data:`STABLE` in front; the PostgreSQL backend prepares them, so that PostgreSQL can keep
one plan (gonghui/postgresql/base.py), and plans every other statement for its values.
"""

from __future__ import annotations

STABLE = "/* stable plan */ "


def stable(sql: str) -> str:
    """``sql`` marked as planned the same way whatever its values."""
    return sql if sql.startswith(STABLE) else STABLE + sql


def is_stable(sql: object) -> bool:
    return isinstance(sql, str) and sql.startswith(STABLE)
