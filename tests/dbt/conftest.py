"""Fixtures for the dbt layer: a database with raw rows written by SQL, a Prefect server with the dbt limit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from vodflow.db.urls import database_url
from vodflow.dbt import dbt_env, ensure_dbt_concurrency_limit
from vodflow.dbt.runner import DBT_RUNTIME_ENV
from vodflow.settings import Settings, get_settings

InsertAssets = Callable[..., None]
DBT = str(Path(sys.executable).with_name("dbt"))


def run_dbt(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The ``dbt`` command line on vodflow's project, as a person would run it, with its files under ``tmp_path``.

    ``env`` holds the profile's variables; by default those of the configured database (the tests' PostgreSQL).
    """
    project = get_settings().dbt_project_dir
    return subprocess.run(
        [
            DBT,
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env={**os.environ, **DBT_RUNTIME_ENV, **(dbt_env(database_url()) if env is None else env)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def dbt_stack(postgres: Settings, prefect_server: None) -> Settings:
    """PostgreSQL plus a Prefect server holding the ``vodflow-dbt`` concurrency limit."""
    ensure_dbt_concurrency_limit()
    return postgres


@pytest.fixture
def warehouse(db: Engine, dbt_stack: Settings) -> Engine:
    """Empty raw tables and no dbt schemas (the ``db`` fixture's promise): every test starts with a first build."""
    return db


def asset(provider_asset_id: str, **overrides: Any) -> dict[str, Any]:
    """A canonical lumina film row for raw.assets, loaded three hours ago unless overridden."""
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "provider": "lumina",
        "provider_asset_id": provider_asset_id,
        "asset_type": "movie",
        "title": f"Film {provider_asset_id}",
        "original_title": None,
        "parent_provider_asset_id": None,
        "release_year": 2001,
        "runtime_minutes": 101,
        "language": "en",
        "genres": ["Drama"],
        "rating": "PG",
        "eidr_id": None,
        "imdb_id": None,
        "provider_updated_at": now - timedelta(days=1),
        "extracted_at": now - timedelta(hours=3),
        "loaded_at": now - timedelta(hours=3),
    }
    row.update(overrides)
    return row


@pytest.fixture
def insert_assets(warehouse: Engine) -> InsertAssets:
    """Upsert rows into raw.assets the way the loader does (new load_id, row_hash, loaded_at)."""

    def insert(*rows: dict[str, Any]) -> None:
        load_id = str(uuid.uuid4())
        with warehouse.begin() as conn:
            for row in rows:
                params = {**row, "load_id": load_id, "payload": json.dumps({"id": row["provider_asset_id"]})}
                params["row_hash"] = hashlib.sha256(json.dumps(row, default=str, sort_keys=True).encode()).hexdigest()
                conn.execute(
                    text(
                        """
                        insert into raw.assets (
                            provider, provider_asset_id, asset_type, title, original_title,
                            parent_provider_asset_id, release_year, runtime_minutes, language, genres, rating,
                            eidr_id, imdb_id, provider_updated_at, payload, row_hash, load_id, extracted_at,
                            first_loaded_at, loaded_at
                        ) values (
                            :provider, :provider_asset_id, :asset_type, :title, :original_title,
                            :parent_provider_asset_id, :release_year, :runtime_minutes, :language, :genres, :rating,
                            :eidr_id, :imdb_id, :provider_updated_at, cast(:payload as jsonb), :row_hash, :load_id,
                            :extracted_at, :loaded_at, :loaded_at
                        )
                        on conflict (provider, provider_asset_id) do update set
                            asset_type = excluded.asset_type, title = excluded.title,
                            original_title = excluded.original_title, release_year = excluded.release_year,
                            runtime_minutes = excluded.runtime_minutes, language = excluded.language,
                            genres = excluded.genres, rating = excluded.rating, eidr_id = excluded.eidr_id,
                            imdb_id = excluded.imdb_id, provider_updated_at = excluded.provider_updated_at,
                            payload = excluded.payload, row_hash = excluded.row_hash, load_id = excluded.load_id,
                            extracted_at = excluded.extracted_at, loaded_at = excluded.loaded_at
                        """
                    ),
                    params,
                )

    return insert


def fetch(engine: Engine, sql: str) -> list[dict[str, Any]]:
    """Rows of a query as dicts."""
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql))]
