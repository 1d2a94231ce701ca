"""Provider ``lumina``: a paginated JSON API of films (page numbers, ``updated_since`` cursor).

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
        """Read every title updated in ``window``, page by page."""
        page_size = int(os.environ.get("VODFLOW_LUMINA_PAGE_SIZE", "500"))
        api_key = os.environ.get("VODFLOW_LUMINA_API_KEY")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        with ProviderHttpClient(self.name, self.base_url(), RetryPolicy(), headers=headers) as client:

            def fetch(token: Token) -> Page:
                params = {
                    "updated_since": _iso(window.since),
                    "updated_until": _iso(window.until),
                    "page": token,
                    "page_size": page_size,
                }
                body = client.get_json("/titles", params, page=str(token))
                if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                    raise ProviderError(self.name, str(token), "response has no 'items' list")
                next_page = body.get("next_page")
                return Page(body["items"], next_page if isinstance(next_page, int) else None)

            return paginate(self.name, fetch, 1, on_page=on_page)

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
