"""``vodflow backfill``: re-read one provider over a date range, window by window, as the ``backfill`` deployment."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vodflow.cli.errors import fail, known_errors

if TYPE_CHECKING:
    from vodflow.api import BackfillRun

console = Console(stderr=True)


def backfill(
    provider: Annotated[str, typer.Argument(help="Provider (or feed) to re-read: lumina, atlas, meridian, events.")],
    start: Annotated[datetime, typer.Option(help="Start of the range (inclusive), UTC unless an offset is given.")],
    end: Annotated[datetime, typer.Option(help="End of the range (exclusive).")],
    chunk: Annotated[str, typer.Option(help="Window size: 30m, 6h, 1d, 2w or an ISO 8601 duration.")] = "1d",
    max_concurrency: Annotated[int, typer.Option(help="Windows running at once (1-4).")] = 2,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild the provider's marts from scratch afterwards.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Show progress until the backfill ends.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 6 * 3600,
) -> None:
    """Split [START, END) into CHUNK windows and run ingest-PROVIDER once per window, then dbt once.

    Running the same backfill again creates no run for a window that completed or is still running; windows that
    failed are retried. Exit status 1 if the backfill did not complete.
    """
    from vodflow.api import DeploymentNotFoundError, UnknownParameterError
    from vodflow.api import backfill as start_backfill
    from vodflow.orchestration.windows import BackfillRequestError
    from vodflow.providers import UnknownProviderError

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    task = progress.add_task(f"backfill {provider}: starting", total=None)

    def show(run: BackfillRun) -> None:
        failed = f", {run.windows_failed} failed" if run.windows_failed else ""
        running = [w.label for w in run.windows if w.state not in (None, "Completed", "Failed", "Crashed", "Cancelled")]
        now = f" · running {', '.join(running[:2])}" if running else ""
        progress.update(
            task,
            total=run.windows_total,
            completed=run.windows_done,
            description=f"{run.name}: {run.state}{failed}{now}",
        )

    try:
        with known_errors(), progress:
            run = start_backfill(
                provider,
                start,
                end,
                chunk=chunk,
                max_concurrency=max_concurrency,
                full_refresh=full_refresh,
                wait=wait,
                timeout=timeout,
                on_progress=show,
            )
    except (UnknownProviderError, DeploymentNotFoundError, UnknownParameterError, BackfillRequestError) as exc:
        fail(str(exc))
    reused = " (the same backfill was already running or done: no new run)" if run.reused else ""
    typer.echo(f"backfill run {run.name} ({run.flow_run_id}): {run.state}{reused}")
    typer.echo(f"windows: {run.windows_done} of {run.windows_total} completed, {run.windows_failed} failed")
    for window in run.windows:
        if window.state not in ("Completed", None) or not wait:
            typer.echo(f"  {window.label}: {window.state or 'not started'} {window.flow_run_name or ''}".rstrip())
    if run.counts is not None:
        typer.echo(json.dumps(run.counts))
    if wait and run.state != "Completed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the backfill command to the CLI."""
    app.command("backfill")(backfill)
