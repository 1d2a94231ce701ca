"""One-line errors for the CLI: a person reads a sentence, not a traceback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    typer.echo(f"vodflow: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def known_errors() -> Iterator[None]:
    """Turn the errors a person can fix (a service down, a port taken, no database) into one line and exit 1."""
    import httpx
    from sqlalchemy.exc import OperationalError

    from vodflow.db.embedded import EmbeddedPostgresError
    from vodflow.db.errors import MigrationPrerequisiteError
    from vodflow.db.urls import DatabaseNotConfiguredError
    from vodflow.stack.errors import StackError

    try:
        yield
    except (StackError, EmbeddedPostgresError, DatabaseNotConfiguredError, MigrationPrerequisiteError) as exc:
        fail(str(exc))
    except OperationalError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        fail(f"cannot reach the database ({first}): is the stack up? run `vodflow up`")
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        api = os.environ.get("PREFECT_API_URL", "the Prefect server")
        fail(f"cannot reach the Prefect server at {api} ({exc}): is the stack up? run `vodflow up`")
