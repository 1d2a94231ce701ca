"""The sandbox HTTP server: provider APIs, fault injection and admin endpoints on ``http.server``.

stdlib only (``ThreadingHTTPServer``, HTTP/1.1 keep-alive) so that tests and the local stack get a real socket
with real failure modes (resets, slow answers, truncated bodies) and no extra dependency.

Endpoints (see ``README.md`` in this package):

* ``GET /healthz``
* ``GET /lumina/v1/titles?updated_since=&updated_until=&page=&page_size=``
* ``POST /admin/publish``, ``GET|POST|DELETE /admin/faults``, ``GET /admin/requests``, ``GET /admin/bad-items``,
  ``POST /admin/reset``
"""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vodflow.sandbox.catalogue import LUMINA_DEFAULT_SIZE
from vodflow.sandbox.faults import HTTP_DATE, Fault, FaultKind, FaultQueue, parse_fault
from vodflow.sandbox.lumina import malform
from vodflow.sandbox.params import page_hint, parse_titles_query
from vodflow.sandbox.store import LuminaStore, PublishError

logger = logging.getLogger(__name__)

_JSON = "application/json; charset=utf-8"
_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>lumina - scheduled maintenance</title></head>"
    b"<body><h1>We'll be right back</h1><p>The catalogue API is under maintenance.</p></body></html>\n"
)
_MAX_BODY = 1 << 20
_POLL_INTERVAL_S = 0.05  # how soon serve_forever notices stop(); the stdlib's 0.5 s would slow every test teardown


