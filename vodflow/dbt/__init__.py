"""vodflow's dbt layer: run the ``dbt_models`` project in-process through prefect-dbt.

Public API: :func:`build`, :class:`DbtBuildSummary`, :class:`DbtBuildError`, :func:`dbt_env`,
:func:`ensure_dbt_concurrency_limit`, :func:`exclusive_dbt`.
"""

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
