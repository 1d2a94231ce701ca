"""vodflow.dbt outside a flow: the profile's variables, the concurrency guard, secrets."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.dbt.conftest import InsertAssets, asset
from vodflow.db.urls import database_url
from vodflow.dbt import (
    CONCURRENCY_LIMIT_NAME,
    DbtBuildError,
    DbtBuildSummary,
    build,
    dbt_env,
    ensure_dbt_concurrency_limit,
)
from vodflow.dbt.runner import build_args, node_type_and_name
from vodflow.settings import get_settings


def test_dbt_env_maps_a_tcp_url() -> None:
    env = dbt_env(make_url("postgresql+psycopg://loader:s3cr%40t@db.example:6543/vodflow?sslmode=require"))
    assert env == {
        "VODFLOW_DBT_HOST": "db.example",
        "VODFLOW_DBT_PORT": "6543",
        "VODFLOW_DBT_USER": "loader",
        "DBT_ENV_SECRET_VODFLOW_DBT_PASSWORD": "s3cr@t",
        "VODFLOW_DBT_DBNAME": "vodflow",
        "VODFLOW_DBT_SSLMODE": "require",
    }


def test_dbt_env_maps_a_unix_socket_url_without_password() -> None:
    env = dbt_env(make_url("postgresql+psycopg://postgres@/vodflow?host=/run/postgresql"))
    assert env["VODFLOW_DBT_HOST"] == "/run/postgresql"
    assert env["VODFLOW_DBT_PORT"] == "5432"
    assert env["DBT_ENV_SECRET_VODFLOW_DBT_PASSWORD"] == ""
    assert "VODFLOW_DBT_SSLMODE" not in env


def test_dbt_env_needs_a_database_and_a_user() -> None:
    with pytest.raises(ValueError, match="no database"):
        dbt_env(make_url("postgresql+psycopg://u@h:5432"))
    with pytest.raises(ValueError, match="no user"):
        dbt_env(make_url("postgresql+psycopg://h:5432/db"))


def test_build_args_and_node_names() -> None:
    assert build_args(None, full_refresh=False, vars=None) == ["build", "--exclude-resource-type", "unit_test"]
    assert build_args(["source:lumina+"], full_refresh=True, vars={"lookback_minutes": "5"})[3:] == [
        "--select",
        "source:lumina+",
        "--full-refresh",
        "--vars",
        '{"lookback_minutes": "5"}',
    ]
    with pytest.raises(ValueError, match="not a dbt selector"):
        build_args(["--full-refresh"], full_refresh=False, vars=None)
    assert node_type_and_name("model.vodflow.dim_assets") == ("model", "dim_assets")
    assert node_type_and_name("test.vodflow.unique_dim_assets_asset_key.f6deb4a384") == (
        "test",
        "unique_dim_assets_asset_key",
    )
    assert node_type_and_name("source.vodflow.lumina.assets") == ("source", "lumina.assets")
    assert node_type_and_name("unit_test.vodflow.dim_assets.reads_x") == ("unit_test", "dim_assets.reads_x")


def test_ensure_concurrency_limit_is_idempotent(dbt_stack: object) -> None:
    assert ensure_dbt_concurrency_limit() is False  # the session fixture created it
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(CONCURRENCY_LIMIT_NAME)
    assert (limit.limit, limit.active) == (1, True)


def test_build_refuses_to_run_without_the_concurrency_limit(warehouse: Engine) -> None:
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(CONCURRENCY_LIMIT_NAME)
    try:
        with pytest.raises(Exception, match="must be created before acquiring slots"):
            build(["source:lumina+"])
    finally:
        assert ensure_dbt_concurrency_limit() is True


def test_builds_from_two_threads_do_not_overlap(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1"), asset("L2"))
    results: list[DbtBuildSummary | BaseException] = []

    def run() -> None:
        try:
            results.append(build(["source:lumina+"]))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(results) == 2
    assert all(isinstance(r, DbtBuildSummary) and r.success for r in results), results


def test_the_password_reaches_no_dbt_file(warehouse: Engine, insert_assets: InsertAssets) -> None:
    insert_assets(asset("L1"))
    build(["source:lumina+"])
    password = database_url().password
    assert password
    settings = get_settings()
    leaked = [
        path
        for folder in (settings.dbt_target_dir, settings.dbt_log_dir, settings.dbt_project_dir)
        for path in Path(folder).rglob("*")
        if path.is_file() and password.encode() in path.read_bytes()
    ]
    assert leaked == []
    assert all(password not in value for value in os.environ.values())


def test_unreachable_database_is_a_build_error(dbt_stack: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://postgres:canary-pw@127.0.0.1:{port}/vodflow")

    with pytest.raises(DbtBuildError) as raised:
        build(["source:lumina+"])

    summary = raised.value.summary
    assert not summary.success and not summary.nodes
    assert "Connection refused" in (summary.error or "") and "Connection refused" in str(raised.value)
    assert "canary-pw" not in str(raised.value) and "canary-pw" not in json.dumps(summary.to_dict())
