"""Small query helpers shared by the sections."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, text
from sqlalchemy.exc import ProgrammingError


def fetch(conn: Connection, sql: str, **params: Any) -> list[RowMapping]:
    """Rows of a query as mappings."""
    return [row._mapping for row in conn.execute(text(sql), params)]


def missing_relation(exc: ProgrammingError) -> str | None:
    """The message of an "undefined table" error (the marts not built yet), else None: other errors are bugs."""
    if getattr(exc.orig, "sqlstate", None) == "42P01":
        return str(exc.orig).splitlines()[0]
    return None


def num(value: Any) -> float | None:
    """A database number (Decimal, int, None) as a float or None."""
    return None if value is None else float(value)