class HttpError(Exception):
    """An error answered as ``{"error": message, "status": status}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestLog:
    """Every provider request since the last reset, for tests that count attempts.

    An entry is written when the request arrives (``at`` is the arrival time) and completed with its status when
    it is answered, so an attempt that is still sleeping in a ``slow`` fault, or that the client abandoned, is
    already counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def start(self, provider: str, path: str, query: str) -> dict[str, Any]:
        """Record an arriving request (status ``None`` until answered); returns the entry for :meth:`finish`."""
        entry = {
            "provider": provider,
            "path": path,
            "query": dict(parse_qsl(query, keep_blank_values=True)),
            "status": None,
            "fault": None,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def finish(self, entry: dict[str, Any], status: int | None, fault: FaultKind | None) -> None:
        """Complete an entry; ``status`` stays ``None`` when the connection was reset without an answer."""
        with self._lock:  # after a reset the entry is no longer listed, and updating it is harmless
            entry.update(status=status, fault=None if fault is None else fault.value)

    def entries(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Entries in order of arrival, optionally for one provider."""
        with self._lock:
            return [dict(e) for e in self._entries if provider is None or e["provider"] == provider]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


class Sandbox:
    """The sandbox's state behind the HTTP layer: provider stores, the fault queue and the request log."""

    def __init__(
        self,
        state_dir: Path | None = None,
        lumina_size: int = LUMINA_DEFAULT_SIZE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.lumina = LuminaStore(lumina_size, None if state_dir is None else Path(state_dir), clock)
        self.providers: dict[str, LuminaStore] = {"lumina": self.lumina}
        self.faults = FaultQueue()
        self.requests = RequestLog()

    def reset(self) -> None:
        """Initial state: every provider's catalogue, no faults, an empty request log."""
        for store in self.providers.values():
            store.reset()
        self.faults.clear()
        self.requests.clear()


class _HTTPServer(ThreadingHTTPServer):
    """Threading server that knows its open connections, so that ``stop`` can close idle keep-alive ones."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open client connection (idle keep-alive ones would otherwise outlive the server)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: without this, 40 ms delayed ACKs
    server_version = "vodflow-sandbox/1"
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer
    sent_status: int | None = None  # what was answered, for the request log (None: nothing, e.g. a reset)
    body_pending = False  # a request body the route did not read

    # -- plumbing ----------------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        """Route http.server's access log to logging (debug) instead of stderr."""
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self._dispatch("DELETE")

    def _send(self, status: int, body: bytes, content_type: str = _JSON, headers: dict[str, str] | None = None) -> None:
        self.sent_status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), headers=headers)

    def _send_error_json(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": message, "status": status}, headers)

    def _content_length(self) -> int:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise HttpError(400, "invalid Content-Length") from None
        if not 0 <= length <= _MAX_BODY:
            raise HttpError(413, "request body too large")
        return length

    def _body(self) -> dict[str, Any]:
        length = self._content_length()
        raw = self.rfile.read(length) if length else b""
        self.body_pending = False
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise HttpError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HttpError(400, "request body must be a JSON object")
        return body

    def _provider(self, name: Any, required: bool = True) -> str | None:
        if name is None and not required:
            return None
        if name not in self.server.sandbox.providers:
            raise HttpError(400, f"provider must be one of {sorted(self.server.sandbox.providers)}")
        return str(name)

    def _dispatch(self, method: str) -> None:
        self.sent_status = None
        self.body_pending = bool(self.headers.get("Content-Length", "0").strip() not in ("", "0"))
        url = urlsplit(self.path)
        try:
            provider = url.path.split("/")[1] if url.path.count("/") > 1 else ""
            if provider in self.server.sandbox.providers:
                self._provider_request(method, provider, url.path, url.query)
                return
            route = _ADMIN_ROUTES.get((method, url.path))
            if route is None:
                known = any(path == url.path for _, path in _ADMIN_ROUTES)
                raise HttpError(405 if known else 404, f"no route for {method} {url.path}")
            route(self, url.query)
        except HttpError as exc:
            self._send_error_json(exc.status, exc.message)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away during %s %s", method, self.path)
            self.close_connection = True
        except Exception:
            logger.exception("sandbox failed on %s %s", method, self.path)
            self._send_error_json(500, "sandbox internal error")
        finally:
            if self.body_pending:  # an unread request body would be parsed as the next request: drop the line
                self.close_connection = True

    # -- provider API ------------------------------------------------------------------------------------------

    def _provider_request(self, method: str, provider: str, path: str, query: str) -> None:
        fault = None
        entry = self.server.sandbox.requests.start(provider, path, query)
        try:
            if (method, path) != ("GET", f"/{provider}/v1/titles"):
                raise HttpError(404, f"no route for {method} {path}")
            fault = self.server.sandbox.faults.take(provider, page_hint(query))
            if fault is None or not self._play_fault(fault):
                self._titles(provider, query, fault)
        except HttpError as exc:
            self._send_error_json(exc.status, exc.message)
        finally:
            self.server.sandbox.requests.finish(entry, self.sent_status, None if fault is None else fault.kind)

    def _play_fault(self, fault: Fault) -> bool:
        """Answer (or not) in place of the provider; ``False`` means "go on and answer normally"."""
        kind = fault.kind
        if kind is FaultKind.SLOW:
            time.sleep(fault.delay_s)
            return False
        if kind in (FaultKind.TRUNCATED, FaultKind.MALFORMED_ROWS):
            return False
        if kind is FaultKind.RESET:
            self._reset_connection()
        elif kind is FaultKind.HTML:
            self._send(200, _HTML_PAGE, "text/html; charset=utf-8")
        elif kind is FaultKind.TOO_MANY_REQUESTS:
            self._send_error_json(429, "rate limit exceeded", {"Retry-After": _retry_after(fault.retry_after)})
        else:
            headers = {} if fault.retry_after is None else {"Retry-After": _retry_after(fault.retry_after)}
            status = 503 if kind is FaultKind.UNAVAILABLE else 500
            self._send_error_json(status, "service unavailable" if status == 503 else "internal server error", headers)
        return True

    def _reset_connection(self) -> None:
        # SO_LINGER 0 turns close() into a TCP RST; closing here (not in shutdown_request) avoids a FIN first.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _titles(self, provider: str, query: str, fault: Fault | None) -> None:
        try:
            params = parse_titles_query(query)
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        items, more = self.server.sandbox.providers[provider].query(
            params.updated_since, params.updated_until, params.page, params.page_size
        )
        if fault is not None and fault.kind is FaultKind.MALFORMED_ROWS:
            items = malform(items)
        page = {
            "items": items,
            "page": params.page,
            "page_size": params.page_size,
            "next_page": params.page + 1 if more else None,
        }
        body = json.dumps(page, ensure_ascii=False).encode()
        if fault is not None and fault.kind is FaultKind.TRUNCATED:
            body = body[: len(body) // 2]
        self._send(200, body)

    # -- admin -------------------------------------------------------------------------------------------------

    def _healthz(self, query: str) -> None:
        self._send_json(200, {"status": "ok"})

    def _publish(self, query: str) -> None:
        body = self._body()
        provider = self._provider(body.get("provider"))
        counts = {name: body.get(name, 0) for name in ("new", "changed")}
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise HttpError(400, f"{name} must be an integer >= 0")
        try:
            result = self.server.sandbox.providers[str(provider)].publish(counts["new"], counts["changed"])
        except PublishError as exc:
            raise HttpError(409, str(exc)) from None
        self._send_json(200, {"new": result.new, "changed": result.changed})

    def _add_fault(self, query: str) -> None:
        try:
            fault = parse_fault(self._body(), self.server.sandbox.providers)
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        self._send_json(201, self.server.sandbox.faults.add(fault).to_json())

    def _list_faults(self, query: str) -> None:
        self._send_json(200, [fault.to_json() for fault in self.server.sandbox.faults.pending()])

    def _clear_faults(self, query: str) -> None:
        self._body()
        self._send_json(200, {"cleared": self.server.sandbox.faults.clear()})

    def _requests(self, query: str) -> None:
        provider = self._provider(dict(parse_qsl(query)).get("provider"), required=False)
        self._send_json(200, self.server.sandbox.requests.entries(provider))

    def _bad_items(self, query: str) -> None:
        provider = self._provider(dict(parse_qsl(query)).get("provider", "lumina"))
        store = self.server.sandbox.providers[str(provider)]
        self._send_json(200, [bad.to_json() for bad in store.bad_items()])

    def _reset(self, query: str) -> None:
        self._body()
        self.server.sandbox.reset()
        self._send_json(200, {"status": "reset"})


def _retry_after(value: int | str | None) -> str:
    if value == HTTP_DATE:
        return email.utils.formatdate(round(time.time()) + 2, usegmt=True)
    return str(1 if value is None else value)


_ADMIN_ROUTES: dict[tuple[str, str], Callable[[_Handler, str], None]] = {
    ("GET", "/healthz"): _Handler._healthz,
    ("POST", "/admin/publish"): _Handler._publish,
    ("GET", "/admin/faults"): _Handler._list_faults,
    ("POST", "/admin/faults"): _Handler._add_fault,
    ("DELETE", "/admin/faults"): _Handler._clear_faults,
    ("GET", "/admin/requests"): _Handler._requests,
    ("GET", "/admin/bad-items"): _Handler._bad_items,
    ("POST", "/admin/reset"): _Handler._reset,
}


class SandboxServer:
    """An in-process sandbox on a real socket: for tests (background thread) and the CLI (foreground).

    The socket is bound on construction, so :attr:`url` is known (also with ``port=0``) before :meth:`start`.

    Example:
        >>> with SandboxServer(port=0, lumina_size=200) as sandbox:  # doctest: +SKIP
        ...     httpx.get(f"{sandbox.url}/lumina/v1/titles").json()["items"]
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | str | None = None,
        lumina_size: int = LUMINA_DEFAULT_SIZE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sandbox = Sandbox(None if state_dir is None else Path(state_dir), lumina_size, clock)
        self._httpd = _HTTPServer((host, port), self.sandbox)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with ``port=0``)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        """Serve in a background daemon thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(_POLL_INTERVAL_S,), name="vodflow-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` is called from another thread or an exception."""
        try:
            self._httpd.serve_forever(_POLL_INTERVAL_S)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, close open connections and the listening socket; safe to call twice."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
