"""``vodflow eidr``: check IDs, load the registry extract, match, and work the review queue."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vodflow.cli.errors import fail, known_errors

if TYPE_CHECKING:
    from sqlalchemy import Engine

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

eidr_app = typer.Typer(
    name="eidr",
    help="EIDR identity: validate IDs, load the registry extract, match assets, review potential matches.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    name="review",
    help="The review queue of potential matches: list, accept a candidate, or reject them all.",
    no_args_is_help=True,
)
eidr_app.add_typer(review_app, name="review")
MAX_SHOWN_ISSUES = 20


@contextmanager
def _progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress line on stderr; yields ``advance_to(count)``."""
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)


def _engine() -> Engine:
    from vodflow.db.engine import get_engine

    return get_engine()


@eidr_app.command("check")
def check_ids(ids: Annotated[list[str], typer.Argument(help="EIDR IDs, in any common spelling.")]) -> None:
    """Print each ID as valid (in canonical form) or the reason it is not; exit 1 if any is invalid."""
    from vodflow.eidr.ids import check

    invalid = 0
    for value in ids:
        verdict = check(value)
        if verdict.normalised is not None:
            typer.echo(f"{value}\tvalid\t{verdict.normalised}")
        else:
            invalid += 1
            typer.echo(f"{value}\tinvalid\t{verdict.reason}")
    if invalid:
        raise typer.Exit(1)


@eidr_app.command("load-registry")
def load_registry(
    file: Annotated[Path, typer.Argument(help="Registry extract, JSON Lines.", exists=True, dir_okay=False)],
    prune: Annotated[
        bool, typer.Option("--prune", help="The file is a full extract: delete records it no longer has.")
    ] = False,
) -> None:
    """Load the extract into raw.eidr_registry (streamed, idempotent) and say what was added, changed, unchanged."""
    from vodflow.eidr.load import load_registry as load

    with known_errors(), _progress(f"loading {file.name}") as advance:
        report = load(_engine(), file, prune=prune, on_progress=advance)
    for issue in report.issues[:MAX_SHOWN_ISSUES]:
        err_console.print(f"line {issue.line_no}: skipped: {issue.message}")
    if report.skipped > MAX_SHOWN_ISSUES:
        err_console.print(f"… and {report.skipped - MAX_SHOWN_ISSUES} more skipped lines")
    for note in report.notes[:MAX_SHOWN_ISSUES]:
        err_console.print(f"line {note.line_no}: {note.message}")
    console.print(
        f"{report.records:,} records from {report.lines:,} lines: {report.added:,} added, {report.changed:,} "
        f"changed, {report.unchanged:,} unchanged; {report.skipped:,} lines skipped"
        + (f"; {report.duplicates:,} repeated IDs (last line won)" if report.duplicates else "")
        + (f"; {report.pruned:,} pruned" if prune else "")
    )


