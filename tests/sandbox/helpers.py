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
