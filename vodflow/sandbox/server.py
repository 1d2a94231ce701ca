"""The sandbox HTTP server: provider APIs, fault injection and admin endpoints on ``http.server``.

stdlib only (``ThreadingHTTPServer``, HTTP/1.1 keep-alive) so that tests and the local stack get a real socket
with real failure modes (resets, slow answers, truncated bodies) and no extra dependency.

Endpoints (see ``README.md`` in this package):

* ``GET /healthz``
* ``GET /lumina/v1/titles?updated_since=&updated_until=&page=&page_size=``
* ``GET /atlas/v2/catalog?modifiedSince=&pageToken=&limit=``
* ``GET /meridian/v1/packages?since=&page=&page_size=``, ``GET /meridian/v1/packages/{id}/{major}.{minor}.xml``
* ``GET /events/v1/events?since=&cursor=&limit=``
* ``POST /admin/publish``, ``GET|POST|DELETE /admin/faults``, ``GET /admin/requests``, ``GET /admin/bad-items``,
  ``POST /admin/reset``, ``POST /admin/events/days`` (live days of the events feed, a collapse)
* ``POST /inbox/slack``, ``GET /inbox``, ``GET /inbox.json``, ``DELETE /inbox``: the local Slack inbox
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from vodflow.sandbox import atlas, events, harbor, hostile, meridian
from vodflow.sandbox.atlas import ATLAS_DEFAULT_SIZE, AtlasStore
from vodflow.sandbox.catalogue import LUMINA_DEFAULT_SIZE
from vodflow.sandbox.events import EventsStore, Sizes
from vodflow.sandbox.faults import HTTP_DATE, Fault, FaultKind, FaultQueue, parse_fault
from vodflow.sandbox.harbor import HARBOR_DEFAULT_ROWS
from vodflow.sandbox.inbox import Inbox, render_html, slack_payload_problem
from vodflow.sandbox.live import DEFAULT_SHARE, Collapse
from vodflow.sandbox.lumina import malform
from vodflow.sandbox.meridian import MERIDIAN_DEFAULT_SIZE, MeridianStore
from vodflow.sandbox.oplog import ProviderStore, check_state_file
from vodflow.sandbox.params import (
    encode_token,
    page_hint,
    parse_atlas_query,
    parse_events_query,
    parse_packages_query,
    parse_titles_query,
    strict_params,
    token_page_hint,
)
from vodflow.sandbox.store import LuminaStore, PublishError

logger = logging.getLogger(__name__)

_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_XML = "application/xml; charset=utf-8"
_HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>{provider} - scheduled maintenance</title></head>"
    "<body><h1>We'll be right back</h1><p>The catalogue API is under maintenance.</p></body></html>\n"
)
FILE_PROVIDERS = ("harbor",)
"""Providers that deliver files, not an API: no faults, no publish; their bad items are listed all the same."""
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


class _Stores(Mapping[str, ProviderStore]):
    """Provider stores by name, each built on first use (lumina is built at once).

    Building atlas, meridian and events costs a second or two on a cold process; tests and flows that only use
    lumina should not pay for it. Their parameters and state files are checked at construction all the same.
    """

    def __init__(
        self,
        built: dict[str, ProviderStore],
        factories: dict[str, Callable[[], ProviderStore]],
        state_dir: Path | None,
    ) -> None:
        self._factories: dict[str, Callable[[], ProviderStore] | None] = {name: None for name in built} | factories
        self._state_dir = state_dir
        self._built = dict(built)
        self._lock = threading.RLock()

    def __getitem__(self, name: str) -> ProviderStore:
        with self._lock:
            if name not in self._built:
                factory = self._factories[name]
                if factory is None:  # pragma: no cover - every name without a factory is built
                    raise KeyError(name)
                self._built[name] = factory()
            return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in self._factories  # without building it (Mapping's default would)

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)

    def reset(self) -> None:
        """Reset built stores; forget the saved state of the others (the same thing, without building them)."""
        with self._lock:
            for name in self._factories:
                if name in self._built:
                    self._built[name].reset()
                elif self._state_dir is not None:
                    (self._state_dir / f"{name}.json").unlink(missing_ok=True)


class Sandbox:
    """The sandbox's state behind the HTTP layer: provider stores, the fault queue and the request log.

    ``providers`` holds every store served over HTTP, keyed by the provider name that faults, publish, bad items
    and the request log use: ``lumina``, ``atlas``, ``meridian`` and ``events`` (the supply-chain stream).
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        lumina_size: int = LUMINA_DEFAULT_SIZE,
        clock: Callable[[], datetime] | None = None,
        *,
        atlas_size: int = ATLAS_DEFAULT_SIZE,
        meridian_size: int = MERIDIAN_DEFAULT_SIZE,
        harbor_rows: int = HARBOR_DEFAULT_ROWS,
    ) -> None:
        directory = None if state_dir is None else Path(state_dir)
        sizes = Sizes(lumina_size, atlas_size, meridian_size, harbor_rows)
        # validate everything now, so that a bad size or state file fails the start, not a later request
        atlas.atlas_split(atlas_size)
        meridian.meridian_split(meridian_size)
        harbor.drop_films(harbor_rows)
        for name, params in (("atlas", {"size": atlas_size}), ("meridian", {"size": meridian_size})):
            check_state_file(directory, name, params)
        check_state_file(directory, "events", sizes.to_json())
        self.harbor_rows = harbor_rows
        self.lumina = LuminaStore(lumina_size, directory, clock)
        self.providers = _Stores(
            {"lumina": self.lumina},
            {
                "atlas": lambda: AtlasStore(atlas_size, directory, clock),
                "meridian": lambda: MeridianStore(meridian_size, directory, clock),
                "events": lambda: EventsStore(sizes, directory, clock),
            },
            directory,
        )
        self.faults = FaultQueue()
        self.requests = RequestLog()
        self.inbox = Inbox()

    @property
    def atlas(self) -> AtlasStore:
        """atlas's store (built on first use)."""
        return cast(AtlasStore, self.providers["atlas"])

    @property
    def meridian(self) -> MeridianStore:
        """meridian's store (built on first use)."""
        return cast(MeridianStore, self.providers["meridian"])

    @property
    def events(self) -> EventsStore:
        """The supply-chain events' store (built on first use)."""
        return cast(EventsStore, self.providers["events"])

    def warm_up(self) -> None:
        """Build every store now (the CLI does it in the background, so that first requests are not slow)."""
        for name in self.providers:
            self.providers[name]

    def reset(self) -> None:
        """Initial state: every provider's catalogue, no faults, an empty request log.

        The inbox is kept: it holds what the stack's alerts said, not provider state (``DELETE /inbox`` empties it).
        """
        self.providers.reset()
        self.faults.clear()
        self.requests.clear()


