"""``vodflow ingest``: run a provider's deployment by hand, the same way the UI's Run button does."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from vodflow.cli.errors import fail, known_errors

console = Console(stderr=True)


def ingest(
    provider: Annotated[str, typer.Argument(help="Provider name, e.g. lumina.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to end; print its state and counts.")] = False,
    start: Annotated[datetime | None, typer.Option(help="Window start (inclusive), for a one-off backfill.")] = None,
    end: Annotated[datetime | None, typer.Option(help="Window end (exclusive).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 900,
    path: Annotated[
        list[Path] | None,
        typer.Option(help="harbor/meridian: a file or folder to ingest (repeatable); copied into the drop folder."),
    ] = None,
) -> None:
    """Trigger ``ingest-PROVIDER`` on the Prefect server (the local stack unless PREFECT_API_URL is set)."""
    from vodflow.api import DeploymentNotFoundError, UnknownParameterError, trigger_ingestion
    from vodflow.ingest.drops import DropPathError, folder_for
    from vodflow.providers import UnknownProviderError

    params: dict[str, Any] = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
    names: list[str] = []
    try:
        if path:  # write-then-rename into the drop folder, then ingest exactly those files through the flow
            names = params["path"] = folder_for(provider).submit_all(path)
        with known_errors(), console.status(f"ingest-{provider}: starting") as status:
            run = trigger_ingestion(
                provider,
                wait=wait,
                timeout=timeout,
                on_state=lambda state: status.update(f"ingest-{provider}: {state}"),
                **params,
            )
    except (UnknownProviderError, DeploymentNotFoundError, UnknownParameterError, DropPathError) as exc:
        fail(str(exc))
    typer.echo(f"flow run {run.name} ({run.flow_run_id}): {run.state}")
    if run.counts is not None:
        typer.echo(json.dumps(run.counts, default=str))
    if path and wait:
        from vodflow.db.engine import get_engine
        from vodflow.ingest.drop_ledger import file_outcomes

        for outcome in file_outcomes(get_engine(), provider, names):
            typer.echo(json.dumps(outcome, default=str))
    if wait and run.state != "Completed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ingestion commands to the CLI."""
    app.command("ingest")(ingest)
