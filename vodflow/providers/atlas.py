"""Provider ``atlas``: a JSON API of series documents (series → seasons → episodes), paged by opaque tokens.

One entry is a whole series with its seasons and episodes nested; we flatten it into one canonical record per
series, season and episode, with parent links (episode → season → series). ``lastModified`` is epoch
milliseconds, ``firstAired`` is ``DD/MM/YYYY``. A changed episode re-sends its whole series: the unchanged
objects in it are counted ``unchanged``, never rewritten.

Settings: ``VODFLOW_ATLAS_URL`` (default: the sandbox's ``/atlas/v2``), ``VODFLOW_ATLAS_PAGE_SIZE``, and an optional
``VODFLOW_ATLAS_API_KEY`` (sent as ``X-Api-Key``, never logged).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vodflow.eidr.ids import normalise as normalise_eidr
from vodflow.ingest.http import ProviderError, ProviderHttpClient, RetryPolicy
from vodflow.ingest.pagination import Extracted, Page, Token, paginate
from vodflow.languages import normalise_language
from vodflow.providers.base import Progress, Window
from vodflow.settings import get_settings

# Fields of each flattened object (the nested "seasons" and "episodes" lists are consumed by flatten()).
_SERIES_FIELDS = {"seriesId", "name", "originalName", "genres", "language", "contentRating", "eidr", "firstAired",
                  "lastModified"}  # fmt: skip
_SEASON_FIELDS = {"seasonId", "seriesId", "seasonNumber", "name", "firstAired", "eidr", "lastModified"}
_EPISODE_FIELDS = {"episodeId", "seasonId", "seriesId", "seasonNumber", "episodeNumber", "name", "durationSeconds",
                   "firstAired", "eidr", "lastModified"}  # fmt: skip


def _epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _timestamp(value: Any) -> Any:
    """``lastModified`` (epoch ms) as ISO 8601; anything else is passed on for the schema to reject."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    return value


def _year(first_aired: Any) -> int | None:
    """The year of a ``DD/MM/YYYY`` date; a value that is not a real date is a mapping error with its reason."""
    if first_aired is None:
        return None
    try:
        return datetime.strptime(str(first_aired), "%d/%m/%Y").year
    except ValueError:
        raise ValueError(f"firstAired {first_aired!r} is not a DD/MM/YYYY date") from None


def _eidr(value: Any) -> Any:
    return normalise_eidr(value) if isinstance(value, str) and value.strip() else None