@dataclass(frozen=True)
class Answer:
    """A provider API's answer before faults that alter bodies (``truncated``) are played."""

    body: bytes
    content_type: str = _JSON
    headers: Mapping[str, str] = field(default_factory=dict)


#: Faults that rewrite a JSON answer's body (see ``hostile.py``).
_HOSTILE_BODIES: dict[FaultKind, Callable[[bytes], bytes]] = {
    FaultKind.HOSTILE_ROWS: hostile.hostile_rows,
    FaultKind.INVALID_UTF8: hostile.invalid_utf8,
    FaultKind.NESTING_BOMB: lambda _body: hostile.nesting_bomb(),
}


def _json_body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


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
    log_entry: dict[str, Any] | None = None  # the request-log entry of the provider request being answered
    log_fault: FaultKind | None = None

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

    def _send(
        self, status: int, body: bytes, content_type: str = _JSON, headers: Mapping[str, str] | None = None
    ) -> None:
        self.sent_status = status
        if self.log_entry is not None:  # logged before the answer leaves, so a client never sees it unlogged
            self.server.sandbox.requests.finish(self.log_entry, status, self.log_fault)
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

    def _provider(self, name: Any, required: bool = True, files_too: bool = False) -> str | None:
        if name is None and not required:
            return None
        known = [*self.server.sandbox.providers, *(FILE_PROVIDERS if files_too else ())]
        if name not in known:
            if name in FILE_PROVIDERS:
                raise HttpError(400, f"{name} delivers files, not an API: use vodflow.sandbox.harbor (see README)")
            raise HttpError(400, f"provider must be one of {sorted(known)}")
        return str(name)

    def _dispatch(self, method: str) -> None:
        self.sent_status = None
        self.log_entry = None
        self.log_fault = None
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
            if self.body_pending:  # an unread request body would be parsed as the next request
                self._drain_body()

    def _drain_body(self) -> None:
        """Read and drop the body a refused request left on the line, so the keep-alive connection stays in step.

        Only a body that cannot be read (too large, a malformed length, cut off) closes the connection. Closing it
        always, with no ``Connection: close`` in the answer already sent, raced the client's next request on the
        same connection ("Server disconnected without sending a response").
        """
        try:
            length = self._content_length()
            self.rfile.read(length)
            self.body_pending = False
        except (HttpError, OSError):
            self.close_connection = True

    # -- provider API ------------------------------------------------------------------------------------------

    def _provider_request(self, method: str, provider: str, path: str, query: str) -> None:
        fault = None
        entry = self.server.sandbox.requests.start(provider, path, query)
        self.log_entry = entry
        try:
            route, match = _provider_route(provider, method, path)
            fault = self.server.sandbox.faults.take(provider, route.page_hint(query))
            self.log_fault = None if fault is None else fault.kind
            if fault is not None:  # logged before it is played: a reset answers nothing the client could wait for
                self.server.sandbox.requests.finish(entry, None, fault.kind)
            if fault is not None and fault.kind is FaultKind.SHIFT:
                self._shift(query)
            if fault is None or not self._play_fault(fault, provider):
                malformed = fault is not None and fault.kind is FaultKind.MALFORMED_ROWS
                try:
                    answer = route.answer(self.server.sandbox, match, query, malformed)
                except ValueError as exc:
                    raise HttpError(400, str(exc)) from None
                body = answer.body
                if fault is not None and fault.kind is FaultKind.TRUNCATED:
                    body = body[: len(body) // 2]
                if fault is not None and fault.kind in _HOSTILE_BODIES and answer.content_type == _JSON:
                    body = _HOSTILE_BODIES[fault.kind](body)
                self._send(200, body, answer.content_type, answer.headers)
        except HttpError as exc:
            self._send_error_json(exc.status, exc.message)
        finally:
            self.log_entry = None
            self.server.sandbox.requests.finish(entry, self.sent_status, None if fault is None else fault.kind)

    def _play_fault(self, fault: Fault, provider: str) -> bool:
        """Answer (or not) in place of the provider; ``False`` means "go on and answer normally"."""
        kind = fault.kind
        if kind is FaultKind.SLOW:
            time.sleep(fault.delay_s)
            return False
        if kind in (FaultKind.TRUNCATED, FaultKind.MALFORMED_ROWS, FaultKind.SHIFT, *_HOSTILE_BODIES):
            return False
        if kind is FaultKind.RESET:
            self._reset_connection()
        elif kind is FaultKind.HTML:
            self._send(200, _HTML_PAGE.format(provider=provider).encode(), "text/html; charset=utf-8")
        elif kind is FaultKind.TOO_MANY_REQUESTS:
            self._send_error_json(429, "rate limit exceeded", {"Retry-After": _retry_after(fault.retry_after)})
        else:
            headers = {} if fault.retry_after is None else {"Retry-After": _retry_after(fault.retry_after)}
            status = 503 if kind is FaultKind.UNAVAILABLE else 500
            self._send_error_json(status, "service unavailable" if status == 503 else "internal server error", headers)
        return True

    def _shift(self, query: str) -> None:
        """Play a shift fault: update the lumina item just before the requested range (see ``FaultKind.SHIFT``)."""
        try:
            params = parse_titles_query(query)
        except ValueError:
            return  # the request is refused with its own 400 as it is answered
        self.server.sandbox.lumina.touch_before(
            params.updated_since, params.updated_until, params.page, params.page_size
        )

    def _reset_connection(self) -> None:
        # SO_LINGER 0 turns close() into a TCP RST; closing here (not in shutdown_request) avoids a FIN first.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

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
        params = dict(parse_qsl(query))
        provider = self._provider(params.get("provider", "lumina"), files_too=True)
        if provider == "harbor":  # a drop's bad rows depend on the drop: ?rows=&offset= as given to write_drop
            try:
                rows = int(params.get("rows", self.server.sandbox.harbor_rows))
                flaws = harbor.deliberately_bad(rows, int(params.get("offset", 0)))
            except ValueError as exc:
                raise HttpError(400, str(exc)) from None
            self._send_json(200, [bad.to_json() for bad in flaws])
            return
        store = self.server.sandbox.providers[str(provider)]
        self._send_json(200, [bad.to_json() for bad in store.bad_items()])

    def _reset(self, query: str) -> None:
        self._body()
        self.server.sandbox.reset()
        self._send_json(200, {"status": "reset"})

    def _events_days(self, query: str) -> None:
        body = self._body()
        unknown = sorted(set(body) - {"through", "collapse"})
        if unknown:
            raise HttpError(400, f"unknown field(s) {unknown}; known: through, collapse")
        try:
            through = None if body.get("through") is None else date.fromisoformat(str(body["through"]))
            collapse = _collapse(body.get("collapse"))
            result = self.server.sandbox.events.add_days(through, collapse)
        except PublishError as exc:  # a ValueError too: first
            raise HttpError(409, str(exc)) from None
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        self._send_json(200, result.to_json())

    # -- the local Slack inbox (vodflow.sandbox.inbox) ---------------------------------------------------------

    def _inbox_slack(self, query: str) -> None:
        try:
            payload = self._body()
        except HttpError as exc:
            if exc.status != 400:
                raise
            self._send(400, b"invalid_payload", _TEXT)  # Slack's own words, as plain text
            return
        problem = slack_payload_problem(payload)
        if problem is not None:
            self._send(400, problem.encode(), _TEXT)
            return
        self.server.sandbox.inbox.add("slack", payload)
        self._send(200, b"ok", _TEXT)

    def _inbox_page(self, query: str) -> None:
        self._send(200, render_html(self.server.sandbox.inbox.messages()).encode(), _HTML)

    def _inbox_json(self, query: str) -> None:
        self._send_json(200, {"messages": [m.to_json() for m in self.server.sandbox.inbox.messages()]})

    def _inbox_clear(self, query: str) -> None:
        self._body()
        self._send_json(200, {"cleared": self.server.sandbox.inbox.clear()})


def _collapse(value: Any) -> Collapse | None:
    """``{"provider": P, "share": S}`` (share default 0.1) from a request, or ``None``."""
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= {"provider", "share"} or "provider" not in value:
        raise ValueError('collapse must be {"provider": NAME, "share": FRACTION} (share optional)')
    share = value.get("share", DEFAULT_SHARE)
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise ValueError("collapse.share must be a number in [0, 1)")
    return Collapse(str(value["provider"]), float(share))


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
    ("POST", "/admin/events/days"): _Handler._events_days,
    ("POST", "/inbox/slack"): _Handler._inbox_slack,
    ("GET", "/inbox"): _Handler._inbox_page,
    ("GET", "/inbox.json"): _Handler._inbox_json,
    ("DELETE", "/inbox"): _Handler._inbox_clear,
}


