"""A small static server for the published dbt docs: ``python -m vodflow.stack.docs_server [--host H] [--port P]``.

Why not ``dbt docs serve``: it serves the whole target folder from a changed working directory, opens a browser,
and cannot answer before the docs exist. This one serves only the published site (``Settings.dbt_docs_dir``,
see :mod:`vodflow.dbt.docs`), never lists a folder, answers ``/healthz`` for the stack's health check, and shows
a page saying how to generate the docs while there are none yet, so the stack can start it before the first
build. It binds loopback by default (``VODFLOW_HOST``) and stops cleanly on SIGINT and SIGTERM.

It also serves the Data Health Check reports (``<data dir>/reports``, written by the ``health-check`` flow) under
``/health/``: ``/health/`` is the latest, ``/health/health-<day>.html`` a given day's. Only those names are
answered, so nothing else in the data folder can be read through it.

It lives in ``vodflow.stack``, not ``vodflow.dbt``: importing the latter loads dbt and prefect-dbt (seconds and
150 MB), which a file server does not need.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from vodflow.settings import get_settings

logger = logging.getLogger("vodflow.docs")

HEALTH_PATH = "/healthz"
REPORTS_PREFIX = "/health/"
_REPORT_NAME = re.compile(r"^health-(latest|\d{4}-\d{2}-\d{2})\.html$")

PLACEHOLDER = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vodflow dbt docs</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>No dbt docs yet</h1>
<p>Run <code>vodflow docs --no-serve</code> to generate them (the database must be up), then reload this page.</p>
<p><code>make demo</code> generates them after the pipeline's first runs.</p>
</body></html>
"""

NO_REPORT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vodflow health report</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>No health report yet</h1>
<p>Run <code>vodflow health</code> (or the <code>health-check</code> deployment), then reload this page.</p>
</body></html>
"""


class DocsRequestHandler(SimpleHTTPRequestHandler):
    """Serves files of one folder (``directory``); no listings, a placeholder index, quiet logs."""

    server_version = "vodflow-docs"

    def __init__(self, *args: Any, reports: Path | None = None, **kwargs: Any) -> None:
        self.reports = reports
        super().__init__(*args, **kwargs)

    def send_head(self) -> Any:
        """Answer ``/healthz``, the health reports and a missing index ourselves; the rest as plain static files."""
        path = urlsplit(self.path).path
        if path == HEALTH_PATH:
            return self._send_bytes(b"ok\n", "text/plain; charset=utf-8")
        if path == REPORTS_PREFIX.rstrip("/"):
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", REPORTS_PREFIX)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if path.startswith(REPORTS_PREFIX):
            return self._send_report(path.removeprefix(REPORTS_PREFIX) or "health-latest.html")
        if path in ("/", "/index.html") and not (Path(self.directory) / "index.html").is_file():
            return self._send_bytes(PLACEHOLDER, "text/html; charset=utf-8")
        return super().send_head()

    def _send_report(self, name: str) -> io.BytesIO | None:
        """A report by its exact file name (no path, no other file); the latest's absence gets a hint page."""
        if self.reports is None or not _REPORT_NAME.match(name):
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return None
        try:
            body = (self.reports / name).read_bytes()
        except FileNotFoundError:
            if name == "health-latest.html":
                return self._send_bytes(NO_REPORT, "text/html; charset=utf-8")
            self.send_error(HTTPStatus.NOT_FOUND, "no report for that day")
            return None
        return self._send_bytes(body, "text/html; charset=utf-8")

    def _send_bytes(self, body: bytes, content_type: str) -> io.BytesIO:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # the placeholder must not outlive the first generation
        self.end_headers()
        return io.BytesIO(body)

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        """Never list a folder: only the site's files are meant to be read."""
        self.send_error(HTTPStatus.NOT_FOUND, "not found")

    def log_message(self, format: str, *args: Any) -> None:
        """Request lines go to the debug log, not stderr: a browser's requests would flood the stack's log."""
        logger.debug("%s - %s", self.address_string(), format % args)


class DocsServer(ThreadingHTTPServer):
    """The docs server, bound to ``host:port`` as soon as it is constructed (``port`` 0 picks a free one)."""

    daemon_threads = True  # a browser's keep-alive connection must not hold up a stop

    def __init__(self, host: str, port: int, folder: Path, reports: Path | None = None) -> None:
        self.folder = folder
        self.reports = reports if reports is not None else get_settings().data_dir / "reports"
        super().__init__((host, port), partial(DocsRequestHandler, directory=str(folder), reports=self.reports))

    @property
    def url(self) -> str:
        """The site's root URL."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class _Stop(Exception):
    """Raised by the SIGTERM handler to leave ``serve_forever`` the way Ctrl-C does."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def build_parser() -> argparse.ArgumentParser:
    """The command line, its defaults taken from the settings (``VODFLOW_HOST``, ``VODFLOW_DOCS_PORT``)."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m vodflow.stack.docs_server",
        description=(
            "Serve the published dbt docs (generate them with `vodflow docs --no-serve`); a placeholder page until "
            "they exist. GET /healthz answers ok. Stops on SIGINT or SIGTERM."
        ),
    )
    parser.add_argument("--host", default=settings.host, help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=settings.docs_port, help="port to bind (default: %(default)s)")
    parser.add_argument(
        "--dir", type=Path, default=settings.dbt_docs_dir, help="the folder to serve (default: %(default)s)"
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=settings.data_dir / "reports",
        help="the health reports served under /health/ (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; returns 0 on a clean stop, 2 if the server cannot bind."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = DocsServer(args.host, args.port, args.dir, args.reports_dir)
    except OSError as exc:
        logger.error("cannot start the docs server on %s:%s: %s", args.host, args.port, exc)
        return 2
    # Both signals explicitly: a process started with SIGINT ignored (a background job) inherits that.
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    logger.info("dbt docs server listening on %s (serving %s)", server.url, args.dir)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, _Stop) as exc:
        logger.info("dbt docs server stopping (%s)", exc or "SIGINT")
    finally:
        server.server_close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
