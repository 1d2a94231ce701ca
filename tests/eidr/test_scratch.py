"""The batch command's scratch registry: a private schema beside a running database, else a throwaway server."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.eidr.helpers import record, write_jsonl
from vodflow.db import embedded
from vodflow.eidr.load import load_registry
from vodflow.eidr.scratch import scratch_registry
from vodflow.net import port_is_free
from vodflow.settings import get_settings

pytestmark = pytest.mark.timeout(120)


def test_a_private_schema_when_a_database_runs(db, tmp_path):
    with scratch_registry() as scratch:
        assert not scratch.throwaway and scratch.table.startswith("eidr_batch_")
        registry = write_jsonl(tmp_path / "r.jsonl", [record("a", "A")])
        assert load_registry(scratch.engine, registry, table=scratch.table).added == 1
        schema = scratch.table.split(".")[0]
    with scratch.engine.connect() as conn:
        assert conn.execute(text("select count(*) from pg_namespace where nspname = :s"), {"s": schema}).scalar() == 0
        assert conn.execute(text("select count(*) from raw.eidr_registry")).scalar() == 0  # raw is untouched


def test_a_throwaway_server_when_none_runs(tmp_path):
    # Not under tmp_path: the server's own user must be able to traverse to its folder (see tests/conftest.py).
    folder = Path(tempfile.mkdtemp(prefix="vodflow-test-scratch-"))
    try:
        settings = dataclasses.replace(get_settings(), data_dir=folder, database_url=None)
        with scratch_registry(settings) as scratch:
            assert scratch.throwaway and scratch.table == "raw.eidr_registry"
            registry = write_jsonl(tmp_path / "r.jsonl", [record("a", "A")])
            assert load_registry(scratch.engine, registry, table=scratch.table).added == 1
            port = scratch.engine.url.port
        assert port is not None and port_is_free(settings.host, port)  # the server is gone
        assert embedded.running_pid(settings) is None  # and nothing was started in the caller's data folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