# -- provider APIs ---------------------------------------------------------------------------------------------


def _titles(sandbox: Sandbox, match: re.Match[str], query: str, malformed: bool) -> Answer:
    params = parse_titles_query(query)
    items, more = sandbox.lumina.query(params.updated_since, params.updated_until, params.page, params.page_size)
    if malformed:
        items = malform(items)
    page = {
        "items": items,
        "page": params.page,
        "page_size": params.page_size,
        "next_page": params.page + 1 if more else None,
    }
    return Answer(_json_body(page))


def _atlas_catalog(sandbox: Sandbox, match: re.Match[str], query: str, malformed: bool) -> Answer:
    params = parse_atlas_query(query)
    token = params.token
    after = None if token is None else (int(token["k"][0]), str(token["k"][1]))
    documents, more = sandbox.atlas.page(params.modified_since_ms, after, params.limit)
    body: dict[str, Any] = {"entries": atlas.malform(documents) if malformed else documents}
    if more:
        last = documents[-1]
        page = 1 if token is None else int(token["p"])
        body["nextPageToken"] = encode_token(
            {"p": page + 1, "k": [last["lastModified"], last["seriesId"]], "s": params.modified_since_ms}
        )
    return Answer(_json_body(body))


def _meridian_packages(sandbox: Sandbox, match: re.Match[str], query: str, malformed: bool) -> Answer:
    params = parse_packages_query(query)
    entries, more = sandbox.meridian.listing(params.since, params.page, params.page_size)
    headers = {}
    if more:
        following = dict(parse_qsl(query, keep_blank_values=True)) | {"page": str(params.page + 1)}
        headers["Link"] = f'<{match.group(0)}?{urlencode(following)}>; rel="next"'
    return Answer(_json_body(meridian.malform_listing(entries) if malformed else entries), headers=headers)


