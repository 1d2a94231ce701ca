"""vodflow's dbt layer: run the ``dbt_models`` project in-process through prefect-dbt.

Public API: :func:`build`, :class:`DbtBuildSummary`, :class:`DbtBuildError`, :func:`dbt_env`,
:func:`ensure_dbt_concurrency_limit`, :func:`exclusive_dbt`.

The names are loaded on first use: importing dbt and prefect-dbt costs about 2 s, and every flow run's process
imports ``vodflow.dbt.selection`` while many of them (backfill windows, runs with nothing new) never build.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vodflow.dbt.profile import dbt_env
    from vodflow.dbt.runner import (
        CONCURRENCY_LIMIT_NAME,
        DbtBuildError,
        DbtBuildSummary,
        DbtNodeResult,
        build,
        ensure_dbt_concurrency_limit,
        exclusive_dbt,
    )

_MODULE_OF = {
    "CONCURRENCY_LIMIT_NAME": "vodflow.dbt.runner",
    "DbtBuildError": "vodflow.dbt.runner",
    "DbtBuildSummary": "vodflow.dbt.runner",
    "DbtNodeResult": "vodflow.dbt.runner",
    "build": "vodflow.dbt.runner",
    "dbt_env": "vodflow.dbt.profile",
    "ensure_dbt_concurrency_limit": "vodflow.dbt.runner",
    "exclusive_dbt": "vodflow.dbt.runner",
}

__all__ = [
    "CONCURRENCY_LIMIT_NAME",
    "DbtBuildError",
    "DbtBuildSummary",
    "DbtNodeResult",
    "build",
    "dbt_env",
    "ensure_dbt_concurrency_limit",
    "exclusive_dbt",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_MODULE_OF[name]), name)
