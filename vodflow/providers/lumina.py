"""Provider ``lumina``: a paginated JSON API of films (page numbers, ``updated_since`` cursor, read by seeking).

Settings: ``VODFLOW_LUMINA_URL`` (default: the local sandbox's ``/lumina/v1``), ``VODFLOW_LUMINA_PAGE_SIZE``,
and an optional API key in ``VODFLOW_LUMINA_API_KEY`` (sent as a bearer token, never logged).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vodflow.eidr.ids import normalise as normalise_eidr
from vodflow.ingest.http import ProviderError, ProviderHttpClient, RetryPolicy
from vodflow.ingest.pagination import Extracted, Page, Token, paginate
from vodflow.languages import normalise_language
from vodflow.providers.base import Progress, Window
from vodflow.settings import get_settings


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _token(since: str, page: int) -> str:
    """A page token: the ``updated_since`` to ask for and the page within it."""
    return f"{since}|{page}"


def _split_token(token: str) -> tuple[str, int]:
    since, _, page = token.rpartition("|")
    return since, int(page)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _updated_at(item: Any) -> datetime | None:
    """An item's ``updated_at`` if it is a readable, zone-aware instant (a malformed item does not steer paging)."""
    value = item.get("updated_at") if isinstance(item, dict) else None
    if not isinstance(value, str):
        return None
    try:
        moment = _parse(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


@dataclass(frozen=True)
class Lumina:
    """The lumina provider."""

    name: str = "lumina"
    expected_fields: frozenset[str] = frozenset(
        {
            "id",
            "type",
            "title",
            "original_title",
            "year",
            "runtime_min",
            "language",
            "genres",
            "rating",
            "identifiers",
            "directors",
            "countries",
            "updated_at",
        }
    )

    def base_url(self) -> str:
        """The API root, from the environment or the sandbox."""
        return os.environ.get("VODFLOW_LUMINA_URL") or f"{get_settings().sandbox_url}/lumina/v1"

    def extract(self, window: Window, on_page: Progress | None = None) -> Extracted:
        """Read every title updated in ``window``, page by page, seeking on ``updated_at`` rather than page numbers.

        Paging by page number over a catalogue that is edited meanwhile skips items: an item already read is
        updated, moves to the end, and the first item of the next page slides onto the page just read. So each
        request after the first asks for page 1 of ``updated_since`` = the newest ``updated_at`` read so far
        (inclusive: items sharing that instant come again and are dropped as repeats). Only when a whole page
        shares one instant does it page on by number within that instant.
        """
        page_size = int(os.environ.get("VODFLOW_LUMINA_PAGE_SIZE", "500"))
        api_key = os.environ.get("VODFLOW_LUMINA_API_KEY")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        start = _iso(window.since) or ""
        pages_read = 0
        with ProviderHttpClient(self.name, self.base_url(), RetryPolicy(), headers=headers) as client:

            def fetch(token: Token) -> Page:
                nonlocal pages_read
                pages_read += 1
                since, page = _split_token(str(token))
                params = {
                    "updated_since": since or None,
                    "updated_until": _iso(window.until),
                    "page": page,
                    "page_size": page_size,
                }
                body = client.get_json("/titles", params, page=str(pages_read))
                if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                    raise ProviderError(self.name, str(pages_read), "response has no 'items' list")
                items = body["items"]
                if not isinstance(body.get("next_page"), int) or not items:
                    return Page(items, None)
                newest = _updated_at(items[-1])
                if newest is not None and (not since or newest > _parse(since)):
                    return Page(items, _token(_iso(newest) or "", 1))
                return Page(items, _token(since, page + 1))

            return paginate(self.name, fetch, _token(start, 1), on_page=on_page)

    def item_id(self, item: Mapping[str, Any]) -> Any:
        """A lumina title's ID."""
        return item.get("id")

    def map_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Map a lumina title to the canonical record."""
        identifiers = item.get("identifiers") or {}
        if not isinstance(identifiers, dict):
            raise TypeError("identifiers must be an object")
        eidr = _blank_to_none(identifiers.get("eidr"))
        genres = item.get("genres")
        return {
            "provider": self.name,
            "provider_asset_id": item["id"],
            "asset_type": item.get("type"),
            "title": item.get("title"),
            "original_title": _blank_to_none(item.get("original_title")),
            "parent_provider_asset_id": None,
            "season_number": None,
            "episode_number": None,
            "release_year": item.get("year"),
            "runtime_minutes": item.get("runtime_min"),
            "language": normalise_language(item.get("language")),
            "genres": [str(g) for g in genres] if isinstance(genres, list) else None,
            "rating": _blank_to_none(item.get("rating")),
            "eidr_id": normalise_eidr(eidr) if isinstance(eidr, str) else eidr,
            "imdb_id": _blank_to_none(identifiers.get("imdb")),
            "isan": _blank_to_none(identifiers.get("isan")),
            "provider_updated_at": item.get("updated_at"),
            "payload": item,
        }


LUMINA = Lumina()