def _meridian_document(sandbox: Sandbox, match: re.Match[str], query: str, malformed: bool) -> Answer:
    strict_params(query, frozenset())
    package_id, version = match.group("package"), match.group("version")
    text = sandbox.meridian.document(package_id, version, malformed)
    if text is None:
        known = sandbox.meridian.versions(package_id)
        detail = f"versions: {known}" if known else "no such package"
        raise HttpError(404, f"no package {package_id} version {version} ({detail})")
    return Answer(text.encode(), _XML)


def _events(sandbox: Sandbox, match: re.Match[str], query: str, malformed: bool) -> Answer:
    params = parse_events_query(query)
    cursor = params.cursor
    found, last = sandbox.events.page(params.since, -1 if cursor is None else int(cursor["a"]), params.limit)
    next_cursor = None
    if last is not None:
        page = 1 if cursor is None else int(cursor["p"])
        since = None if params.since is None else params.since.isoformat()
        next_cursor = encode_token({"p": page + 1, "a": last, "s": since})
    return Answer(_json_body({"events": events.malform(found) if malformed else found, "next_cursor": next_cursor}))


@dataclass(frozen=True)
class _Route:
    provider: str
    pattern: re.Pattern[str]
    page_hint: Callable[[str], int | None]
    answer: Callable[[Sandbox, re.Match[str], str, bool], Answer]


