"""Strict parsing of the provider API's query parameters.

Strict on purpose: an unknown or repeated parameter is a 400, not silently ignored, because a client that
misspells ``updated_since`` would otherwise receive the whole catalogue and believe it did an incremental load.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_TITLES_PARAMS = frozenset({"updated_since", "updated_until", "page", "page_size"})
# An unencoded "+" of a UTC offset arrives as a space after form decoding: accept it back.
_SPACE_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class TitlesQuery:
    """A validated ``GET /<provider>/v1/titles`` query; timestamps are aware and in UTC."""

    updated_since: datetime | None = None
    updated_until: datetime | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def parse_timestamp(name: str, value: str) -> datetime:
    """An ISO 8601 timestamp with ``Z`` or an offset, converted to UTC.

    Raises:
        ValueError: if the value is not ISO 8601 or carries no zone (a naive time is ambiguous).
    """
    text = _SPACE_OFFSET.sub(r"+\1", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 timestamp, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} must carry a zone (Z or an offset such as +02:00), got {value!r}")
    return parsed.astimezone(UTC)


def _positive_int(name: str, value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be >= 1, got {number}")
    return number


def parse_titles_query(query: str) -> TitlesQuery:
    """Validate the raw query string of a titles request.

    Raises:
        ValueError: with a message fit for a 400 answer.
    """
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - _TITLES_PARAMS)
    if unknown:
        raise ValueError(f"unknown parameters: {unknown}; allowed: {sorted(_TITLES_PARAMS)}")
    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:
        raise ValueError(f"parameters given more than once: {repeated}")
    values = {name: values[0] for name, values in params.items()}
    since = parse_timestamp("updated_since", values["updated_since"]) if "updated_since" in values else None
    until = parse_timestamp("updated_until", values["updated_until"]) if "updated_until" in values else None
    if since is not None and until is not None and since > until:
        raise ValueError("updated_since must not be after updated_until")
    page = _positive_int("page", values["page"]) if "page" in values else 1
    page_size = _positive_int("page_size", values["page_size"]) if "page_size" in values else DEFAULT_PAGE_SIZE
    if page_size > MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be at most {MAX_PAGE_SIZE}, got {page_size}")
    return TitlesQuery(since, until, page, page_size)


def page_hint(query: str) -> int | None:
    """The page a request asks for, leniently (for matching page-specific faults before validation)."""
    values = parse_qs(query, keep_blank_values=True).get("page")
    if not values:
        return 1
    return int(values[0]) if values[0].isascii() and values[0].isdigit() else None


# -- atlas, meridian and events --------------------------------------------------------------------------------

ATLAS_DEFAULT_LIMIT = 50
ATLAS_MAX_LIMIT = 500
MERIDIAN_DEFAULT_PAGE_SIZE = 100
MERIDIAN_MAX_PAGE_SIZE = 1000
EVENTS_DEFAULT_LIMIT = 500
EVENTS_MAX_LIMIT = 5000


def strict_params(query: str, allowed: frozenset[str]) -> dict[str, str]:
    """The query's parameters, refusing unknown and repeated ones (the same rules as lumina's).

    Raises:
        ValueError: with a message fit for a 400 answer.
    """
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown parameters: {unknown}; allowed: {sorted(allowed)}")
    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:
        raise ValueError(f"parameters given more than once: {repeated}")
    return {name: values[0] for name, values in params.items()}


def encode_token(data: dict[str, Any]) -> str:
    """An opaque page token: URL-safe base64 (no padding) of compact JSON. Clients must not parse it."""
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(name: str, value: str) -> dict[str, Any]:
    """The data of a token made by :func:`encode_token`.

    Raises:
        ValueError: if ``value`` is not such a token.
    """
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error):
        raise ValueError(f"{name} is not a token this API issued: {value!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), int):
        raise ValueError(f"{name} is not a token this API issued: {value!r}")
    return data


def token_page_hint(query: str, name: str) -> int | None:
    """The page number a token-paged request asks for (1 without a token), leniently: ``None`` if unreadable."""
    values = parse_qs(query, keep_blank_values=True).get(name)
    if not values:
        return 1
    try:
        return int(decode_token(name, values[0])["p"])
    except ValueError:
        return None


def bounded_int(name: str, value: str | None, default: int, maximum: int) -> int:
    """A positive integer parameter with a default and a maximum.

    Raises:
        ValueError: with a message fit for a 400 answer.
    """
    if value is None:
        return default
    number = _positive_int(name, value)
    if number > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {number}")
    return number


@dataclass(frozen=True)
class AtlasQuery:
    """A validated ``GET /atlas/v2/catalog`` query."""

    modified_since_ms: int | None
    token: dict[str, Any] | None
    limit: int


def parse_atlas_query(query: str) -> AtlasQuery:
    """``modifiedSince`` (epoch milliseconds, or ISO 8601 with a zone), ``pageToken``, ``limit``.

    Raises:
        ValueError: with a message fit for a 400 answer (also for a token issued for another ``modifiedSince``).
    """
    values = strict_params(query, frozenset({"modifiedSince", "pageToken", "limit"}))
    since: int | None = None
    if "modifiedSince" in values:
        raw = values["modifiedSince"].strip()
        if raw.isascii() and raw.isdigit():
            since = int(raw)
        else:
            since = int(parse_timestamp("modifiedSince", raw).timestamp() * 1000)
    token = decode_token("pageToken", values["pageToken"]) if "pageToken" in values else None
    key = None if token is None else token.get("k")
    if token is not None and not (
        isinstance(key, list) and len(key) == 2 and isinstance(key[0], int) and isinstance(key[1], str)
    ):
        raise ValueError(f"pageToken is not a token this API issued: {values['pageToken']!r}")
    if token is not None and token.get("s") != since:
        raise ValueError("pageToken was issued for another modifiedSince: repeat the first request's parameters")
    limit = bounded_int("limit", values.get("limit"), ATLAS_DEFAULT_LIMIT, ATLAS_MAX_LIMIT)
    return AtlasQuery(since, token, limit)


@dataclass(frozen=True)
class PackagesQuery:
    """A validated ``GET /meridian/v1/packages`` query."""

    since: datetime | None
    page: int
    page_size: int


def parse_packages_query(query: str) -> PackagesQuery:
    """``since`` (ISO 8601 with a zone), ``page`` (from 1), ``page_size``.

    Raises:
        ValueError: with a message fit for a 400 answer.
    """
    values = strict_params(query, frozenset({"since", "page", "page_size"}))
    since = parse_timestamp("since", values["since"]) if "since" in values else None
    page = _positive_int("page", values["page"]) if "page" in values else 1
    size = bounded_int("page_size", values.get("page_size"), MERIDIAN_DEFAULT_PAGE_SIZE, MERIDIAN_MAX_PAGE_SIZE)
    return PackagesQuery(since, page, size)


@dataclass(frozen=True)
class EventsQuery:
    """A validated ``GET /events/v1/events`` query."""

    since: datetime | None
    cursor: dict[str, Any] | None
    limit: int


def parse_events_query(query: str) -> EventsQuery:
    """``since`` (ISO 8601 with a zone, on ``occurred_at``), ``cursor``, ``limit``.

    Raises:
        ValueError: with a message fit for a 400 answer (also for a cursor issued for another ``since``).
    """
    values = strict_params(query, frozenset({"since", "cursor", "limit"}))
    since = parse_timestamp("since", values["since"]) if "since" in values else None
    cursor = decode_token("cursor", values["cursor"]) if "cursor" in values else None
    if cursor is not None and (not isinstance(cursor.get("a"), int) or isinstance(cursor.get("a"), bool)):
        raise ValueError(f"cursor is not a cursor this API issued: {values['cursor']!r}")
    if cursor is not None and cursor.get("s") != (None if since is None else since.isoformat()):
        raise ValueError("cursor was issued for another since: repeat the first request's parameters")
    limit = bounded_int("limit", values.get("limit"), EVENTS_DEFAULT_LIMIT, EVENTS_MAX_LIMIT)
    return EventsQuery(since, cursor, limit)
