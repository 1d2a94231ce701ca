"""prefect.yaml as a whole: every entrypoint loads, and the deployments the docs promise are there."""

from __future__ import annotations

import yaml
from prefect.flows import load_flow_from_entrypoint

from vodflow.settings import PROJECT_ROOT

DEPLOYMENTS = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"]


def test_every_entrypoint_loads_a_flow_named_like_its_deployment() -> None:
    for deployment in DEPLOYMENTS:
        flow = load_flow_from_entrypoint(str(PROJECT_ROOT / deployment["entrypoint"]))
        assert flow.name == deployment["name"], deployment["entrypoint"]


def test_the_promised_deployments_exist_with_tags() -> None:
    names = {d["name"] for d in DEPLOYMENTS}
    assert {"ingest-lumina", "ingest-atlas", "ingest-harbor", "ingest-meridian", "ingest-events"} <= names
    assert {"transform", "backfill", "anomaly-check", "health-check"} <= names
    for deployment in DEPLOYMENTS:
        assert "vodflow" in deployment["tags"], deployment["name"]
        assert deployment["work_pool"]["name"] == "{{ $VODFLOW_WORK_POOL }}"


def test_api_providers_admit_a_backfill_beside_the_live_schedule() -> None:
    from vodflow.orchestration.windows import MAX_CONCURRENCY, MAX_WINDOW

    by_name = {d["name"]: d for d in DEPLOYMENTS}
    for provider in MAX_WINDOW:
        limit = by_name[f"ingest-{provider}"].get("concurrency_limit")
        if limit is not None:  # meridian has none: runs claim files, and its API loads take the provider's lock
            assert limit == {"limit": MAX_CONCURRENCY, "collision_strategy": "ENQUEUE"}, provider
