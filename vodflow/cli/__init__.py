"""The ``vodflow`` command line."""

from __future__ import annotations

import os

import typer

from vodflow.cli import anomaly, automations, backfill, demo, docs, eidr, health, ingest, stack

app = typer.Typer(
    name="vodflow",
    help="Provider ingestion, EIDR identity and analytics for a VOD catalogue, on Prefect and dbt.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
anomaly.register(app)
automations.register(app)
backfill.register(app)
demo.register(app)
docs.register(app)
eidr.register(app)
health.register(app)
ingest.register(app)
stack.register(app)


def _point_prefect_at_the_stack() -> None:
    """Talk to the local stack's Prefect server unless the user chose another one with ``PREFECT_API_URL``.

    Done before anything imports Prefect, whose settings are read once per process.
    """
    if os.environ.get("PREFECT_API_URL"):
        return
    from vodflow.settings import get_settings
    from vodflow.stack.env import prefect_env, vodflow_env

    try:
        settings = get_settings()
    except ValueError as exc:  # a malformed VODFLOW_* value: one line, not a traceback
        from vodflow.cli.errors import fail

        fail(str(exc))
    for key, value in {**prefect_env(settings), **vodflow_env(settings)}.items():
        os.environ.setdefault(key, value)


def main() -> None:
    """Console-script entry point."""
    _point_prefect_at_the_stack()
    app()
