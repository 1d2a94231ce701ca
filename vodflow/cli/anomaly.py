"""``vodflow anomaly check | validate | list``: the business-metric anomaly checks from the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vodflow.cli.errors import fail, known_errors

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

anomaly_app = typer.Typer(
    name="anomaly",
    help="Anomaly checks on marts.metrics_daily (vodflow/anomaly/checks.yaml): run them, validate a check file, "
    "list verdicts.",
    no_args_is_help=True,
)

VERDICTS = ("ok", "anomaly", "not_enough_data", "data_gap")


@anomaly_app.command("check")
def check(
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day to judge (default: yesterday, UTC).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days ending on --as-of to judge.")] = 1,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run and print its verdicts.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 900,
) -> None:
    """Run the anomaly-check deployment; with --wait, print the day's anomalies and gaps."""
    from vodflow.api import DeploymentNotFoundError, UnknownParameterError, trigger_anomaly_check

    try:
        with known_errors(), err_console.status("anomaly-check: starting") as status:
            run = trigger_anomaly_check(
                as_of=as_of.date() if as_of else None,
                days=days,
                wait=wait,
                timeout=timeout,
                on_state=lambda state: status.update(f"anomaly-check: {state}"),
            )
    except (DeploymentNotFoundError, UnknownParameterError) as exc:
        fail(str(exc))
    typer.echo(f"flow run {run.name} ({run.flow_run_id}): {run.state}")
    if wait:
        last = as_of.date() if as_of else (datetime.now(UTC).date() - timedelta(days=1))
        _print_verdicts(last - timedelta(days=days - 1), last, verdicts=("anomaly", "data_gap"))
        if run.state != "Completed":
            raise typer.Exit(1)


@anomaly_app.command("validate")
def validate(
    path: Annotated[
        Path | None, typer.Argument(help="A check file (default: $VODFLOW_ANOMALY_CHECKS, else the shipped one).")
    ] = None,
) -> None:
    """Parse a check file and name every problem with its line; exit 1 if there is any."""
    from vodflow.anomaly.checks import ChecksError, load_checks

    try:
        checks = load_checks(path)
    except ChecksError as exc:
        for problem in exc.problems:
            err_console.print(problem, soft_wrap=True)
        raise typer.Exit(1) from None
    table = Table(title=f"{len(checks)} checks", title_justify="left")
    for column in ("check", "metric", "method", "direction", "severity", "channel", "enabled"):
        table.add_column(column)
    for item in checks:
        table.add_row(
            item.name, item.metric, item.method, item.direction, item.severity, item.channel, str(item.enabled)
        )
    console.print(table)


@anomaly_app.command("list")
def list_verdicts(
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First metric day (default: 7 days ago).")
    ] = None,
    verdict: Annotated[
        list[str] | None, typer.Option(help=f"Only these verdicts (repeatable): {', '.join(VERDICTS)}.")
    ] = None,
) -> None:
    """List recorded verdicts (ops.metric_evaluations), newest day first."""
    unknown = sorted(set(verdict or []) - set(VERDICTS))
    if unknown:
        fail(f"unknown verdict {', '.join(unknown)}; known: {', '.join(VERDICTS)}")
    first = since.date() if since else datetime.now(UTC).date() - timedelta(days=7)
    _print_verdicts(first, None, verdicts=tuple(verdict or VERDICTS))


def _print_verdicts(first: date, last: date | None, *, verdicts: tuple[str, ...]) -> None:
    from sqlalchemy import text

    from vodflow.db.engine import get_engine

    query = text(
        "select metric_date, check_name, provider, verdict, value, expected_low, expected_high, score, detail "
        "from ops.metric_evaluations where metric_date >= :first and (cast(:last as date) is null "
        "or metric_date <= :last) and verdict = any(:verdicts) order by metric_date desc, check_name, provider"
    )
    with known_errors(), get_engine().connect() as conn:
        rows = conn.execute(query, {"first": first, "last": last, "verdicts": list(verdicts)}).all()
    if not rows:
        typer.echo(f"no {'/'.join(verdicts)} verdicts since {first}")
        return
    table = Table(title_justify="left")
    for column in ("day", "check", "provider", "verdict", "value", "expected", "score", "detail"):
        table.add_column(column)
    for row in rows:
        low, high = row.expected_low, row.expected_high
        expected = "-" if low is None and high is None else f"{_num(low)}..{_num(high)}"
        table.add_row(
            str(row.metric_date),
            str(row.check_name),
            str(row.provider),
            str(row.verdict),
            _num(row.value),
            expected,
            _num(row.score),
            str(row.detail or ""),
        )
    console.print(table)


def _num(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.4g}"


def register(app: typer.Typer) -> None:
    """Add the ``anomaly`` group to the CLI."""
    app.add_typer(anomaly_app, name="anomaly")
