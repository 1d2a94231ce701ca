"""A small httpx client for the sandbox's admin endpoints, shared by tests and the CLI.

Admin calls are not retried: the sandbox is local, and a failing admin call is a test-setup bug that should
surface at once (``httpx.HTTPStatusError`` carries the sandbox's JSON error).
"""

from __future__ import annotations

import functools
import ssl
from datetime import date
from types import TracebackType
from typing import Any

import httpx

DEFAULT_TIMEOUT_S = 10.0


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # httpx builds (and loads CA certificates into) a new context per client, ~40 ms; tests make many clients.
    return ssl.create_default_context()


class SandboxAdmin:
    """Client for ``/admin/*`` of a running sandbox.

    Args:
        base_url: the sandbox's URL, e.g. ``http://127.0.0.1:8765``.
        timeout: seconds for every call (explicit, as every client in vodflow).
    """

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=timeout, verify=_ssl_context())

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def health(self) -> bool:
        """Whether ``/healthz`` answers ``{"status": "ok"}``; ``False`` also when nothing listens."""
        try:
            return bool(self._call("GET", "/healthz") == {"status": "ok"})
        except httpx.HTTPError:
            return False

    def publish(self, new: int = 0, changed: int = 0, provider: str = "lumina") -> dict[str, list[str]]:
        """Publish ``new`` items and change ``changed`` ones for ``provider``; returns their IDs.

        What "new" and "changed" mean per provider is in the sandbox README (lumina: films; atlas: series;
        meridian: packages, version bumps; events: new events, re-sent duplicates).

        Returns:
            ``{"new": [ids], "changed": [ids]}``.
        """
        result: dict[str, list[str]] = self._call(
            "POST", "/admin/publish", json={"provider": provider, "new": new, "changed": changed}
        )
        return result

    def inject_fault(
        self,
        kind: str | int,
        times: int = 1,
        page: int | None = None,
        retry_after: int | str | None = None,
        delay_s: float | None = None,
        provider: str = "lumina",
        skip: int | None = None,
    ) -> dict[str, Any]:
        """Queue a fault; returns it with its id.

        Kinds: ``429 500 503 slow truncated html reset malformed_rows shift hostile_rows invalid_utf8 nesting_bomb``
        (the sandbox README says what each does).

        Args:
            kind: the fault kind; ``429`` may be given as an int.
            times: how many matching requests it affects; ``-1`` until :meth:`clear_faults`.
            page: only requests for this page; ``None`` for any page.
            retry_after: ``Retry-After`` of a 429 (or 503): seconds, or ``"http-date"``.
            delay_s: how long a ``slow`` fault sleeps before answering.
            provider: which provider's API it affects: ``lumina``, ``atlas``, ``meridian`` or ``events``.
            skip: matching requests to let through before the fault acts (``1``: from the second request on).
        """
        body: dict[str, Any] = {"provider": provider, "kind": str(kind), "times": times}
        optional = {"page": page, "retry_after": retry_after, "delay_s": delay_s, "skip": skip}
        body.update({name: value for name, value in optional.items() if value is not None})
        fault: dict[str, Any] = self._call("POST", "/admin/faults", json=body)
        return fault

    def faults(self) -> list[dict[str, Any]]:
        """Faults still queued, oldest first, with their remaining ``times``."""
        result: list[dict[str, Any]] = self._call("GET", "/admin/faults")
        return result

    def clear_faults(self) -> int:
        """Drop every queued fault; returns how many there were."""
        return int(self._call("DELETE", "/admin/faults")["cleared"])

    def requests(self, provider: str | None = "lumina") -> list[dict[str, Any]]:
        """Provider requests served since the last reset: ``{"provider","path","query","status","fault","at"}``."""
        params = {} if provider is None else {"provider": provider}
        result: list[dict[str, Any]] = self._call("GET", "/admin/requests", params=params)
        return result

    def bad_items(
        self, provider: str = "lumina", rows: int | None = None, offset: int | None = None
    ) -> list[dict[str, str]]:
        """Items the sandbox breaks on purpose, with ``kind`` and ``reason``: each must end in quarantine.

        Args:
            provider: ``lumina``, ``atlas``, ``meridian``, ``events`` or ``harbor``.
            rows: harbor only: the drop's rows (default: the server's ``harbor_rows``).
            offset: harbor only: the drop's offset (default 0).
        """
        params: dict[str, str | int] = {"provider": provider}
        params.update({name: value for name, value in (("rows", rows), ("offset", offset)) if value is not None})
        result: list[dict[str, str]] = self._call("GET", "/admin/bad-items", params=params)
        return result

    def reset(self) -> None:
        """Back to the initial state: catalogue, faults and request log (not the inbox)."""
        self._call("POST", "/admin/reset")

    def add_live_days(
        self, through: date | None = None, collapse: str | None = None, share: float | None = None
    ) -> dict[str, Any]:
        """Extend the events feed with live days up to ``through`` (default: yesterday), ``collapse`` on that day.

        Idempotent: the same call again adds nothing. See :mod:`vodflow.sandbox.live`.

        Args:
            through: the last day served (a complete UTC day after 2026-10-31).
            collapse: the provider whose deliveries collapse on ``through``; ``None`` for a normal day.
            share: the share it still delivers (default 0.1).

        Returns:
            ``{"day", "collapse", "first_day", "events_added", "deliveries": {provider: count on the day}}``.

        Raises:
            httpx.HTTPStatusError: 400 for a day not allowed, 409 when the feed served that day otherwise.
        """
        body: dict[str, Any] = {"through": None if through is None else through.isoformat()}
        if collapse is not None:
            body["collapse"] = {"provider": collapse} | ({} if share is None else {"share": share})
        result: dict[str, Any] = self._call("POST", "/admin/events/days", json=body)
        return result

    def inbox(self) -> list[dict[str, Any]]:
        """Messages in the local Slack inbox, newest first: ``{"id", "received_at", "channel", "text", "payload"}``."""
        messages: list[dict[str, Any]] = self._call("GET", "/inbox.json")["messages"]
        return messages

    def clear_inbox(self) -> int:
        """Empty the inbox; returns how many messages it held."""
        return int(self._call("DELETE", "/inbox")["cleared"])

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
