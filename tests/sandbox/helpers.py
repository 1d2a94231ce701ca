"""Helpers shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

TITLES = "/lumina/v1/titles"


def fetch_all(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow ``next_page`` from page 1; returns (all items, the page envelopes without items)."""
    items: list[dict[str, Any]] = []
    envelopes: list[dict[str, Any]] = []
    page: int | None = 1
    while page is not None:
        response = client.get(TITLES, params={**params, "page": page})
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body.pop("items"))
        envelopes.append(body)
        assert len(envelopes) < 1000, "paging does not end"
        page = body["next_page"]
    return items, envelopes


ATLAS = "/atlas/v2/catalog"
PACKAGES = "/meridian/v1/packages"
EVENTS = "/events/v1/events"


def fetch_atlas(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Follow ``nextPageToken``; returns (all entries, the tokens used)."""
    entries: list[dict[str, Any]] = []
    tokens: list[str] = []
    token: str | None = None
    while True:
        query = dict(params) if token is None else {**params, "pageToken": token}
        response = client.get(ATLAS, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) <= {"entries", "nextPageToken"}
        entries.extend(body["entries"])
        token = body.get("nextPageToken")
        if token is None:
            return entries, tokens
        assert body["entries"], "a page with a next token must not be empty"
        assert token not in tokens, "repeated token"
        tokens.append(token)
        assert len(tokens) < 1000, "paging does not end"


def fetch_packages(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], list[str | None]]:
    """Follow the ``Link: rel="next"`` header; returns (all listing entries, the Link headers seen)."""
    entries: list[dict[str, Any]] = []
    links: list[str | None] = []
    url: str | None = PACKAGES
    query: dict[str, Any] | None = params
    while url is not None:
        response = client.get(url, params=query)
        assert response.status_code == 200, response.text
        entries.extend(response.json())
        link = response.headers.get("link")
        links.append(link)
        url = None if link is None else link.split(";")[0].strip("<>")
        query = None
        assert len(links) < 1000, "paging does not end"
    return entries, links


def fetch_events(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Follow ``next_cursor``; returns (all events in stream order, the cursors used)."""
    events: list[dict[str, Any]] = []
    cursors: list[str] = []
    cursor: str | None = None
    while True:
        query = dict(params) if cursor is None else {**params, "cursor": cursor}
        response = client.get(EVENTS, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == ["events", "next_cursor"]
        events.extend(body["events"])
        cursor = body["next_cursor"]
        if cursor is None:
            return events, cursors
        assert body["events"], "a page with a next cursor must not be empty"
        assert cursor not in cursors, "repeated cursor"
        cursors.append(cursor)
        assert len(cursors) < 1000, "paging does not end"