_PROVIDER_ROUTES = (
    _Route("lumina", re.compile(r"/lumina/v1/titles"), page_hint, _titles),
    _Route("atlas", re.compile(r"/atlas/v2/catalog"), lambda q: token_page_hint(q, "pageToken"), _atlas_catalog),
    _Route("meridian", re.compile(r"/meridian/v1/packages"), page_hint, _meridian_packages),
    _Route(
        "meridian",
        re.compile(r"/meridian/v1/packages/(?P<package>[A-Za-z0-9_-]+)/(?P<version>\d+\.\d+)\.xml"),
        lambda q: None,
        _meridian_document,
    ),
    _Route("events", re.compile(r"/events/v1/events"), lambda q: token_page_hint(q, "cursor"), _events),
)


def _provider_route(provider: str, method: str, path: str) -> tuple[_Route, re.Match[str]]:
    """The provider API route for a request, or a 404 (only GET routes exist)."""
    if method == "GET":
        for route in _PROVIDER_ROUTES:
            match = route.pattern.fullmatch(path)
            if route.provider == provider and match is not None:
                return route, match
    raise HttpError(404, f"no route for {method} {path}")


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
        *,
        atlas_size: int = ATLAS_DEFAULT_SIZE,
        meridian_size: int = MERIDIAN_DEFAULT_SIZE,
        harbor_rows: int = HARBOR_DEFAULT_ROWS,
    ) -> None:
        self.sandbox = Sandbox(
            None if state_dir is None else Path(state_dir),
            lumina_size,
            clock,
            atlas_size=atlas_size,
            meridian_size=meridian_size,
            harbor_rows=harbor_rows,
        )
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
