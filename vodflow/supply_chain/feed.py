"""The supply-chain event feed (``/events/v1/events``): cursor-paged, read from ``since`` = cursor − look-back.

The feed delivers in arrival order, up to 48 hours late, and sometimes twice: every run re-reads from the newest
``occurred_at`` it has minus a 48-hour look-back (``VODFLOW_EVENTS_LOOKBACK_HOURS``), and the load keeps one row
per ``event_id``. Settings: ``VODFLOW_EVENTS_URL`` (default: the sandbox's ``/events/v1``),
``VODFLOW_EVENTS_PAGE_SIZE``, optional ``VODFLOW_EVENTS_API_KEY`` (bearer token, never logged).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vodflow.ingest.http import ProviderError, ProviderHttpClient, RetryPolicy
from vodflow.ingest.pagination import Extracted, Page, Token, paginate
from vodflow.ingest.validate import RecordKind
from vodflow.providers.base import Progress, Window
from vodflow.settings import get_settings
from vodflow.supply_chain.schema import EVENT_COLUMNS, EVENT_SCHEMA, to_typed_events

FEED = "events"
EXPECTED_FIELDS = frozenset({"event_id", "provider", "provider_asset_id", "type", "reason", "platform", "occurred_at"})
EVENTS = RecordKind(to_typed_events, lambda _now: EVENT_SCHEMA, "event_id", "occurred_at", EVENT_COLUMNS)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def base_url() -> str:
    """The feed's root, from the environment or the sandbox."""
    return os.environ.get("VODFLOW_EVENTS_URL") or f"{get_settings().sandbox_url}/events/v1"


def extract(window: Window, on_page: Progress | None = None) -> Extracted:
    """Read every event that occurred in ``window`` (``until`` applied here; the feed has only ``since``)."""
    page_size = int(os.environ.get("VODFLOW_EVENTS_PAGE_SIZE", "2000"))
    api_key = os.environ.get("VODFLOW_EVENTS_API_KEY")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    until = _iso(window.until)
    with ProviderHttpClient(FEED, base_url(), RetryPolicy(), headers=headers) as client:

        def fetch(token: Token) -> Page:
            params = {"since": _iso(window.since), "cursor": token or None, "limit": page_size}
            body = client.get_json("/events", params, page=str(token or "first"))
            if not isinstance(body, dict) or not isinstance(body.get("events"), list):
                raise ProviderError(FEED, str(token or "first"), "response has no 'events' list")
            events = body["events"]
            if until is not None:
                events = [e for e in events if not isinstance(e, Mapping) or str(e.get("occurred_at", "")) < until]
            cursor = body.get("next_cursor")
            return Page(events, cursor if isinstance(cursor, str) and cursor else None)

        return paginate(FEED, fetch, "", on_page=on_page)


def event_id(item: Mapping[str, Any]) -> Any:
    """An event's ID, for quarantining an event that cannot be mapped."""
    return item.get("event_id")


def map_event(item: Mapping[str, Any]) -> dict[str, Any]:
    """One feed event as a canonical supply-chain event."""
    return {
        "event_id": item["event_id"],
        "source": FEED,
        "provider": item.get("provider"),
        "provider_asset_id": item.get("provider_asset_id"),
        "event_type": item.get("type"),
        "reason": item.get("reason") or None,
        "platform": item.get("platform") or None,
        "occurred_at": item.get("occurred_at"),
        "payload": dict(item),
    }
