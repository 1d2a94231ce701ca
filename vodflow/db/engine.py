"""SQLAlchemy engines, one per URL per process."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from vodflow.db.urls import database_url

STATEMENT_TIMEOUT_MS = 15 * 60 * 1000


@lru_cache(maxsize=8)
def _engine_for(url_text: str) -> Engine:
    return create_engine(
        url_text,
        pool_pre_ping=True,
        pool_size=4,
        max_overflow=4,
        connect_args={"connect_timeout": 10, "application_name": "vodflow"},
    )


def get_engine(url: URL | None = None) -> Engine:
    """A pooled engine for ``url`` (default: the configured database)."""
    url = url or database_url()
    return _engine_for(url.render_as_string(hide_password=False))
