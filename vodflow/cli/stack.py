"""``vodflow up | down | status | db url | db upgrade``: the local stack from the command line.

Known failures (a port taken, a part that does not start, no database) print ONE line on stderr and exit 1: the
message says what to change, and a traceback would only hide it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table
from sqlalchemy.engine import URL

from vodflow.cli.errors import fail, known_errors
from vodflow.settings import Settings, get_settings

if TYPE_CHECKING:
    from vodflow.stack.overview import Overview
    from vodflow.stack.status import StackStatus

_T = TypeVar("_T")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

db_app = typer.Typer(
    name="db",
    help="The stack's PostgreSQL database: its connection URI and its schema migrations.",
    no_args_is_help=True,
)


class RichReporter:
    """Shows a spinner while a component starts, then one line with its outcome and time."""

    def __init__(self, out: Console) -> None:
        self._out = out
        self._status: Status | None = None

    def begin(self, component: str, action: str) -> None:
        """Show a spinner for the step."""
        self._status = self._out.status(f"{component}: {action}…")
        self._status.start()

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def end(self, component: str, outcome: str, seconds: float) -> None:
        """Replace the spinner with the outcome line."""
        self._stop()
        self._out.print(f"[green]✓[/] {component:<18} {outcome:<44} [dim]{seconds:6.1f} s[/]")

    def fail(self, component: str, seconds: float) -> None:
        """Replace the spinner with a failure line (the error follows on stderr)."""
        self._stop()
        self._out.print(f"[red]✗[/] {component:<18} {'failed':<44} [dim]{seconds:6.1f} s[/]")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # a malformed VODFLOW_* value
        fail(str(exc))


def _database_url(settings: Settings) -> URL:
    from vodflow.db.urls import database_url

    with known_errors():
        try:
            return database_url(settings)
        except ValueError as exc:  # DATABASE_URL names something other than PostgreSQL
            fail(str(exc))


def _run(action: Callable[[], _T]) -> _T:
    with known_errors():
        return action()


# Help texts as single paragraphs: typer keeps a docstring's line breaks, which reads badly in a terminal.
_UP_HELP = (
    "Start the local stack, or complete it: parts already running are kept, only missing ones are started, "
    "never a second copy.\n\n"
    "In order, each waited for until healthy: PostgreSQL, schema migrations, the Prefect server, the provider "
    "sandbox, the dbt docs server, the work pool and the dbt concurrency limit, the process worker, the "
    "drop-folder watcher, then the deployments. The docs server shows a placeholder until `vodflow docs "
    "--no-serve` (or `vodflow demo`) generates the docs.\n\n"
    "Everything lives under VODFLOW_DATA_DIR (logs in logs/, pid files in run/). Ports: VODFLOW_PG_PORT, "
    "VODFLOW_PREFECT_PORT, VODFLOW_SANDBOX_PORT, VODFLOW_DOCS_PORT; servers bind 127.0.0.1 only."
)
_DOWN_HELP = (
    "Stop the watcher, the worker, the docs server, the sandbox, the Prefect server and PostgreSQL (by pid), "
    "then check that no process the stack started is left. Exits 1 and lists any survivor. Data stays in "
    "VODFLOW_DATA_DIR."
)


def up(
    no_deploy: Annotated[
        bool, typer.Option("--no-deploy", help="Start the stack but do not (re)deploy the flows.")
    ] = False,
) -> None:
    """Start the local stack, or complete it (see ``_UP_HELP``)."""
    from vodflow.stack.lifecycle import up as stack_up

    settings = _settings()
    console.print(f"vodflow stack in [bold]{settings.data_dir}[/]")
    _run(lambda: stack_up(settings, deploy=not no_deploy, reporter=RichReporter(console)))
    console.print(f"\nPrefect UI   {settings.prefect_ui_url}\nSandbox      {settings.sandbox_url}")
    hint = "" if (settings.dbt_docs_dir / "index.html").is_file() else "   (generate them: `vodflow docs --no-serve`)"
    console.print(f"dbt docs     {settings.docs_url}{hint}")
    console.print("Database     `vodflow db url`   ·   stop with `vodflow down`")


def down() -> None:
    """Stop the stack and check that nothing is left running (see ``_DOWN_HELP``)."""
    from vodflow.stack.lifecycle import down as stack_down

    settings = _settings()
    result = _run(lambda: stack_down(settings, reporter=RichReporter(console)))
    if result.leftovers:
        for left in result.leftovers:
            err_console.print(f"still running: pid {left.pid} {left.name} {left.cmdline}", soft_wrap=True)
        fail(f"{len(result.leftovers)} process(es) survived `vodflow down`")
    console.print("stack stopped; nothing left running")


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")] = False,
) -> None:
    """Show the stack's components, every deployment, backfills in progress and the last 10 flow runs.

    Components: running/stopped, pid, port, URL. Deployments (when the server is up): schedule, last run with its
    state and row counts, next run, runs in flight. Backfills: windows done of total. Alert deliveries (Slack,
    email) that failed in the last 24 hours.
    """
    from vodflow.stack.status import stack_status

    settings = _settings()
    result = _run(lambda: stack_status(settings))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    _print_components(result)
    if result.overview is not None:
        _print_overview(result.overview)
    _print_alert_failures(result)
    for error in (result.overview_error, result.alert_failures_error, result.flow_runs_error):
        if error:
            err_console.print(error)
    if result.flow_runs:
        runs = Table(title="last flow runs", title_justify="left")
        for column in ("flow run", "deployment", "state", "start time"):
            runs.add_column(column)
        for run in result.flow_runs:
            runs.add_row(run.name, run.deployment or "-", run.state or "-", run.start_time or "-")
        console.print(runs)


def _print_components(result: StackStatus) -> None:
    table = Table(title=f"vodflow stack ({result.data_dir})", title_justify="left")
    for column in ("component", "state", "pid", "port", "URL"):
        table.add_column(column)
    colours = {"running": "green", "stopped": "dim", "unhealthy": "yellow", "external": "cyan"}
    for row in result.components:
        state = f"[{colours.get(row.state, 'white')}]{row.state}[/]"
        table.add_row(row.name, state, str(row.pid or "-"), str(row.port or "-"), row.url or "-")
    console.print(table)


def _print_alert_failures(result: StackStatus) -> None:
    if not result.alert_failures:
        return
    table = Table(title="alert deliveries that failed (last 24 h)", title_justify="left")
    for column in ("when", "automation", "reason"):
        table.add_column(column)
    for failure in result.alert_failures:
        table.add_row(f"{failure.occurred:%Y-%m-%d %H:%M:%S} UTC", failure.automation, failure.detail or failure.reason)
    console.print(table)


def _print_overview(overview: Overview) -> None:
    if overview.deployments:
        table = Table(title="deployments", title_justify="left")
        for column in ("deployment", "schedule", "last run", "state", "rows in/new/upd/quar", "next run", "running"):
            table.add_column(column)
        for row in overview.deployments:
            counts = row.counts or {}
            rows = "/".join(str(counts.get(k, "-")) for k in ("received", "inserted", "updated", "quarantined"))
            table.add_row(
                row.deployment,
                row.schedule,
                row.last_run or "-",
                row.last_state or "-",
                rows if row.counts else "-",
                _short_time(row.next_run),
                str(row.running or "-"),
            )
        console.print(table)
    if overview.backfills:
        table = Table(title="backfills in progress", title_justify="left")
        for column in ("backfill", "state", "windows done", "failed"):
            table.add_column(column)
        for backfill in overview.backfills:
            done = f"{backfill.windows_done}/{backfill.windows_total}"
            table.add_row(backfill.name, backfill.state, done, str(backfill.windows_failed))
        console.print(table)


def _short_time(value: str | None) -> str:
    """``2026-03-01 12:15 UTC`` from the server's ISO timestamps."""
    if not value:
        return "-"
    from datetime import UTC, datetime

    return f"{datetime.fromisoformat(value).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@db_app.command("url")
def db_url() -> None:
    """Print the database's connection URI (postgresql://…, with the password): psql "$(vodflow db url)" works."""
    from vodflow.db.urls import libpq_uri

    typer.echo(libpq_uri(_database_url(_settings())))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to the configured database (idempotent; `vodflow up` runs it too)."""
    from vodflow.db import migrate
    from vodflow.db.urls import redacted

    url = _database_url(_settings())

    def apply() -> str:
        migrate.upgrade(url)
        return f"{redacted(url)} is at revision {migrate.current_revision(url)}"

    console.print(_run(apply))


def register(app: typer.Typer) -> None:
    """Add ``up``, ``down``, ``status`` and the ``db`` group to the ``vodflow`` app."""
    app.command("up", help=_UP_HELP)(up)
    app.command("down", help=_DOWN_HELP)(down)
    app.command("status")(status)
    app.add_typer(db_app, name="db")
