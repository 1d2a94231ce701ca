"""One-line errors for the CLI: a person reads a sentence, not a traceback."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    typer.echo(f"vodflow: {message}", err=True)
    raise typer.Exit(code)
