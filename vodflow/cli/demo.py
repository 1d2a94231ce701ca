"""``vodflow demo``: the README's first command — stack up, every provider ingested once, where to look.

``vodflow demo anomaly`` is the anomaly demo instead (vodflow/cli/demo_anomaly.py): a provider's deliveries
collapse for a day, the stack detects it and the local Slack inbox shows the message.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table
from sqlalchemy import text

from vodflow.cli.errors import fail, known_errors
from vodflow.settings import Settings, get_settings

console = Console(highlight=False, width=120)  # wide enough for the counts table in a log or CI

_COUNT_COLUMNS = ("received", "inserted", "updated", "unchanged", "quarantined")


def _mart_rows() -> dict[str, int]:
    from vodflow.db.engine import get_engine

    with get_engine().connect() as conn:
        rows = conn.execute(text("select provider, count(*)::int from marts.dim_assets group by 1 order by 1"))
        return {str(provider): count for provider, count in rows.tuples()}


def _ensure_sandbox_registry() -> None:
    """Load the sandbox's EIDR registry extract once, so the demo's assets can be matched."""
    from vodflow.db.engine import get_engine
    from vodflow.eidr.load import load_registry
    from vodflow.eidr.sandbox_registry import write_registry

    engine = get_engine()
    with engine.connect() as conn:
        if conn.execute(text("select exists (select 1 from raw.eidr_registry)")).scalar():
            return
    path = get_settings().data_dir / "eidr" / "sandbox-registry.jsonl"
    with console.status("EIDR registry: loading the sandbox extract"):
        write_registry(path)
        report = load_registry(engine, path)
    console.print(f"EIDR registry: {report.added} records loaded from the sandbox extract ({report.skipped} skipped)")


def _ensure_harbor_drop() -> None:
    """Put a sandbox CSV drop into harbor's folder on a first demo, as the provider would (write, then rename)."""
    from vodflow.ingest.drops import drop_dir
    from vodflow.sandbox.harbor import write_drop

    folder = drop_dir("harbor")
    if not (folder / "archive").exists() and not any(folder.glob("*.csv")):
        folder.mkdir(parents=True, exist_ok=True)
        write_drop(folder)


def _generate_docs() -> str | None:
    """Regenerate the dbt docs now that the marts hold data (the catalog shows row counts); an error, or None.

    A failure here does not hide the ingestion results above it: the demo reports it and exits 1 at the end.
    """
    from vodflow.dbt.docs import DbtDocsError, generate_site

    with known_errors(), console.status("dbt docs: generating (lineage from the raw sources to the marts)"):
        try:
            site = generate_site()
        except DbtDocsError as exc:
            return str(exc)
    console.print(f"dbt docs generated in {site.elapsed_seconds:.1f} s")
    return None


def _health_report() -> dict[str, Any] | None:
    """Write the Data Health Check for the data just ingested; its summary, or None (the demo goes on without it)."""
    from vodflow.cli.health import run_health_report

    lines: list[str] = []
    with console.status("Data Health Check: writing the report"):
        try:
            summary = run_health_report(days=30, echo=lines.append)
        except Exception as exc:  # the tour's results above stand; say why the report is missing
            console.print(f"Data Health Check: not written ({type(exc).__name__}: {exc})")
            return None
    for line in lines[: 1 + len(summary["headline"])]:
        console.print(line)
    return summary


class DemoMode(StrEnum):
    """What ``vodflow demo`` shows besides the default tour."""

    ANOMALY = "anomaly"


_PROVIDERS = ("lumina", "atlas", "harbor", "meridian")  # those with deliveries in the events feed


def _alerts_line(settings: Settings) -> str:
    """Where the stack's Slack alerts can be read: the sandbox's inbox, unless a real webhook is set."""
    from vodflow.alerts.channels import SLACK_WEBHOOK_ENV, local_inbox_url, slack_webhook_url

    inbox = local_inbox_url(settings)
    if slack_webhook_url(api_url=settings.prefect_api_url, settings=settings) == inbox:
        return f"Alerts (Slack inbox)    {inbox.removesuffix('/slack')}"
    return f"Alerts                  your Slack channel ({SLACK_WEBHOOK_ENV})"


def demo(
    mode: Annotated[
        DemoMode | None,
        typer.Argument(
            help="anomaly: a provider's deliveries collapse for yesterday; the stack detects it and the inbox "
            "shows the Slack message. Omit for the tour of every provider.",
            show_default=False,
        ),
    ] = None,
    provider: Annotated[
        str, typer.Option(help="anomaly: the provider whose deliveries collapse (lumina, atlas, harbor, meridian).")
    ] = "meridian",
    share: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="anomaly: the share of its usual deliveries it still makes.")
    ] = 0.1,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each provider's run.")] = 900,
) -> None:
    """Start (or reuse) the local stack, run every provider's ingestion through the worker, print the results.

    Then regenerate the dbt docs, which the stack's docs server shows with the lineage graph.

    Running it again is safe: the stack is reused and the second ingestion finds everything unchanged.
    `vodflow demo anomaly [--provider P]`: the anomaly demo instead (safe to re-run: no second message).
    """
    from vodflow.api import trigger_ingestion
    from vodflow.cli.stack import up
    from vodflow.providers import INGESTIBLE

    if mode is DemoMode.ANOMALY and provider not in _PROVIDERS:
        fail(f"unknown provider {provider!r}; one of: {', '.join(_PROVIDERS)}")
    up(no_deploy=False)
    settings = get_settings()
    if mode is DemoMode.ANOMALY:
        from vodflow.cli.demo_anomaly import run_anomaly_demo

        run_anomaly_demo(console, provider, share, timeout)
        return
    with known_errors():
        _ensure_sandbox_registry()
    _ensure_harbor_drop()
    table = Table(title="ingestion runs (through the Prefect worker)", title_justify="left")
    for column in ("provider", "state", *_COUNT_COLUMNS, "flow run"):
        table.add_column(column)
    failed: list[str] = []
    for provider in INGESTIBLE:
        with known_errors(), console.status(f"ingest-{provider}: starting") as status:

            def show(state: str, name: str = provider, spinner: Status = status) -> None:
                spinner.update(f"ingest-{name}: {state}")

            run = trigger_ingestion(provider, wait=True, timeout=timeout, on_state=show)
        counts = run.counts or {}
        table.add_row(provider, run.state, *(str(counts.get(c, "-")) for c in _COUNT_COLUMNS), run.name)
        if run.state != "Completed":
            failed.append(provider)
    console.print(table)
    with known_errors():
        marts = _mart_rows()
    console.print("rows in marts.dim_assets: " + ", ".join(f"{p} {n}" for p, n in marts.items()))
    docs_error = _generate_docs()
    report = _health_report()
    console.print(f"\nPrefect UI (flow runs)  {settings.prefect_ui_url}/runs")
    console.print(f"Provider sandbox        {settings.sandbox_url}")
    console.print(f"dbt docs (lineage)      {settings.docs_url}")
    console.print(_alerts_line(settings))
    if report is not None:
        console.print(f"Data Health Check       {report['url']}  (file: {report['path']})")
    console.print('Database                psql "$(.venv/bin/vodflow db url)"')
    console.print("The stack keeps running; stop it with `.venv/bin/vodflow down`.")
    if failed:
        fail(f"ingestion did not complete for: {', '.join(failed)} (see the Prefect UI)")
    if docs_error:
        fail(f"the dbt docs were not generated: {docs_error}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the CLI."""
    app.command("demo")(demo)
