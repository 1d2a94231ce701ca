"""Fixtures for the file providers: drop folders of their own, a real PostgreSQL and a real Prefect server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from vodflow.dbt import ensure_dbt_concurrency_limit
from vodflow.settings import Settings


@dataclass(frozen=True)
class Drops:
    """This test's drop folders (what VODFLOW_<PROVIDER>_DROP_DIR point at)."""

    harbor: Path
    meridian: Path


@pytest.fixture
def drops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Drops:
    folders = Drops(tmp_path / "drops" / "harbor", tmp_path / "drops" / "meridian")
    for provider, folder in (("HARBOR", folders.harbor), ("MERIDIAN", folders.meridian)):
        folder.mkdir(parents=True)
        monkeypatch.setenv(f"VODFLOW_{provider}_DROP_DIR", str(folder))
    return folders


@pytest.fixture
def stack(db: Engine, prefect_server: None, postgres: Settings) -> Engine:
    ensure_dbt_concurrency_limit()
    return db
