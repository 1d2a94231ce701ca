"""Environment variables that point Prefect (and the flows it runs) at the local stack."""

from __future__ import annotations

import os

from vodflow.settings import PROJECT_ROOT, Settings


def prefect_env(settings: Settings) -> dict[str, str]:
    """Prefect settings for talking to this stack's server, without touching the user's own Prefect profile."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": settings.prefect_api_url,
        "PREFECT_UI_URL": settings.prefect_ui_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_LOGGING_COLORS": "false",
        "DBT_USE_COLORS": "false",
    }


def vodflow_env(settings: Settings) -> dict[str, str]:
    """The ``VODFLOW_*`` variables a child process (worker, flow run) needs to find the same stack."""
    env = {
        "VODFLOW_DATA_DIR": str(settings.data_dir),
        "VODFLOW_HOST": settings.host,
        "VODFLOW_PG_PORT": str(settings.pg_port),
        "VODFLOW_PREFECT_PORT": str(settings.prefect_port),
        "VODFLOW_SANDBOX_PORT": str(settings.sandbox_port),
        "VODFLOW_DOCS_PORT": str(settings.docs_port),
        "VODFLOW_WORK_POOL": settings.work_pool,
        "VODFLOW_PROJECT_DIR": str(PROJECT_ROOT),
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return env


def child_env(settings: Settings) -> dict[str, str]:
    """The full environment for a child process of the stack."""
    return {**os.environ, **prefect_env(settings), **vodflow_env(settings)}
