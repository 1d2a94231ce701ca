"""Shared fixtures: a real PostgreSQL (the embedded wheel) and a real Prefect server, per test session (per xdist
worker under ``make test``), and the work units that ``make test`` spreads over its two workers.

Each test session gets its own data folder and free ports, so `make test` passes while a demo stack runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

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
    ``VODFLOW_KEEP_TEST_DIRS=1`` keeps them (a stack's logs are in its data folder's ``logs``).
    """
    made: list[Path] = []

    def make(prefix: str) -> Path:
        made.append(Path(tempfile.mkdtemp(prefix=f"vodflow-{prefix}-")))
        return made[-1]

    yield make
    if os.environ.get("VODFLOW_KEEP_TEST_DIRS"):  # to read a stack's logs after a failure
        print(f"kept: {' '.join(map(str, made))}")
        return
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
    "tests/e2e/test_anomaly_demo.py",
)
"""The modules on the end-to-end package's shared stack (tests/e2e/conftest.py), in the order they run."""


def _shared_stack_rank(item: pytest.Item) -> int:
    """0 for a test that does not use the shared stack, else 1 + its module's place in ``SHARED_STACK_MODULES``."""
    module = item.nodeid.split("::", 1)[0]
    if module not in SHARED_STACK_MODULES:
        return 0
    return 1 + SHARED_STACK_MODULES.index(module)


STACK_UNITS = {
    "tests/chaos/test_stack_faults.py": "chaos-stack",
    "tests/security/test_canary_secrets.py": "canary-stack",
    "tests/security/test_listening.py": "canary-stack",
}
"""Modules that start a full local stack of their own (a package-scoped fixture) → their work unit."""

LONGEST_FIRST = ("chaos-stack", "tests/e2e", "tests/dbt", "tests/alerts", "canary-stack", "tests/flows")
"""Work units that take longest (each several minutes on two cores), handed out first so that the two workers of
``make test`` end together; the other units follow in the order they were collected."""


def work_unit(nodeid: str) -> str:
    """The unit a test runs in under ``make test`` (pytest-xdist): the stack its module starts, else its package.
    One worker runs a whole unit, so a stack, a package's or a module's fixtures start once."""
    module = nodeid.split("::", 1)[0]
    return STACK_UNITS.get(module) or module.rsplit("/", 1)[0]


def _unit_rank(item: pytest.Item) -> int:
    unit = work_unit(item.nodeid)
    return LONGEST_FIRST.index(unit) if unit in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest work units first; within a unit the order is kept, and the shared stack's modules run in the
    order of ``SHARED_STACK_MODULES``. Without xdist (``pytest`` alone) the same order holds."""
    items.sort(key=lambda item: (_unit_rank(item), _shared_stack_rank(item)))  # stable: the rest keeps its order


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with ``work_unit`` as the scope: each unit goes to one worker, whole.

    Not ``--dist loadgroup`` with ``xdist_group`` marks: pytest-xdist 3.8 puts the group in ``item._nodeid``,
    which pytest 9.2 no longer reads, so the groups are lost and a stack's tests are spread over both workers.
    """
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _reschedule(self, node: Any) -> None:
            """The next unit once one test of this worker's is left (xdist: two), so that it never waits behind
            two long tests (a stack's last ones) while the other worker may run out of work."""
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    return WorkUnitScheduling(config, log)
