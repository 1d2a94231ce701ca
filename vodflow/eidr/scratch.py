"""A registry table for one batch run, thrown away afterwards: what ``vodflow eidr match`` loads its extract into.

The batch command must run the pipeline's own matcher, which searches a PostgreSQL table. With a database at
hand (``DATABASE_URL``, or the local stack running) the extract goes into a private schema there, copied from
``raw.eidr_registry`` with all its indexes and dropped at the end; without one, a throwaway embedded PostgreSQL
is started in a temporary folder, so the command also works on a laptop with nothing running.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine, text

from vodflow.db import embedded, migrate
from vodflow.db.engine import get_engine
from vodflow.db.urls import embedded_url
from vodflow.net import free_port
from vodflow.settings import Settings, get_settings


@dataclass(frozen=True)
class ScratchRegistry:
    """Where to load and search: an engine, a table, and whether it lives in a throwaway server."""

    engine: Engine
    table: str
    throwaway: bool


@contextmanager
def _throwaway_server(settings: Settings) -> Iterator[ScratchRegistry]:
    folder = Path(tempfile.mkdtemp(prefix="vodflow-eidr-batch-"))
    server = replace(settings, data_dir=folder, pg_port=free_port(settings.host), database_url=None)
    engine: Engine | None = None
    try:
        embedded.start(server)
        url = embedded_url(server)
        migrate.upgrade(url)
        engine = get_engine(url)
        yield ScratchRegistry(engine, "raw.eidr_registry", throwaway=True)
    finally:
        if engine is not None:
            engine.dispose()
        embedded.stop(server)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _private_schema() -> Iterator[ScratchRegistry]:
    migrate.upgrade()
    engine = get_engine()
    schema = f"eidr_batch_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
        conn.execute(text(f"create table {schema}.eidr_registry (like raw.eidr_registry including all)"))
    try:
        yield ScratchRegistry(engine, f"{schema}.eidr_registry", throwaway=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))


@contextmanager
def scratch_registry(settings: Settings | None = None) -> Iterator[ScratchRegistry]:
    """An empty registry table for one batch run; see the module docstring."""
    settings = settings or get_settings()
    if settings.database_url or embedded.running_pid(settings) is not None:
        with _private_schema() as scratch:
            yield scratch
    else:
        with _throwaway_server(settings) as scratch:
            yield scratch
