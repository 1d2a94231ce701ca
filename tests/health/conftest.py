"""One seeded warehouse for the health report's tests: known raw rows, then a real dbt build of every model."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from tests.conftest import DBT_SCHEMAS, _truncate
from tests.dbt.conftest import run_dbt
from tests.health.seed import Days, seed
from vodflow.db.engine import get_engine
from vodflow.settings import Settings


@pytest.fixture(scope="package")
def history_days() -> Days:
    """The day the history is laid out from, fixed once for the package (see :class:`Days`)."""
    return Days.from_now()


@pytest.fixture(scope="package")
def warehouse_with_history(postgres: Settings, history_days: Days) -> Engine:
    """Raw and ops rows from :mod:`tests.health.seed`, built into the marts by ``dbt build``.

    dbt writes its ``run_results.json`` where the pipeline's builds do (``Settings.dbt_target_dir``), so the
    report reads a real build's results.
    """
    engine = get_engine()
    _truncate(engine)
    with engine.begin() as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(text(f"drop schema if exists {schema} cascade"))
    seed(engine, history_days)
    built = run_dbt(["build", "--exclude-resource-type", "unit_test"], postgres.dbt_target_dir.parent, timeout=300)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-2000:]
    return engine