@eidr_app.command("sandbox-registry")
def sandbox_registry(
    out: Annotated[Path, typer.Argument(help="Where to write the extract (JSON Lines).", dir_okay=False)],
    total: Annotated[
        int, typer.Option(help="Fill with synthetic records up to this many lines (0: the sandbox films only).")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic filler.")] = 0,
) -> None:
    """Write the sandbox's registry extract: every sandbox film with its EIDR ID, plus optional filler."""
    from vodflow.eidr.sandbox_registry import write_registry

    with err_console.status(f"writing {out}"):
        written = write_registry(out, total=total or None, seed=seed)
    console.print(f"{written:,} records written to {out}")


@eidr_app.command("match")
def match_batch(
    registry: Annotated[Path, typer.Option(help="Registry extract (JSON Lines).", exists=True, dir_okay=False)],
    catalogue: Annotated[Path, typer.Option(help="Catalogue CSV (harbor's contract).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Where to write MATCHES.csv.", dir_okay=False)],
) -> None:
    """Match a catalogue CSV against a registry extract with the pipeline's matcher; write MATCHES.csv.

    Uses a private schema in the configured database, or a throwaway PostgreSQL when none is running.
    """
    from vodflow.eidr.batch import run_batch
    from vodflow.eidr.catalogue_csv import CatalogueError, read_catalogue
    from vodflow.eidr.load import load_registry as load
    from vodflow.eidr.scratch import scratch_registry

    try:
        rows = list(read_catalogue(catalogue))  # a broken contract fails before any work starts
    except CatalogueError as exc:
        fail(str(exc))
    with known_errors(), scratch_registry() as scratch:
        with _progress(f"loading {registry.name}") as advance:
            report = load(scratch.engine, registry, table=scratch.table, on_progress=advance)
        if report.skipped:
            err_console.print(f"{report.skipped:,} registry lines skipped (see `vodflow eidr load-registry`)")
        with _progress("matching", total=len(rows)) as advance:
            counts = run_batch(
                scratch.engine, rows, out, table=scratch.table, on_progress=lambda done, _: advance(done)
            )
    summary = ", ".join(f"{counts[name]:,} {name}" for name in sorted(counts))
    console.print(f"{sum(counts.values()):,} rows matched against {report.records:,} records: {summary} -> {out}")


@eidr_app.command("match-assets")
def match_assets(
    provider: Annotated[str | None, typer.Option(help="Only this provider's assets.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only assets loaded at or after this time.")] = None,
) -> None:
    """Match the assets in raw.assets that have no valid EIDR ID against raw.eidr_registry; record the results."""
    from vodflow.eidr.pipeline import match_assets as run

    with known_errors(), err_console.status("matching") as status:
        summary = run(
            _engine(), provider, since, on_progress=lambda kind, done: status.update(f"matching {kind}: {done:,}")
        )
    typer.echo(json.dumps(summary.as_dict()))


def _who(by: str | None) -> str:
    return by or os.environ.get("VODFLOW_REVIEWER") or getpass.getuser()


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option(help="pending, accepted, rejected or all.")] = "pending",
    provider: Annotated[str | None, typer.Option(help="Only this provider's assets.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many items.")] = 50,
) -> None:
    """Show queued potential matches with their best candidates."""
    from vodflow.eidr.review import ReviewError, list_reviews

    try:
        with known_errors():
            items = list_reviews(_engine(), status=None if status == "all" else status, provider=provider, limit=limit)
    except ReviewError as exc:
        fail(str(exc))
    table = Table(title=f"EIDR review queue ({status})", title_justify="left")
    for column in ("id", "asset", "title", "year", "status", "candidates (score, EIDR ID, title, year)"):
        table.add_column(column)
    for item in items:
        candidates = "\n".join(
            f"{c['score']:.2f} {c['eidr_id']} {c['title']} ({c.get('release_year') or '?'})"
            for c in item.candidates[:3]
        )
        decided = f" {item.decided_eidr_id or ''} by {item.decided_by}" if item.decided_by else ""
        table.add_row(
            str(item.review_id),
            f"{item.provider}/{item.provider_asset_id}",
            item.title or "?",
            str(item.release_year or "?"),
            item.status + decided,
            candidates or "-",
        )
    console.print(table)


@review_app.command("accept")
def review_accept(
    review_id: Annotated[int, typer.Argument(help="The review's id (see `review list`).")],
    eidr_id: Annotated[str | None, typer.Option(help="The ID to accept (default: the best candidate).")] = None,
    by: Annotated[str | None, typer.Option(help="Who decides (default: $VODFLOW_REVIEWER or the user).")] = None,
) -> None:
    """Accept a candidate for the asset; the decision overrides the matcher from now on."""
    from vodflow.eidr.review import ReviewError, accept

    try:
        with known_errors():
            item = accept(_engine(), review_id, by=_who(by), eidr_id=eidr_id)
    except ReviewError as exc:
        fail(str(exc))
    typer.echo(f"review {item.review_id}: {item.provider}/{item.provider_asset_id} -> {item.decided_eidr_id}")


@review_app.command("reject")
def review_reject(
    review_id: Annotated[int, typer.Argument(help="The review's id (see `review list`).")],
    by: Annotated[str | None, typer.Option(help="Who decides (default: $VODFLOW_REVIEWER or the user).")] = None,
) -> None:
    """Reject every candidate: the asset keeps no EIDR ID, whatever later matcher runs find."""
    from vodflow.eidr.review import ReviewError, reject

    try:
        with known_errors():
            item = reject(_engine(), review_id, by=_who(by))
    except ReviewError as exc:
        fail(str(exc))
    typer.echo(f"review {item.review_id}: {item.provider}/{item.provider_asset_id} rejected")


def register(app: typer.Typer) -> None:
    """Add the ``eidr`` command group to the ``vodflow`` app."""
    app.add_typer(eidr_app, name="eidr")
