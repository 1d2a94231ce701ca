"""``dbt docs generate`` in-process: the project's documentation and lineage graph, published for the docs server.

dbt writes its docs into a target folder together with everything else a run leaves there (compiled SQL, the
partial-parse cache, run results). vodflow gives docs their own target folder, so they never disturb a build's
artifacts, and then *publishes* only the site's files into :attr:`Settings.dbt_docs_dir`, each one replaced
atomically: the server (which may be running while the docs are regenerated) never serves a half-written
manifest, and it has nothing else in its folder to expose.

Plain ``dbtRunner`` rather than prefect-dbt's ``PrefectDbtRunner``: generating docs runs no model, so there is
nothing to mirror as Prefect tasks or assets, and it must work from the CLI with no flow context.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vodflow.settings import Settings, get_settings

#: What ``dbt docs generate --static`` leaves in its target folder that the site needs, in publishing order:
#: the data first, so a browser that finds the new index.html also finds what it reads.
SITE_FILES = ("manifest.json", "catalog.json", "index.html", "static_index.html")

_log = logging.getLogger(__name__)


class DbtDocsError(RuntimeError):
    """``dbt docs generate`` failed: the project does not parse or compile, or the catalog could not be read."""

    def __init__(self, command: list[str], messages: list[str]) -> None:
        self.command = list(command)
        self.messages = list(messages)
        lines = [f"dbt {' '.join(self.command[:2])} failed", *self.messages]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class DocsSite:
    """A published docs site: its folder and how long generating it took."""

    folder: Path
    elapsed_seconds: float

    @property
    def index(self) -> Path:
        """The page the docs server serves at ``/`` (it fetches manifest.json and catalog.json beside it)."""
        return self.folder / "index.html"

    @property
    def static_index(self) -> Path:
        """One self-contained page (manifest and catalog inlined) that also works opened from disk (file://)."""
        return self.folder / "static_index.html"


def docs_args(settings: Settings) -> list[str]:
    """The ``dbt docs generate`` arguments: the project, its profile, the docs' own target folder and dbt's log.

    ``--static`` adds ``static_index.html`` (dbt ≥ 1.7), a single file a person can open or attach without a
    server.
    """
    return [
        "docs",
        "generate",
        "--static",
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target-path",
        str(settings.dbt_docs_target_dir),
        "--log-path",
        str(settings.dbt_log_dir),
        # Nothing on stdout (the CLI shows a spinner and dbt's errors come back in DbtDocsError); dbt.log keeps all.
        "--log-level",
        "none",
        "--log-level-file",
        "debug",
    ]


def generate_docs(settings: Settings | None = None) -> Path:
    """Generate the dbt docs (models, sources, tests, columns and the lineage graph) and publish the site.

    The database must be reachable: the catalog (column types, row counts) is read from it, and compiling the
    incremental models asks it which relations exist. It is checked first, so an unreachable database fails in
    a second with SQLAlchemy's error instead of after dbt's per-node connect timeouts. dbt runs inside
    :func:`vodflow.dbt.exclusive_dbt`, so it waits for any build in progress (here or in a flow run).

    Args:
        settings: Whose project, database and data folder; the environment's by default.

    Returns:
        The published site's folder (``settings.dbt_docs_dir``): index.html, static_index.html, manifest.json,
        catalog.json.

    Raises:
        DbtDocsError: dbt failed; the message carries dbt's own error lines.
        sqlalchemy.exc.OperationalError: The database is unreachable.
        ConcurrencySlotAcquisitionError: (from ``prefect.concurrency``) The ``vodflow-dbt`` limit does not exist.
    """
    return generate_site(settings).folder


def generate_site(settings: Settings | None = None) -> DocsSite:
    """:func:`generate_docs`, also saying how long it took (the CLI shows it)."""
    settings = settings or get_settings()
    _check_database(settings)
    from vodflow.dbt.runner import exclusive_dbt

    args = docs_args(settings)
    settings.dbt_docs_target_dir.mkdir(parents=True, exist_ok=True)
    settings.dbt_log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with exclusive_dbt(settings):
        _invoke(args, settings.dbt_docs_target_dir)
    _publish(settings.dbt_docs_target_dir, settings.dbt_docs_dir)
    return DocsSite(settings.dbt_docs_dir, round(time.perf_counter() - started, 3))


def _check_database(settings: Settings) -> None:
    from sqlalchemy import text

    from vodflow.db.engine import get_engine
    from vodflow.db.urls import database_url

    with get_engine(database_url(settings)).connect() as conn:
        conn.execute(text("select 1"))


def _invoke(args: list[str], target: Path) -> None:
    """Run dbt in this process and raise with its error lines if it fails."""
    from dbt.cli.main import dbtRunner

    errors: list[str] = []

    def collect(event: Any) -> None:
        # Error-level events carry dbt's explanation (a compilation error, a database error, a failed catalog).
        if event.info.level == "error" and event.info.msg:
            errors.append(str(event.info.msg).strip())

    for name in SITE_FILES:  # a failed run must not leave the previous run's files to be published as new
        (target / name).unlink(missing_ok=True)
    result = dbtRunner(callbacks=[collect]).invoke(args)
    if result.success and all((target / name).is_file() for name in SITE_FILES):
        return
    catalog_errors = getattr(result.result, "errors", None) or []
    for extra in [result.exception, *catalog_errors]:
        # dbt usually logged the same text already (inside "Encountered an error: ..."): say it once.
        if extra is not None and not any(str(extra).strip() in line for line in errors):
            errors.append(str(extra).strip())
    if not errors:
        missing = [name for name in SITE_FILES if not (target / name).is_file()]
        errors.append(f"dbt reported no error but did not write {', '.join(missing) or 'a successful result'}")
    raise DbtDocsError(args, errors)


def _publish(target: Path, site: Path) -> None:
    """Copy the site's files from dbt's target folder into the served folder, each replaced atomically."""
    site.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        partial = site / f".{name}.part"
        shutil.copyfile(target / name, partial)
        os.replace(partial, site / name)
    _log.info("dbt docs published in %s", site)