def flatten(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One series document as its series, season and episode objects (children without their nested lists)."""
    seasons = document.get("seasons") or []
    yield {k: v for k, v in document.items() if k != "seasons"}
    for season in seasons if isinstance(seasons, list) else []:
        if not isinstance(season, Mapping):
            yield {"seriesId": document.get("seriesId"), "invalid_season": season}
            continue
        episodes = season.get("episodes") or []
        yield {k: v for k, v in season.items() if k != "episodes"}
        for episode in episodes if isinstance(episodes, list) else []:
            yield dict(episode) if isinstance(episode, Mapping) else {"invalid_episode": episode}


def _season_ids(document: Mapping[str, Any]) -> set[str]:
    seasons = document.get("seasons") or []
    return {str(s.get("seasonId")) for s in seasons if isinstance(s, Mapping)}


@dataclass(frozen=True)
class Atlas:
    """The atlas provider."""

    name: str = "atlas"
    expected_fields: frozenset[str] = frozenset(_SERIES_FIELDS | _SEASON_FIELDS | _EPISODE_FIELDS)

    def base_url(self) -> str:
        """The API root, from the environment or the sandbox."""
        return os.environ.get("VODFLOW_ATLAS_URL") or f"{get_settings().sandbox_url}/atlas/v2"

    def extract(self, window: Window, on_page: Progress | None = None) -> Extracted:
        """Read every series modified in ``window`` and flatten it; ``until`` is applied here (the API has none)."""
        page_size = int(os.environ.get("VODFLOW_ATLAS_PAGE_SIZE", "100"))
        api_key = os.environ.get("VODFLOW_ATLAS_API_KEY")
        headers = {"X-Api-Key": api_key} if api_key else {}
        until_ms = _epoch_ms(window.until) if window.until else None
        with ProviderHttpClient(self.name, self.base_url(), RetryPolicy(), headers=headers) as client:

            def fetch(token: Token) -> Page:
                params = {
                    "modifiedSince": _epoch_ms(window.since) if window.since else None,
                    "pageToken": token or None,
                    "limit": page_size,
                }
                body = client.get_json("/catalog", params, page=str(token or "first"))
                if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
                    raise ProviderError(self.name, str(token or "first"), "response has no 'entries' list")
                entries = [
                    e
                    for e in body["entries"]
                    if until_ms is None or not isinstance(e, Mapping) or _before(e.get("lastModified"), until_ms)
                ]
                next_token = body.get("nextPageToken")
                return Page(entries, next_token if isinstance(next_token, str) and next_token else None)

            documents = paginate(self.name, fetch, "", on_page=on_page)
        items: list[Any] = []
        for document in documents.items:
            if not isinstance(document, Mapping):
                items.append(document)
                continue
            seasons = _season_ids(document)
            for obj in flatten(document):
                if "episodeId" in obj:
                    obj["_known_seasons"] = sorted(seasons)
                items.append(obj)
        return Extracted(items=items, repeated=documents.repeated, pages=documents.pages)

    def item_id(self, item: Mapping[str, Any]) -> Any:
        """The ID of a flattened object: the episode's, else the season's, else the series'."""
        return item.get("episodeId") or item.get("seasonId") or item.get("seriesId")

    def map_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Map a flattened atlas object (series, season or episode) to the canonical record."""
        if "invalid_season" in item or "invalid_episode" in item:
            raise TypeError("a season or episode is not an object")
        payload = {k: v for k, v in item.items() if k != "_known_seasons"}
        genres = item.get("genres")
        record: dict[str, Any] = {
            "provider": self.name,
            "original_title": None,
            "parent_provider_asset_id": None,
            "season_number": None,
            "episode_number": None,
            "runtime_minutes": None,
            "language": None,
            "genres": None,
            "rating": None,
            "eidr_id": _eidr(item.get("eidr")),
            "imdb_id": None,
            "isan": None,
            "release_year": _year(item.get("firstAired")),
            "provider_updated_at": _timestamp(item.get("lastModified")),
            "payload": payload,
        }
        if "episodeId" in item:
            season_id = item.get("seasonId")
            if season_id not in item.get("_known_seasons", []):
                raise ValueError(f"seasonId {season_id!r} is not a season of series {item.get('seriesId')!r}")
            duration = item.get("durationSeconds")
            record |= {
                "provider_asset_id": item["episodeId"],
                "asset_type": "episode",
                "title": item.get("name"),
                "parent_provider_asset_id": season_id,
                "season_number": item.get("seasonNumber"),
                "episode_number": item.get("episodeNumber"),
                "runtime_minutes": round(duration / 60) if isinstance(duration, int | float) else duration,
            }
        elif "seasonId" in item:
            record |= {
                "provider_asset_id": item["seasonId"],
                "asset_type": "season",
                "title": item.get("name"),
                "parent_provider_asset_id": item.get("seriesId"),
                "season_number": item.get("seasonNumber"),
            }
        else:
            record |= {
                "provider_asset_id": item["seriesId"],
                "asset_type": "series",
                "title": item.get("name"),
                "original_title": item.get("originalName") or None,
                "language": normalise_language(item.get("language")),
                "genres": [str(g) for g in genres] if isinstance(genres, list) else None,
                "rating": item.get("contentRating") or None,
            }
        return record


def _before(last_modified: Any, until_ms: int) -> bool:
    return not isinstance(last_modified, int) or last_modified < until_ms


ATLAS = Atlas()
