"""Provider ``meridian``: CableLabs ADI 1.1 packages (one ``ADI`` document per title), over HTTP and as files.

HTTP: ``GET /packages?since=&page=&page_size=`` lists the latest version of each package (a bare JSON list,
page numbers; a short page is the last), then each package's XML is fetched from its ``url``. A document that
cannot be parsed (truncated, HTML, an entity) is a provider error and fails the run: nothing partial is written.
Files: ``<package>-v<major>.<minor>.xml`` in the drop folder; a file that cannot be parsed is rejected on its own.

Mapping (``map_item``): the package ``AMS`` ``Asset_ID`` is the ``provider_asset_id``; ``Title`` the title (a
package without one is quarantined: ``Title_Brief`` is a 19-character abbreviation, not a title); ``Run_Time``
``HH:MM:SS`` → minutes (rounded); ``Year``; every ``Genre``; ``Rating``; ``EIDR_ID`` / ``IMDb_ID``; ``Languages``
of the movie asset. Licensing windows and the rest stay in the payload.

Versions: ``provider_updated_at`` is the version's ``Creation_Date`` (midnight UTC) plus ``major * 1000 + minor``
microseconds. Dates order versions made on different days; the microseconds order versions made on the same day
(the listing's ``updated_at`` is deliberately not used: a file and an API copy of one version must get the same
stamp). The load already refuses an older ``provider_updated_at``, so a newer version replaces an older one and an
older one arriving late changes nothing.

Settings: ``VODFLOW_MERIDIAN_URL`` (default: the sandbox's ``/meridian/v1``), ``VODFLOW_MERIDIAN_PAGE_SIZE``,
``VODFLOW_MERIDIAN_DROP_DIR`` (default ``<data dir>/drops/meridian``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from vodflow.eidr.ids import normalise as normalise_eidr
from vodflow.ingest.adi import AdiError, parse_package
from vodflow.ingest.drops import FileRejectedError
from vodflow.ingest.http import ProviderError, ProviderHttpClient, RetryPolicy
from vodflow.ingest.pagination import Extracted, Page, Token, paginate
from vodflow.languages import normalise_language
from vodflow.providers.base import Progress, Window
from vodflow.settings import get_settings

#: The title asset's App_Data names meridian documents; others are reported as drift.
_DOCUMENTED = frozenset(
    "Type Title Title_Brief Summary_Short Run_Time Display_Run_Time Year Genre Category Rating Director Show_Type "
    "Closed_Captioning Billing_ID Suggested_Price Provider_QA_Contact Licensing_Window_Start Licensing_Window_End "
    "EIDR_ID IMDb_ID".split()
)
_RUN_TIME = re.compile(r"(\d{1,3}):([0-5]\d):([0-5]\d)")
_VERSION_PART_MAX = 999
_SHOW_TYPES = {"movie": "movie", "series": "series", "season": "season", "episode": "episode"}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def run_time_minutes(value: Any) -> Any:
    """``HH:MM:SS`` as whole minutes (30 seconds or more round up); anything else passes on for the schema."""
    if not isinstance(value, str):
        return value
    match = _RUN_TIME.fullmatch(value.strip())
    if match is None:
        return value
    hours, minutes, seconds = (int(part) for part in match.groups())
    return hours * 60 + minutes + (1 if seconds >= 30 else 0)


def version_of(package: Mapping[str, Any]) -> tuple[int, int]:
    """``(Version_Major, Version_Minor)`` of a package ``AMS``, as integers (never compared as text)."""
    try:
        major, minor = int(package["Version_Major"]), int(package["Version_Minor"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"Version_Major/Version_Minor {package.get('Version_Major')!r}/{package.get('Version_Minor')!r} "
            "are not integers"
        ) from None
    if not (0 <= major <= _VERSION_PART_MAX and 0 <= minor <= _VERSION_PART_MAX):
        raise ValueError(f"version {major}.{minor} outside 0.0 .. {_VERSION_PART_MAX}.{_VERSION_PART_MAX}")
    return major, minor


def version_stamp(package: Mapping[str, Any]) -> Any:
    """The ``provider_updated_at`` of a package version (see the module docstring); a bad date passes on as is."""
    created = package.get("Creation_Date")
    major, minor = version_of(package)
    try:
        day = datetime.strptime(str(created), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return created
    return (day + timedelta(microseconds=major * 1000 + minor)).isoformat()


def _window_order(item: Mapping[str, Any]) -> None:
    start, end = item.get("Licensing_Window_Start"), item.get("Licensing_Window_End")
    if start is None or end is None:
        return
    try:
        opens, closes = datetime.fromisoformat(str(start)), datetime.fromisoformat(str(end))
    except ValueError:
        raise ValueError(f"licensing window {start!r} .. {end!r} is not two ISO 8601 times") from None
    if closes < opens:
        raise ValueError(f"Licensing_Window_End {end} is before Licensing_Window_Start {start}")


class _MeridianClient(ProviderHttpClient):
    """The shared client (retries, bounded attempts), also accepting XML bodies: they come back as bytes."""

    def _decode(self, response: httpx.Response, page: str) -> Any:
        if "xml" in response.headers.get("content-type", ""):
            return response.content
        return super()._decode(response, page)


@dataclass(frozen=True)
class Meridian:
    """The meridian provider."""

    name: str = "meridian"
    expected_fields: frozenset[str] = frozenset({"package", "title_asset", "assets", *_DOCUMENTED})
    drop_suffixes: tuple[str, ...] = (".xml",)

    def base_url(self) -> str:
        """The API root, from the environment or the sandbox."""
        return os.environ.get("VODFLOW_MERIDIAN_URL") or f"{get_settings().sandbox_url}/meridian/v1"

    def parse_document(self, data: bytes) -> dict[str, Any]:
        """One dropped file as a flat package document; a file that is not a safe ADI package is rejected."""
        try:
            return parse_package(data)
        except AdiError as exc:
            raise FileRejectedError(str(exc)) from None

    def extract(self, window: Window, on_page: Progress | None = None) -> Extracted:
        """The latest version of every package updated in ``window``, each fetched and parsed."""
        page_size = int(os.environ.get("VODFLOW_MERIDIAN_PAGE_SIZE", "200"))
        with _MeridianClient(self.name, self.base_url(), RetryPolicy()) as client:

            def fetch(token: Token) -> Page:
                params = {"since": _iso(window.since), "page": token, "page_size": page_size}
                body = client.get_json("/packages", params, page=str(token))
                if not isinstance(body, list):
                    raise ProviderError(self.name, str(token), "the package listing is not a JSON list")
                return Page(body, int(token) + 1 if len(body) >= page_size else None)

            listing = paginate(self.name, fetch, 1, on_page=on_page)
            until = _iso(window.until)
            items: list[Any] = []
            for entry in listing.items:
                if until is not None and isinstance(entry, Mapping) and str(entry.get("updated_at")) >= until:
                    continue
                items.append(self._fetch_package(client, entry))
        return Extracted(items=items, repeated=listing.repeated, pages=listing.pages)

    def _fetch_package(self, client: ProviderHttpClient, entry: Any) -> Any:
        """Fetch and parse one listed package; a listing entry we cannot follow goes on as is (quarantined)."""
        if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str) or not entry["url"].endswith(".xml"):
            return {"listing_entry": entry}
        # The url is relative to the sandbox's base, which is the API root's host.
        url = httpx.URL(self.base_url()).join(entry["url"])
        body = client.get_json(str(url), {}, page=str(entry.get("package_id")))
        if not isinstance(body, bytes):
            raise ProviderError(self.name, str(entry.get("package_id")), "expected an XML document")
        try:
            return parse_package(body)
        except AdiError as exc:
            raise ProviderError(self.name, str(entry.get("package_id")), str(exc)) from None

    def item_id(self, item: Mapping[str, Any]) -> Any:
        """The package ``Asset_ID`` (or, for a listing entry we could not follow, its ``package_id``)."""
        package = item.get("package")
        if isinstance(package, Mapping):
            return package.get("Asset_ID")
        entry = item.get("listing_entry")
        return entry.get("package_id") if isinstance(entry, Mapping) else None

    def map_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Map a package document to the canonical record (values still unchecked: the schema judges them)."""
        if "listing_entry" in item:
            raise ValueError(f"listing entry cannot be fetched: {item['listing_entry']!r}"[:300])
        package = item["package"]
        _window_order(item)
        movie = next((a for a in item.get("assets", []) if a.get("class") == "movie"), None)
        eidr = item.get("EIDR_ID")
        show_type = str(item.get("Show_Type") or "Movie")
        return {
            "provider": self.name,
            "provider_asset_id": package.get("Asset_ID"),
            "asset_type": _SHOW_TYPES.get(show_type.lower(), show_type),
            "title": item.get("Title"),
            "original_title": None,
            "parent_provider_asset_id": None,
            "season_number": None,
            "episode_number": None,
            "release_year": item.get("Year"),
            "runtime_minutes": run_time_minutes(item.get("Run_Time")),
            "language": normalise_language(movie["app_data"].get("Languages") if movie else None),
            "genres": [str(g) for g in item.get("Genre", []) if g] or None,
            "rating": item.get("Rating") or None,
            "eidr_id": normalise_eidr(eidr) if isinstance(eidr, str) and eidr.strip() else None,
            "imdb_id": item.get("IMDb_ID") or None,
            "isan": None,
            "provider_updated_at": version_stamp(package),
            "payload": dict(item),
        }


MERIDIAN = Meridian()
