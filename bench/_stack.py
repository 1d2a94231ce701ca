"""Throwaway real services for benchmarks: an embedded PostgreSQL in a temp folder on a free port."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vodflow.db import embedded, migrate
from vodflow.db.engine import get_engine
from vodflow.net import free_port
from vodflow.settings import Settings, get_settings


@contextmanager
def bench_postgres() -> Iterator[Settings]:
    """Start a migrated PostgreSQL for one benchmark run and stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="vodflow-bench-") as folder:
        os.environ["VODFLOW_DATA_DIR"] = str(Path(folder))
        os.environ["VODFLOW_PG_PORT"] = str(free_port())
        os.environ.pop("DATABASE_URL", None)
        settings = get_settings()
        embedded.start(settings)
        try:
            migrate.upgrade()
            yield settings
        finally:
            get_engine().dispose()
            embedded.stop(settings)
