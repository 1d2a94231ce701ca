"""``vodflow health``: the Data Health Check report, run in this process, with its headline printed.

In-process rather than through the deployment: a person asking for the report wants the file now, and the flow
only reads. The run is still a Prefect flow run on the stack's server (its artifact and logs are in the UI).
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from vodflow.cli.errors import known_errors


def run_health_report(
    as_of: date | None = None, days: int = 30, *, echo: Callable[[str], None] = typer.echo
) -> dict[str, Any]:
    """Run the ``health-check`` flow in this process and print its headline, recommendations and file.

    What ``vodflow health`` does, and what ``vodflow demo`` can call after the first ingestions.

    Returns:
        The flow's summary (``as_of``, ``path``, ``url``, ``headline``, ``recommendations``).
    """
    from flows.health import health_check

    with known_errors():
        summary: dict[str, Any] = health_check(as_of=as_of, days=days)
    echo(f"Data Health Check {summary['as_of']} ({days} days)")
    for label, value in summary["headline"].items():
        echo(f"  {label:<26}{value}")
    recommendations = summary["recommendations"]
    if recommendations:
        echo("recommendations:")
        for text in recommendations[:10]:
            echo(f"  - {text}")
        if len(recommendations) > 10:
            echo(f"  … and {len(recommendations) - 10} more in the report")
    for section, reason in summary["unavailable"].items():
        echo(f"  ({section}: {reason})")
    echo(f"report  {summary['path']}")
    echo(f"served  {summary['url']}  (by the local stack's docs server)")
    return summary


def health(
    as_of: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="The report's last day, UTC (default: today); a past day reproduces it."
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days ending on --as-of the report covers.")] = 30,
    open_: Annotated[bool, typer.Option("--open/--no-open", help="Open the report in a browser.")] = False,
) -> None:
    """Write the Data Health Check report (HTML) and print its headline figures and path."""
    summary = run_health_report(as_of.date() if as_of else None, days)
    if open_:
        webbrowser.open(Path(summary["path"]).resolve().as_uri())


def register(app: typer.Typer) -> None:
    """Add ``health`` to the CLI."""
    app.command("health")(health)
