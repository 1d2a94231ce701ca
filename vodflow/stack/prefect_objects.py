"""Server-side Prefect objects the stack needs before the worker starts: the work pool and the dbt concurrency limit.

Both are created only when missing, so ``vodflow up`` can run any number of times. The Prefect client is imported
inside the functions (it costs about 1.5 s) and with this stack's ``PREFECT_*`` variables in the environment, so
importing it never creates or reads the user's own ``~/.prefect`` profile.
"""

from __future__ import annotations

from vodflow.envvars import temporary_environ
from vodflow.prefect_auth import prefect_client_credentials
from vodflow.settings import DBT_CONCURRENCY_LIMIT, Settings
from vodflow.stack.env import prefect_env

WORK_POOL_TYPE = "process"


def ensure_work_pool(settings: Settings) -> bool:
    """Create the ``process`` work pool named by ``settings.work_pool`` unless it exists. Returns whether created."""
    with temporary_environ(prefect_env(settings)):
        from prefect.client.orchestration import SyncPrefectClient
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
        from prefect.workers.process import ProcessWorker

        with SyncPrefectClient(api=settings.prefect_api_url, **prefect_client_credentials()) as client:
            try:
                client.read_work_pool(settings.work_pool)
                return False
            except ObjectNotFound:
                pass
            pool = WorkPoolCreate(
                name=settings.work_pool,
                type=WORK_POOL_TYPE,
                base_job_template=ProcessWorker.get_default_base_job_template(),
            )
            try:
                client.create_work_pool(pool)
            except ObjectAlreadyExists:  # another `up` won the race: same outcome
                return False
            return True


__all__ = ["DBT_CONCURRENCY_LIMIT", "ensure_concurrency_limit", "ensure_work_pool"]


def ensure_concurrency_limit(settings: Settings) -> bool:
    """Create the dbt concurrency limit on this stack's server unless it exists. Returns whether created."""
    with temporary_environ(prefect_env(settings)):
        from vodflow.dbt import ensure_dbt_concurrency_limit

        return ensure_dbt_concurrency_limit()
