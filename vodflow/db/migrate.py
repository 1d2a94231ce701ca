"""Apply the versioned schema migrations (Alembic) to the configured database: one command, idempotent."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from vodflow.db.engine import get_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(url: URL | None = None, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the newest)."""
    config = _config()
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(url: URL | None = None, *, revision: str) -> None:
    """Take the database schema back to ``revision``: for tests and a person undoing a release, never the pipeline."""
    config = _config()
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(url: URL | None = None) -> str | None:
    """The revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table_schema": "ops"})
        return context.get_current_revision()
