"""Server-side Prefect objects the stack needs before the worker starts: the work pool and the dbt concurrency limit.

Both are created only when missing, so ``vodflow up`` can run any number of times. The Prefect client is imported
inside the functions (it costs about 1.5 s) and with this stack's ``PREFECT_*`` variables in the environment, so
importing it never creates or reads the user's own ``~/.prefect`` profile.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any, Literal

from vodflow.envvars import temporary_environ
from vodflow.prefect_auth import prefect_client_credentials
from vodflow.settings import DBT_CONCURRENCY_LIMIT, Settings
from vodflow.stack.env import prefect_env

WORK_POOL_TYPE = "process"


def flow_run_command() -> str:
    """The command the local worker starts each flow run with: this interpreter's ``-m prefect.engine``.

    Without a command, Prefect's process worker starts a workspace supervisor first: a second Python process that
    imports Prefect, resolves the deployment's workspace and only then becomes the engine. That costs about 2 s of
    CPU and a second of lag on every run, for features the local stack does not use (installing a workspace's
    dependencies). The engine runs the deployment's pull step (``set_working_directory``) itself.
    """
    return shlex.join([sys.executable, "-m", "prefect.engine"])


def process_job_template() -> dict[str, Any]:
    """Prefect's base job template for a process pool, with :func:`flow_run_command` as the default command.

    A deployment's ``job_variables`` may still set its own.
    """
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["command"]["default"] = flow_run_command()
    return template


def _default_command(template: dict[str, Any]) -> object:
    return template.get("variables", {}).get("properties", {}).get("command", {}).get("default")


def ensure_work_pool(settings: Settings) -> Literal["created", "updated", "exists"]:
    """Create the ``process`` work pool named by ``settings.work_pool`` unless it exists.

    An existing pool's base job template is brought up to :func:`process_job_template` when its command differs
    (a pool made by an older vodflow, or from another interpreter). Returns what it did.
    """
    with temporary_environ(prefect_env(settings)):
        from prefect.client.orchestration import SyncPrefectClient
        from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
        from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

        template = process_job_template()
        with SyncPrefectClient(api=settings.prefect_api_url, **prefect_client_credentials()) as client:
            try:
                pool = client.read_work_pool(settings.work_pool)
            except ObjectNotFound:
                pass
            else:
                if pool.type != WORK_POOL_TYPE or _default_command(pool.base_job_template) == flow_run_command():
                    return "exists"
                client.update_work_pool(settings.work_pool, WorkPoolUpdate(base_job_template=template))
                return "updated"
            try:
                client.create_work_pool(
                    WorkPoolCreate(name=settings.work_pool, type=WORK_POOL_TYPE, base_job_template=template)
                )
            except ObjectAlreadyExists:  # another `up` won the race: same outcome
                return "exists"
            return "created"


__all__ = ["DBT_CONCURRENCY_LIMIT", "ensure_concurrency_limit", "ensure_work_pool"]


def ensure_concurrency_limit(settings: Settings) -> bool:
    """Create the dbt concurrency limit on this stack's server unless it exists. Returns whether created."""
    with temporary_environ(prefect_env(settings)):
        from vodflow.dbt import ensure_dbt_concurrency_limit

        return ensure_dbt_concurrency_limit()
