"""dbt docs: generated on a real database after a build, published, lineage intact, served over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.conftest import DBT_SCHEMAS, _truncate
from vodflow.cli import app
from vodflow.db.engine import get_engine
from vodflow.db.urls import database_url
from vodflow.dbt import build
from vodflow.dbt.docs import SITE_FILES, DbtDocsError, docs_args, generate_docs
from vodflow.net import free_port
from vodflow.settings import Settings, get_settings
from vodflow.stack.docs_server import PLACEHOLDER, DocsServer
from vodflow.stack.health import http_ok


def _descendants(child_map: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for child in child_map.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


@pytest.fixture(scope="module")
def site(dbt_stack: Settings) -> Path:
    """One build and one docs generation for the module (each dbt invocation costs seconds).

    Cleans the database the way the ``db`` fixture does (empty raw tables, no dbt schemas); an empty build is
    enough: the lineage is in the manifest and the catalog lists every relation, with or without rows.
    """
    engine = get_engine()
    _truncate(engine)
    with engine.begin() as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(text(f"drop schema if exists {schema} cascade"))
    build()
    return generate_docs()


def test_generate_publishes_the_site(site: Path) -> None:
    settings = get_settings()
    assert site == settings.dbt_docs_dir
    for name in SITE_FILES:
        assert (site / name).is_file(), name
    # Only the site's files are published: dbt's compiled SQL and caches stay in the docs' own target folder.
    assert sorted(p.name for p in site.iterdir()) == sorted(SITE_FILES)
    assert (settings.dbt_docs_target_dir / "partial_parse.msgpack").exists()
    assert not (settings.dbt_target_dir / "catalog.json").exists()  # a build's target folder is left alone
    # The static page inlines the manifest, so it works opened from disk.
    assert '"MANIFEST.JSON INLINE DATA"' not in (site / "static_index.html").read_text()


def test_lineage_links_raw_sources_to_marts(site: Path) -> None:
    manifest = json.loads((site / "manifest.json").read_text())
    reached = _descendants(manifest["child_map"], "source.vodflow.lumina.assets")
    assert "model.vodflow.stg_lumina__assets" in reached
    assert "model.vodflow.dim_assets" in reached
    assert manifest["nodes"]["model.vodflow.dim_assets"]["description"]


def test_catalog_reads_the_built_marts(site: Path) -> None:
    catalog = json.loads((site / "catalog.json").read_text())
    assert not catalog.get("errors")
    dim_assets = catalog["nodes"]["model.vodflow.dim_assets"]
    assert dim_assets["metadata"]["schema"] == "marts"
    assert "eidr_id" in dim_assets["columns"]
    assert "source.vodflow.lumina.assets" in catalog["sources"]


Serve = Callable[[Path], DocsServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start docs servers on free ports in this process; all stopped after the test."""
    servers: list[DocsServer] = []

    def start(folder: Path) -> DocsServer:
        server = DocsServer("127.0.0.1", free_port(), folder)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5, trust_env=False)


def test_server_serves_the_docs(site: Path, serve: Serve) -> None:
    server = serve(site)
    index = get(server.url)
    assert index.status_code == 200
    assert index.text == (site / "index.html").read_text()
    manifest = get(f"{server.url}manifest.json?cb=1")  # dbt's page adds a cache-buster
    assert manifest.status_code == 200
    assert "model.vodflow.dim_assets" in manifest.json()["nodes"]
    assert get(f"{server.url}healthz").text == "ok\n"


def test_server_shows_a_placeholder_and_no_listings(tmp_path: Path, serve: Serve) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path.parent / "outside.txt").write_text("secret")
    server = serve(tmp_path)
    placeholder = get(server.url)
    assert placeholder.status_code == 200
    assert placeholder.content == PLACEHOLDER
    assert "vodflow docs --no-serve" in placeholder.text
    assert get(f"{server.url}sub/").status_code == 404
    assert get(f"{server.url}../outside.txt").status_code == 404
    assert get(f"{server.url}%2e%2e/outside.txt").status_code == 404


def test_a_dbt_failure_is_a_docs_error(dbt_stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "dbt_project.yml").write_text(
        "name: broken\nversion: '1.0'\nconfig-version: 2\nprofile: vodflow\nmodel-paths: [models]\n"
    )
    (project / "profiles.yml").write_text((get_settings().dbt_project_dir / "profiles.yml").read_text())
    (project / "models").mkdir()
    (project / "models" / "bad.sql").write_text("select {{ undefined_macro() }}\n")
    # Another data folder (nothing of the session's site may be touched), the same database.
    monkeypatch.setenv("DATABASE_URL", database_url().render_as_string(hide_password=False))
    monkeypatch.setenv("VODFLOW_DBT_PROJECT_DIR", str(project))
    monkeypatch.setenv("VODFLOW_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DbtDocsError) as raised:
        generate_docs()
    assert "undefined_macro" in str(raised.value)
    assert raised.value.command == docs_args(get_settings())
    assert not (tmp_path / "data" / "dbt-docs" / "site").exists()  # nothing published


def test_an_unreachable_database_fails_before_dbt(dbt_stack: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/vodflow")
    with pytest.raises(OperationalError):
        generate_docs()


runner = CliRunner()


def test_cli_no_serve_generates_and_prints_the_folder(site: Path) -> None:
    result = runner.invoke(app, ["docs", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "dbt docs generated in" in result.stdout
    assert "static_index.html" in result.stdout
    assert (site / "index.html").is_file()


def test_cli_port_taken_is_one_line_before_generating(dbt_stack: Settings, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        result = runner.invoke(app, ["docs", "--port", str(taken)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"vodflow: port {taken} on 127.0.0.1 is taken by another program: pass --port or set VODFLOW_DOCS_PORT"
    ]
    assert "generated" not in result.stdout


def test_cli_unreachable_database_is_one_line(dbt_stack: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/vodflow")
    result = runner.invoke(app, ["docs", "--no-serve"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0], result.stderr


def test_cli_serves_in_the_foreground_until_interrupted(site: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    port = free_port()
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vodflow", "docs", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while not http_ok(f"{url}healthz", timeout=1):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert get(f"{url}catalog.json").json()["nodes"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"dbt docs   {url}   (Ctrl-C to stop)" in out
    assert "docs server stopped" in out
