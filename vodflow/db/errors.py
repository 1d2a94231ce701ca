"""Database errors a person can fix, kept free of heavy imports so the CLI can name them cheaply."""

from __future__ import annotations


class MigrationPrerequisiteError(RuntimeError):
    """The database user may not do what a migration needs; the message says what to grant, and to whom.

    Raised from inside a migration, so the whole upgrade rolls back and the database stays as it was.
    """
