"""The dbt project on its own: it parses, its unit tests pass, and the profile reads vodflow's database URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.dbt.conftest import run_dbt
from vodflow.dbt import dbt_env


def _sources(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['source_name']}.{s['name']}": s for s in manifest["sources"].values()}


def test_dbt_parse_succeeds_without_a_database(tmp_path: Path) -> None:
    env = dbt_env(make_url("postgresql+psycopg://nobody:secret@127.0.0.1:1/nowhere"))
    result = run_dbt(["parse"], tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "target" / "manifest.json").exists()
    assert "Deprecat" not in result.stdout, result.stdout
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    marts = {node["name"]: node for node in models if node["fqn"][1:2] == ["marts"]}
    assert set(marts) == {
        "dim_assets",
        "fct_supply_chain",
        "fct_deliveries",
        "fct_ingest_runs",
        "metrics_daily",
        "fct_metric_evaluations",
    }
    for name, node in marts.items():
        # Every mart documented column by column, incremental, and under an enforced contract.
        assert node["description"].strip(), name
        assert node["columns"] and all(column["description"].strip() for column in node["columns"].values()), name
        assert node["config"]["materialized"] == "incremental" and node["config"]["contract"]["enforced"], name
    exposed = {ref for exposure in manifest["exposures"].values() for ref in exposure["depends_on"]["nodes"]}
    assert {f"model.vodflow.{name}" for name in marts} <= exposed
    # Every source table has a freshness rule or says why not (the quarantine and the matches have none).
    fresh = {name for name, source in _sources(manifest).items() if source["freshness"]["warn_after"]["count"]}
    assert fresh >= {"lumina.assets", "atlas.assets", "harbor.assets", "meridian.assets", "supply_chain.events"}


def test_dbt_build_with_unit_tests_passes_on_a_fresh_database(warehouse: Engine, tmp_path: Path) -> None:
    # What CI asks of the project: one `dbt build` (models, data tests and unit tests) on an empty database.
    # The pipeline's builds leave unit tests out (they test logic, not data); they run here and in
    # tests/dbt/test_analytics.py on a loaded database.
    result = run_dbt(["build"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " ERROR=0 " in result.stdout, result.stdout
    unit_tests = [line for line in result.stdout.splitlines() if " PASS " in line and "::" in line]
    assert len(unit_tests) == 6, result.stdout
