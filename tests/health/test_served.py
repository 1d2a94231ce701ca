"""The docs server serves the health reports under /health/, and nothing else from the data folder."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vodflow.net import free_port
from vodflow.stack.docs_server import NO_REPORT, DocsServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[DocsServer, Path]]:
    site, reports = tmp_path / "site", tmp_path / "reports"
    site.mkdir()
    reports.mkdir()
    (tmp_path / "secret.txt").write_text("not for the web")
    docs = DocsServer("127.0.0.1", free_port(), site, reports)
    thread = threading.Thread(target=docs.serve_forever, daemon=True)
    thread.start()
    yield docs, reports
    docs.shutdown()
    docs.server_close()
    thread.join(5)


def _get(docs: DocsServer, path: str) -> tuple[int, bytes, str | None]:
    host, port = docs.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=5)
    try:
        connection.request("GET", path)  # sent as written: no client-side clean-up of ../
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Location")
    finally:
        connection.close()


def test_health_reports_are_served(server: tuple[DocsServer, Path]) -> None:
    docs, reports = server
    assert _get(docs, "/health/") == (200, NO_REPORT, None)
    assert _get(docs, "/health")[::2] == (301, "/health/")
    (reports / "health-latest.html").write_text("<p>latest</p>")
    (reports / "health-2026-11-20.html").write_text("<p>the 20th</p>")
    assert _get(docs, "/health/")[:2] == (200, b"<p>latest</p>")
    assert _get(docs, "/health/health-2026-11-20.html")[:2] == (200, b"<p>the 20th</p>")
    assert _get(docs, "/health/health-2026-11-21.html")[0] == 404
    assert _get(docs, "/health/../secret.txt")[0] == 404
    assert _get(docs, "/health/%2e%2e/secret.txt")[0] == 404
    assert _get(docs, "/healthz")[:2] == (200, b"ok\n")
