"""A flow run's process pays for what its flow module imports: dbt (about 2 s) only when the run builds."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["flows.ingest", "flows.drops", "flows.supply_chain", "flows.backfill"])
def test_loading_an_ingestion_flow_does_not_import_dbt(module: str) -> None:
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'dbt', 'prefect_dbt'}}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_the_dbt_layer_still_loads_on_first_use() -> None:
    code = "import vodflow.dbt as d; print(d.build.__module__, d.dbt_env.__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["vodflow.dbt.runner", "vodflow.dbt.profile"]
