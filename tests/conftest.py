"""Shared fixtures: a real PostgreSQL (the embedded wheel) and a real Prefect server, per test session, and one full
local stack (``vodflow up`` with the deployments) for the end-to-end and demo tests.

Each test session gets its own data folder and free ports, so `make test` passes while a demo stack runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.stack.helpers import TEST_STACK_ENV, Stack, running_stack
from vodflow.db import embedded, migrate
from vodflow.db.engine import get_engine
from vodflow.net import free_port
from vodflow.settings import Settings, get_settings

_SESSION_ENV_KEYS = ("VODFLOW_DATA_DIR", "VODFLOW_PG_PORT", "VODFLOW_SANDBOX_PORT", "VODFLOW_PREFECT_PORT")


@pytest.fixture(scope="session")
def server_dirs() -> Iterator[Callable[[str], Path]]:
    """Make folders for servers that run as another user (PostgreSQL refuses root), removed at session end.

    Not under pytest's ``tmp_path``: pytest resets its per-user base folder to mode 0700 whenever another pytest
    session starts, and the unprivileged server user must be able to traverse the path to its data.
    """
    made: list[Path] = []

    def make(prefix: str) -> Path:
        made.append(Path(tempfile.mkdtemp(prefix=f"vodflow-{prefix}-")))
        return made[-1]

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def session_data_dir(server_dirs: Callable[[str], Path]) -> Path:
    """One data folder for the whole session (the embedded cluster lives there)."""
    return server_dirs("test-data")


@pytest.fixture(scope="session")
def vodflow_env(session_data_dir: Path) -> Iterator[Settings]:
    """Point every vodflow setting at this session's own folder and ports."""
    saved = {key: os.environ.get(key) for key in (*_SESSION_ENV_KEYS, "DATABASE_URL")}
    os.environ["VODFLOW_DATA_DIR"] = str(session_data_dir)
    os.environ["VODFLOW_PG_PORT"] = str(free_port())
    os.environ["VODFLOW_SANDBOX_PORT"] = str(free_port())
    os.environ["VODFLOW_PREFECT_PORT"] = str(free_port())
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DBT_USE_COLORS", "false")
    yield get_settings()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def postgres(vodflow_env: Settings) -> Iterator[Settings]:
    """A real PostgreSQL for the session, migrated to head; stopped at the end."""
    embedded.start(vodflow_env)
    migrate.upgrade()
    yield vodflow_env
    get_engine().dispose()
    embedded.stop(vodflow_env)


DBT_SCHEMAS = ("staging", "intermediate", "marts")


@pytest.fixture
def db(postgres: Settings) -> Iterator[Engine]:
    """An engine on a database whose raw and ops tables are empty, and with no dbt schema, at the start of a test.

    Dropping the dbt schemas matters: an incremental mart would otherwise keep rows from an earlier test.
    """
    engine = get_engine()
    _truncate(engine)
    with engine.begin() as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(text(f"drop schema if exists {schema} cascade"))
    yield engine


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "select format('%I.%I', schemaname, tablename) from pg_tables "
                "where schemaname in ('raw', 'ops') and tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(tables)
        if names:
            conn.execute(text(f"truncate {names} restart identity cascade"))


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real Prefect server (temporary SQLite) for flows, events and concurrency limits."""
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


SHARED_STACK_MODULES = (
    "tests/e2e/test_backfills.py",
    "tests/e2e/test_storm.py",
    "tests/e2e/test_views.py",
    "tests/demo/test_anomaly_demo.py",
)
"""The modules on the shared stack, in the order they run. The chaos suite's stack faults have a stack of their
own: they kill and restart its parts, and the load test needs a Prefect server without an afternoon of history."""


@pytest.fixture(scope="session")
def shared_stack(server_dirs: Callable[[str], Path]) -> Iterator[Stack]:
    """One full local stack for every module of ``SHARED_STACK_MODULES``: a cold start with the deployments costs
    a minute or more of two cores, so they share it (and run one after another, last in the session: see
    ``pytest_collection_modifyitems``). Its environment is ``stack.env``, passed to subprocesses explicitly; the
    session's own database and Prefect server stay what they were. A test that changes the stack's configuration
    (a schedule, a channel) puts it back before it ends. Its schedules stay on: tests must tolerate a scheduled
    run beside theirs."""
    with running_stack(server_dirs("shared-stack"), extra_env=TEST_STACK_ENV) as stack:
        yield stack


def _shared_stack_rank(item: pytest.Item) -> int:
    """0 for a test that does not use the shared stack, else 1 + its module's place in ``SHARED_STACK_MODULES``."""
    if "shared_stack" not in getattr(item, "fixturenames", ()):
        return 0
    module = item.nodeid.split("::", 1)[0]
    return 1 + (SHARED_STACK_MODULES.index(module) if module in SHARED_STACK_MODULES else len(SHARED_STACK_MODULES))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the shared stack's tests last and together, so its processes (and its schedules) are idle beside no
    other test; the order within a module is kept."""
    items.sort(key=_shared_stack_rank)  # a stable sort: everything else keeps its order
