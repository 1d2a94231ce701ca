"""The stack's long-running child processes: how each is started, where it listens, and how we know it is healthy.

PostgreSQL is not here: ``vodflow.db.embedded`` starts it through ``pg_ctl`` (which daemonises it), and the
lifecycle records its pid the same way as the others'.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vodflow.settings import PROJECT_ROOT, Settings
from vodflow.stack import api
from vodflow.stack.env import child_env
from vodflow.stack.health import http_ok
from vodflow.stack.layout import layout

PREFECT_SERVER = "prefect-server"
SANDBOX = "sandbox"
WORKER = "worker"
WATCHER = "watcher"
DBT_DOCS = "dbt-docs"
POSTGRES = "postgres"

#: The worker's name in its pool; the health check looks for this name with an ONLINE status.
WORKER_NAME = "vodflow-local-worker"

# Generous: a cold Prefect server takes ~25 s on two idle cores, and much longer on a busy laptop or CI runner.
PREFECT_START_TIMEOUT = 240.0
PREFECT_DB_UPGRADE_TIMEOUT = 300.0
SANDBOX_START_TIMEOUT = 90.0
WORKER_START_TIMEOUT = 90.0
WATCHER_START_TIMEOUT = 60.0
DOCS_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Service:
    """A child process of the stack."""

    name: str
    cmd: list[str]
    env: dict[str, str] = field(repr=False)
    health: Callable[[float], bool] = field(repr=False)
    """Called with the process's create time (epoch seconds): the worker's heartbeat must be newer than that."""
    start_timeout: float
    port: int | None = None
    env_var: str | None = None
    url: str | None = None
    cwd: Path = PROJECT_ROOT
    """The project root: the worker finds the flows and the dbt project relative to it."""


def _python_module(module: str, *args: str) -> list[str]:
    """Run a module with this interpreter: the venv's Prefect and vodflow, whatever is first on PATH."""
    return [sys.executable, "-m", module, *args]


def prefect_server_database_env(settings: Settings) -> dict[str, str]:
    """Where the Prefect server keeps its state: the ``prefect`` database on the embedded cluster.

    With ``DATABASE_URL`` (a server of your own, where vodflow creates no database) it is Prefect's default, a
    SQLite file under ``PREFECT_HOME``; set ``PREFECT_SERVER_DATABASE_CONNECTION_URL`` to use a PostgreSQL there.
    """
    if settings.database_url:
        return {}
    from vodflow.db.embedded import prefect_database_url

    url = prefect_database_url(settings)
    return {"PREFECT_SERVER_DATABASE_CONNECTION_URL": url} if url else {}


ENQUEUED_RUN_ENV = {"PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5"}
"""A run over its deployment's concurrency limit (ENQUEUE) asks again for a slot after 5 s, not Prefect's 30: a
backfill's windows beside the live schedule of the same provider otherwise wait up to 30 s each for a free slot."""


def prefect_server(settings: Settings) -> Service:
    """The Prefect API and UI, bound to loopback, its state in PostgreSQL (:func:`prefect_server_database_env`)."""
    return Service(
        name=PREFECT_SERVER,
        cmd=_python_module("prefect", "server", "start", "--host", settings.host, "--port", str(settings.prefect_port)),
        env={**child_env(settings), **prefect_server_database_env(settings), **ENQUEUED_RUN_ENV},
        health=lambda _since: http_ok(f"{settings.prefect_api_url}/health"),
        start_timeout=PREFECT_START_TIMEOUT,
        port=settings.prefect_port,
        env_var="VODFLOW_PREFECT_PORT",
        url=settings.prefect_ui_url,
    )


def prefect_database_upgrade_cmd() -> list[str]:
    """Migrates a fresh ``PREFECT_HOME`` ahead of ``server start`` (which is otherwise slow enough to time out)."""
    return _python_module("prefect", "server", "database", "upgrade", "-y")


def sandbox(settings: Settings) -> Service:
    """The provider sandbox (fake provider APIs and drops) that the ingestion flows read from."""
    return Service(
        name=SANDBOX,
        cmd=_python_module(
            "vodflow.sandbox",
            "--host",
            settings.host,
            "--port",
            str(settings.sandbox_port),
            "--state-dir",
            str(layout(settings).sandbox_dir),
        ),
        env=child_env(settings),
        health=lambda _since: http_ok(f"{settings.sandbox_url}/healthz"),
        start_timeout=SANDBOX_START_TIMEOUT,
        port=settings.sandbox_port,
        env_var="VODFLOW_SANDBOX_PORT",
        url=settings.sandbox_url,
    )


HEARTBEAT_ENV = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
"""Flow runs send a heartbeat every 30 s (Prefect's least): the "flow run lost" automation marks a run Crashed
when they stop (its process killed with the worker), instead of leaving it Running for ever."""


def worker(settings: Settings) -> Service:
    """The process worker that runs the deployments' flow runs as subprocesses of itself.

    ``PREFECT_WORKER_QUERY_SECONDS=1`` cuts the wait before a triggered run starts from ~10 s to ~1 s (FACTS.md).
    """
    return Service(
        name=WORKER,
        cmd=_python_module(
            "prefect",
            "worker",
            "start",
            "--pool",
            settings.work_pool,
            "--type",
            "process",
            "--name",
            WORKER_NAME,
        ),
        env={**child_env(settings), "PREFECT_WORKER_QUERY_SECONDS": "1", **HEARTBEAT_ENV},
        health=lambda since: api.worker_online(settings, WORKER_NAME, since=since),
        start_timeout=WORKER_START_TIMEOUT,
    )


def watcher(settings: Settings) -> Service:
    """The drop-folder watcher: emits ``vodflow.drop.received`` when a file lands (``vodflow.stack.watcher``).

    Healthy while its heartbeat file is fresh: it has no port to ask.
    """
    from vodflow.stack.watcher import heartbeat_is_fresh, heartbeat_path

    heartbeat = heartbeat_path(layout(settings).run_dir)
    return Service(
        name=WATCHER,
        cmd=_python_module("vodflow.stack.watcher"),
        env=child_env(settings),
        health=lambda since: heartbeat_is_fresh(heartbeat, since),
        start_timeout=WATCHER_START_TIMEOUT,
    )


def docs_server(settings: Settings) -> Service:
    """The dbt docs site (``vodflow.stack.docs_server``): the published docs, or a page saying how to generate them.

    It only serves files, so it starts in a moment and needs nothing else; generating the docs (seconds of dbt)
    is left to ``vodflow docs`` and ``vodflow demo``, off ``up``'s critical path.
    """
    return Service(
        name=DBT_DOCS,
        cmd=_python_module(
            "vodflow.stack.docs_server",
            "--host",
            settings.host,
            "--port",
            str(settings.docs_port),
            "--dir",
            str(settings.dbt_docs_dir),
        ),
        env=child_env(settings),
        health=lambda _since: http_ok(f"{settings.docs_url}healthz"),
        start_timeout=DOCS_START_TIMEOUT,
        port=settings.docs_port,
        env_var="VODFLOW_DOCS_PORT",
        url=settings.docs_url,
    )


def all_services(settings: Settings) -> list[Service]:
    """The child processes in start order (``down`` stops them in reverse)."""
    return [prefect_server(settings), sandbox(settings), docs_server(settings), worker(settings), watcher(settings)]
