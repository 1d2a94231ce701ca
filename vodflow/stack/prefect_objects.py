"""Server-side Prefect objects the stack needs before the worker starts: the work pool and the dbt concurrency limit.

Both are created only when missing, so ``vodflow up`` can run any number of times. The Prefect client is imported
inside the functions (it costs about 1.5 s) and with this stack's ``PREFECT_*`` variables in the environment, so
importing it never creates or reads the user's own ``~/.prefect`` profile.
"""

from __future__ import annotations

import copy
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
    imports Prefect, resolves the deployment's workspace and only then becomes the engine. That cost about 1.5 s of
    CPU on every run (measured on a lumina run that found nothing new), for features the local stack does not use
    (installing a workspace's dependencies). The engine runs the deployment's pull step (``set_working_directory``)
    itself.
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


def _with_our_command(template: dict[str, Any]) -> dict[str, Any] | None:
    """``template`` with :func:`flow_run_command` as its default command, or None to leave it as it is.

    None when it already has it, or when its command is not ours to change: one someone configured (anything but
    Prefect's none or an engine command of another interpreter) is kept.
    """
    command = template.get("variables", {}).get("properties", {}).get("command")
    if not isinstance(command, dict):
        return None
    current = command.get("default")
    ours = flow_run_command()
    if current == ours or not (
        current is None or (isinstance(current, str) and current.endswith(" -m prefect.engine"))
    ):
        return None
    changed = copy.deepcopy(template)
    changed["variables"]["properties"]["command"]["default"] = ours
    return changed


def ensure_work_pool(settings: Settings) -> Literal["created", "updated", "exists"]:
    """Create the ``process`` work pool named by ``settings.work_pool`` unless it exists.

    An existing pool gets :func:`flow_run_command` as its default command when it has none (a pool made by an older
    vodflow) or another interpreter's engine command; the rest of its template, and a command someone set, are
    kept. Returns what it did.
    """
    with temporary_environ(prefect_env(settings)):
        from prefect.client.orchestration import SyncPrefectClient
        from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
        from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

        with SyncPrefectClient(api=settings.prefect_api_url, **prefect_client_credentials()) as client:
            try:
                pool = client.read_work_pool(settings.work_pool)
            except ObjectNotFound:
                pass
            else:
                changed = _with_our_command(pool.base_job_template) if pool.type == WORK_POOL_TYPE else None
                if changed is None:
                    return "exists"
                client.update_work_pool(settings.work_pool, WorkPoolUpdate(base_job_template=changed))
                return "updated"
            try:
                client.create_work_pool(
                    WorkPoolCreate(
                        name=settings.work_pool, type=WORK_POOL_TYPE, base_job_template=process_job_template()
                    )
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
