"""Where a secret could end up, read back: files, the Prefect API's records, the Slack inbox, the database.

Every reader yields ``(where, text)`` pairs; :func:`findings` says which of them hold the needle. The readers
know nothing about canaries, so the same scan that must find nothing in the records must find the secret in the
one place it belongs (the password file): a scan that cannot find anything proves nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

Source = tuple[str, str]

#: Folders of the project that hold no output of a run (the interpreter's packages, git's objects).
_PROJECT_SKIP = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def files(root: Path, *, skip: Iterable[Path] = (), newer_than: float | None = None) -> Iterator[Source]:
    """Every file under ``root`` (bytes decoded leniently), except ``skip`` (files or folders).

    Args:
        root: the folder to walk.
        skip: files or folders not to read.
        newer_than: only files modified at or after this time (epoch seconds).
    """
    skipped = {path.resolve() for path in skip}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if (here / d).resolve() not in skipped and d not in _PROJECT_SKIP]
        for name in names:
            path = here / name
            if path.resolve() in skipped or not path.is_file():
                continue
            try:
                if newer_than is not None and path.stat().st_mtime < newer_than:
                    continue
                data = path.read_bytes()
            except OSError:  # removed while we walked (a log rotated, a temporary file)
                continue
            yield str(path), data.decode("utf-8", errors="replace")


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    response = client.post(path, json=body)
    response.raise_for_status()
    return response.json()


def _paged(client: httpx.Client, path: str, body: dict[str, Any] | None = None, page: int = 200) -> Iterator[Any]:
    offset = 0
    while True:
        rows = _post(client, path, {**(body or {}), "limit": page, "offset": offset})
        yield from rows
        if len(rows) < page:
            return
        offset += page


def _events(client: httpx.Client) -> Iterator[Any]:
    body = _post(client, "/events/filter", {"limit": 50})
    while True:
        yield from body["events"]
        if not body.get("next_page"):
            return
        response = client.get(body["next_page"])
        response.raise_for_status()
        body = response.json()


def prefect_records(api_url: str, headers: dict[str, str]) -> Iterator[Source]:
    """Every record a person or a script can read from the Prefect API, secrets left hidden (the default).

    Flow runs (parameters, job variables, state messages), task runs, logs, artifacts, variables, block
    documents, deployments, work pools with their queues and workers, automations, concurrency limits, events.
    ``headers`` carry the server's credentials.
    """
    with httpx.Client(base_url=api_url, headers=headers, timeout=60, trust_env=False) as client:
        collections = {
            "flow run": "/flow_runs/filter",
            "task run": "/task_runs/filter",
            "log": "/logs/filter",
            "artifact": "/artifacts/filter",
            "variable": "/variables/filter",
            "deployment": "/deployments/filter",
            "flow": "/flows/filter",
            "automation": "/automations/filter",
            "concurrency limit": "/v2/concurrency_limits/filter",
        }
        for kind, path in collections.items():
            for row in _paged(client, path):
                yield f"prefect {kind} {row.get('id', '')}", json.dumps(row)
        for row in _post(client, "/block_documents/filter", {"include_secrets": False}):
            yield f"prefect block document {row.get('name')}", json.dumps(row)
        for pool in _post(client, "/work_pools/filter", {}):
            yield f"prefect work pool {pool['name']}", json.dumps(pool)
            for kind in ("queues", "workers"):
                for row in _post(client, f"/work_pools/{pool['name']}/{kind}/filter", {}):
                    yield f"prefect work pool {pool['name']} {kind}", json.dumps(row)
        for event in _events(client):
            yield f"prefect event {event['event']} {event['id']}", json.dumps(event)


def block_documents_with_secrets(api_url: str, headers: dict[str, str]) -> str:
    """The block documents with their secrets shown: the control that the blocks really hold the canaries."""
    with httpx.Client(base_url=api_url, headers=headers, timeout=60, trust_env=False) as client:
        return json.dumps(_post(client, "/block_documents/filter", {"include_secrets": True}))


def http_text(url: str) -> Source:
    """A page as served (the health report at the docs server, the inbox)."""
    response = httpx.get(url, timeout=30, trust_env=False, follow_redirects=True)
    response.raise_for_status()
    return f"GET {url}", response.text


def ops_tables(libpq_uri: str) -> Iterator[Source]:
    """Every row of the ``ops`` schema (load audit with its error texts, quarantine, cursors, verdicts) as JSON."""
    with psycopg.connect(libpq_uri, autocommit=True, connect_timeout=10) as conn:
        tables = conn.execute("select tablename from pg_tables where schemaname = 'ops' order by 1").fetchall()
        for (table,) in tables:
            rows = conn.execute(f'select row_to_json(t)::text from ops."{table}" t').fetchall()
            yield f"ops.{table}", "\n".join(row for (row,) in rows)


def database_tables(libpq_uri: str, label: str) -> Iterator[Source]:
    """Every row of every table in the database's ``public`` schema as JSON (the Prefect server's own database)."""
    with psycopg.connect(libpq_uri, autocommit=True, connect_timeout=10) as conn:
        tables = conn.execute("select tablename from pg_tables where schemaname = 'public' order by 1").fetchall()
        for (table,) in tables:
            rows = conn.execute(f'select row_to_json(t)::text from public."{table}" t').fetchall()
            yield f"{label}.{table}", "\n".join(row for (row,) in rows)


def command_lines(pids: Iterable[int]) -> Iterator[Source]:
    """The command line of each process and its children: any user of the machine can read them with ``ps``."""
    for pid in pids:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in tree:
            try:
                yield f"command line of pid {proc.pid}", " ".join(proc.cmdline())
            except psutil.Error:
                continue


def plant_log(api_url: str, headers: dict[str, str], message: str) -> None:
    """Write one log record to the server: the control that the scan of the Prefect records can find anything."""
    record = {"name": "vodflow.security-test", "level": 20, "message": message, "timestamp": _now()}
    with httpx.Client(base_url=api_url, headers=headers, timeout=30, trust_env=False) as client:
        client.post("/logs/", json=[record]).raise_for_status()


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def findings(needles: Iterable[str], sources: Iterable[Source], context: int = 60) -> list[str]:
    """Each source that holds one of ``needles``, with the text around it (the needle shown as ``<CANARY>``)."""
    needles = list(needles)
    found = []
    for where, text in sources:
        for needle in needles:
            at = text.find(needle)
            if at >= 0:
                snippet = text[max(0, at - context) : at + len(needle) + context].replace(needle, "<CANARY>")
                found.append(f"{where}: …{snippet!r}…")
                break
    return found
