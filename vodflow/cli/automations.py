"""``vodflow automations apply | list``: the alert automations and their channels, as the repository defines them.

``apply`` prints what it created, updated, left alone or deleted, and which channel is not configured; never a
webhook URL or a password. It talks to ``PREFECT_API_URL`` (the local stack's server unless set otherwise).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vodflow.cli.errors import fail, known_errors

console = Console(highlight=False)

automations_app = typer.Typer(
    name="automations",
    help="Alert automations as code (vodflow/alerts/automations.yaml): apply them to the Prefect server, list them.",
    no_args_is_help=True,
)


def _api_url() -> str:
    url = os.environ.get("PREFECT_API_URL")
    if not url:  # the console script sets it; `python -m vodflow` run by hand may not have
        from vodflow.settings import get_settings

        url = get_settings().prefect_api_url
    return url


@automations_app.command("apply")
def apply(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary line.")] = False,
) -> None:
    """Make the server match the repository: channel blocks, then automations (create, update, delete).

    Slack: VODFLOW_SLACK_WEBHOOK_URL. Email: VODFLOW_SMTP_HOST, _PORT, _SECURITY (starttls|ssl|none), _USERNAME,
    _PASSWORD, _FROM and VODFLOW_ALERT_EMAIL_TO (comma-separated). A channel left unset gets no automation.
    Automations not tagged vodflow-managed (e.g. deployment triggers) are never touched. Idempotent.
    """
    from vodflow.alerts.apply import apply_alerts
    from vodflow.alerts.definitions import DefinitionError

    url = _api_url()
    with known_errors():
        try:
            result = apply_alerts(url)
        except (DefinitionError, ValueError) as exc:
            fail(str(exc))
    if not quiet:
        for line in result.lines():
            console.print(line)
    console.print(f"automations: {result.summary()} ({url})")


@automations_app.command("list")
def list_automations() -> None:
    """The automations the repository defines, their channel and trigger, and whether the server has them."""
    import asyncio

    from prefect.client.orchestration import PrefectClient

    from vodflow.alerts.definitions import MANAGED_TAG, load_definitions
    from vodflow.prefect_auth import prefect_client_credentials

    url = _api_url()

    async def read() -> dict[str, bool]:
        async with PrefectClient(api=url, **prefect_client_credentials()) as client:
            return {a.name: a.enabled for a in await client.read_automations() if MANAGED_TAG in a.tags}

    with known_errors():
        on_server = asyncio.run(read())
    table = Table(title=f"automations ({url})", title_justify="left")
    for column in ("automation", "channel", "trigger", "on server"):
        table.add_column(column)
    for definition in load_definitions():
        trigger = definition.trigger
        what = f"{trigger.get('posture', 'Reactive')}: {', '.join(trigger.get('expect', []))}"
        present = "yes" if on_server.pop(definition.full_name, None) is not None else "no"
        table.add_row(definition.full_name, definition.channel, what, present)
    for stale in sorted(on_server):
        table.add_row(stale, "-", "-", "yes (no longer defined: `apply` deletes it)")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``automations`` to the top-level command line."""
    app.add_typer(automations_app)
