"""``vodflow docs``: generate the dbt docs (the lineage from raw sources to marts) and serve them on loopback."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from vodflow.cli.errors import fail, known_errors
from vodflow.settings import Settings, get_settings

console = Console(highlight=False)

_DOCS_HELP = (
    "Generate the dbt docs (every model, source, test and column, and the lineage graph from the raw sources to "
    "the marts), then serve them on 127.0.0.1 until Ctrl-C.\n\n"
    "The database must be up (the catalog is read from it). The site is published in "
    "VODFLOW_DATA_DIR/dbt-docs/site; its static_index.html also opens without a server. If the stack's own docs "
    "server (`vodflow up`) already serves that port, the docs are regenerated and it keeps serving them."
)


def _stack_serves_docs(settings: Settings, port: int) -> bool:
    """Whether the local stack's ``dbt-docs`` service is up on ``port`` (it serves the same folder)."""
    from vodflow.stack import procs
    from vodflow.stack.layout import layout
    from vodflow.stack.services import DBT_DOCS, docs_server

    record = procs.read_record(layout(settings).run_dir, DBT_DOCS)
    if record is None or record.port != port or procs.live_process(record) is None:
        return False
    return docs_server(settings).health(record.create_time)


def _generate(settings: Settings) -> None:
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError

    from vodflow.dbt.docs import DbtDocsError, generate_site

    with known_errors(), console.status("dbt docs generate: parsing, compiling and reading the catalog…"):
        try:
            site = generate_site(settings)
        except DbtDocsError as exc:
            fail(str(exc))
        except ConcurrencySlotAcquisitionError as exc:
            # The limit is missing, or the Prefect server that holds it does not answer: `up` fixes both.
            fail(f"{exc}: is the stack up? run `vodflow up` (it creates the vodflow-dbt limit)")
    console.print(f"[green]✓[/] dbt docs generated in {site.folder} [dim]({site.elapsed_seconds:.1f} s)[/]")


def docs(
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Only generate the docs and print their folder; do not serve them.")
    ] = False,
    port: Annotated[
        int | None,
        typer.Option(help="Port to serve on (default: VODFLOW_DOCS_PORT, 8580).", min=1, max=65535, show_default=False),
    ] = None,
) -> None:
    """Generate the dbt docs, then serve them (see ``_DOCS_HELP``)."""
    from vodflow.net import port_is_free

    try:
        settings = get_settings()
    except ValueError as exc:  # a malformed VODFLOW_* value
        fail(str(exc))
    port = port or settings.docs_port
    url = f"http://{settings.host}:{port}/"
    stack_serves = not no_serve and _stack_serves_docs(settings, port)
    # Checked before generating (several seconds): a taken port should cost nothing to find out.
    if not no_serve and not stack_serves and not port_is_free(settings.host, port):
        fail(f"port {port} on {settings.host} is taken by another program: pass --port or set VODFLOW_DOCS_PORT")
    _generate(settings)
    if no_serve:
        console.print(f"open {settings.dbt_docs_dir / 'static_index.html'}, or serve them with `vodflow docs`")
        return
    if stack_serves:
        console.print(f"dbt docs   {url}   (served by the local stack)")
        return
    _serve(settings, port)


def _serve(settings: Settings, port: int) -> None:
    from vodflow.stack.docs_server import DocsServer

    try:
        server = DocsServer(settings.host, port, settings.dbt_docs_dir)
    except OSError as exc:  # taken in the seconds since the check
        fail(f"cannot serve the docs on {settings.host}:{port} ({exc.strerror or exc}): pass --port")
    console.print(f"dbt docs   {server.url}   (Ctrl-C to stop)")
    # Both signals explicitly: a process started with SIGINT ignored (a background job, some CI runners)
    # inherits that, and Ctrl-C would then never reach Python.
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("docs server stopped")
    finally:
        server.server_close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def register(app: typer.Typer) -> None:
    """Add ``docs`` to the CLI."""
    app.command("docs", help=_DOCS_HELP)(docs)
