"""A provider HTTP client that retries what is worth retrying, and nothing else.

Timeouts, connection errors and 5xx are retried with exponential backoff and full jitter; 429 waits for
``Retry-After`` (seconds or an HTTP-date) up to a cap; any other 4xx fails at once. A 200 whose body is not the
JSON we asked for (HTML, truncated, not UTF-8, nested without end) is a provider error naming the page, never
"zero rows". The number of attempts per request is bounded by ``RetryPolicy.max_attempts``; the Prefect task
around extraction does not retry, so that bound is the total.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

#: Deepest nesting of arrays and objects a provider answer may have. The documented shapes nest a handful of
#: levels (page, item, identifiers); payloads are written back with orjson, which stops at 255.
MAX_JSON_DEPTH = 64


class ProviderError(RuntimeError):
    """A provider answered in a way we cannot use; the message names the provider, the page and the cause."""

    def __init__(self, provider: str, page: str, cause: str) -> None:
        super().__init__(f"provider {provider}, page {page}: {cause}")
        self.provider = provider
        self.page = page
        self.cause = cause


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    retry_after_cap_s: float = 120.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = field(default_factory=lambda: _env_seconds("VODFLOW_HTTP_READ_TIMEOUT_SECONDS", 30.0))
    """How long to wait for a provider's answer: a provider known to be slow needs more, a test of hangs less."""


def _env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment, or a clear error naming the variable."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0 seconds, got {raw!r}")
    return value


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After`` (delta-seconds or HTTP-date) into seconds to wait, or None if absent/unparseable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ProviderHttpClient:
    """GETs JSON from one provider with the retry policy above."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        policy: RetryPolicy | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.policy = policy or RetryPolicy()
        self.attempts = 0
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(self.policy.read_timeout_s, connect=self.policy.connect_timeout_s),
            follow_redirects=False,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def __enter__(self) -> ProviderHttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_delay_s, self.policy.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def get_json(self, path: str, params: Mapping[str, Any], page: str) -> Any:
        """GET ``path`` and return its JSON body, retrying transient failures."""
        last_cause = "no attempt made"
        for attempt in range(1, self.policy.max_attempts + 1):
            self.attempts += 1
            wait: float | None = None
            try:
                response = self._client.get(path, params={k: v for k, v in params.items() if v is not None})
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last_cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                status = response.status_code
                if status == 200:
                    return self._decode(response, page)
                last_cause = f"HTTP {status}"
                if status == 429:
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    if wait is not None and wait > self.policy.retry_after_cap_s:
                        raise ProviderError(self.provider, page, f"HTTP 429 with Retry-After {wait:.0f}s above the cap")
                elif status < 500:
                    raise ProviderError(self.provider, page, f"HTTP {status}: {response.text[:200]}")
            if attempt < self.policy.max_attempts:
                self._sleep(wait if wait is not None else self._backoff(attempt))
        raise ProviderError(self.provider, page, f"{last_cause} after {self.policy.max_attempts} attempts")

    def _decode(self, response: httpx.Response, page: str) -> Any:
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:
            raise ProviderError(self.provider, page, f"expected JSON, got {content_type or 'no content type'}")
        return decode_json(response.content, self.provider, page)


def decode_json(content: bytes, provider: str, page: str) -> Any:
    """A JSON body as Python values, or a :class:`ProviderError` that says what is wrong with it.

    Strict where the standard library is lenient: the body must be UTF-8 (``json.loads`` on bytes accepts
    UTF-8-encoded surrogates, which PostgreSQL cannot store), and no deeper than :data:`MAX_JSON_DEPTH` (a
    nesting bomb ends as a clear error, never as a ``RecursionError`` from deep inside the parser, nor as a
    payload too deep to be written back as jsonb).
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":  # cut inside a character: a truncated body, not an encoding
            raise ProviderError(provider, page, "malformed JSON (the body ends inside a UTF-8 character)") from None
        byte = content[exc.start : exc.start + 1].hex()
        raise ProviderError(
            provider, page, f"body is not valid UTF-8 (byte 0x{byte} at offset {exc.start:,}); JSON must be UTF-8"
        ) from None
    try:
        body = json.loads(text)
    except RecursionError:
        body = None
    except json.JSONDecodeError as exc:
        raise ProviderError(provider, page, f"malformed JSON ({exc})") from None
    else:
        if not _deeper_than(body, MAX_JSON_DEPTH):
            return body
    raise ProviderError(
        provider, page, f"JSON nested deeper than {MAX_JSON_DEPTH} levels (a nesting bomb?); nothing of it is used"
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels deep (iterative: no recursion to exhaust)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
