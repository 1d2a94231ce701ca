"""Provider ``harbor``: CSV files dropped into a folder (no API), read in chunks, one transaction per file.

The CSV contract (README, "CSV drops"), this exact header::

    provider_asset_id,asset_type,title,release_year,runtime_minutes,language,genres,imdb_id,eidr_id,updated_at

UTF-8 with or without a BOM; empty means null; ``language`` an ISO 639 code or an English name (normalised);
``genres`` comma-separated (quoted when there are several); ``updated_at`` ISO 8601 with ``Z`` or an offset.
Duplicate ``provider_asset_id`` in one file: the row with the latest ``updated_at`` wins (on a tie, the later
row), whatever the order of the rows, because "last row wins" would let an older version overwrite a newer one.

Settings: ``VODFLOW_HARBOR_DROP_DIR`` (default ``<data dir>/drops/harbor``), ``VODFLOW_DROP_CHUNK_ROWS``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from vodflow.contracts import CATALOGUE_CSV_HEADER
from vodflow.eidr.ids import normalise as normalise_eidr
from vodflow.ingest.csv_chunks import MALFORMED_ROW, read_chunks
from vodflow.ingest.pagination import Extracted
from vodflow.languages import normalise_language
from vodflow.providers.base import Progress, Window

HEADER = CATALOGUE_CSV_HEADER


class NotAnApiError(NotImplementedError):
    """harbor has no API to extract from: its files go through the drop machinery."""


def _value(row: Mapping[str, Any], column: str) -> str | None:
    text = row.get(column)
    return (text.strip() or None) if isinstance(text, str) else None


def _genres(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [genre.strip() for genre in value.split(",") if genre.strip()] or None


@dataclass(frozen=True)
class Harbor:
    """The harbor provider."""

    name: str = "harbor"
    expected_fields: frozenset[str] = frozenset(HEADER)
    drop_suffixes: tuple[str, ...] = (".csv",)

    def extract(self, window: Window, on_page: Progress | None = None) -> Extracted:
        """harbor has no API: files are read by the ``ingest-harbor`` flow from its drop folder."""
        raise NotAnApiError("harbor delivers CSV files: run ingest-harbor (flows/drops.py), not the API extractor")

    def read_chunks(self, handle: BinaryIO, chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
        """The file's rows in chunks; a whole-file fault raises ``FileRejectedError`` naming it."""
        return read_chunks(handle, HEADER, chunk_rows)

    def item_id(self, item: Mapping[str, Any]) -> Any:
        """The row's ``provider_asset_id`` (also for a row with the wrong number of fields)."""
        malformed = item.get(MALFORMED_ROW)
        if isinstance(malformed, list):
            return malformed[0] if malformed else None
        return item.get("provider_asset_id")

    def map_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Map a CSV row to the canonical record (values still unchecked: the schema judges them)."""
        malformed = item.get(MALFORMED_ROW)
        if malformed is not None:
            raise ValueError(f"row has {len(malformed)} fields, the header has {len(HEADER)}")
        eidr = _value(item, "eidr_id")
        return {
            "provider": self.name,
            "provider_asset_id": _value(item, "provider_asset_id"),
            "asset_type": _value(item, "asset_type"),
            "title": _value(item, "title"),
            "original_title": None,
            "parent_provider_asset_id": None,
            "season_number": None,
            "episode_number": None,
            "release_year": _value(item, "release_year"),
            "runtime_minutes": _value(item, "runtime_minutes"),
            "language": normalise_language(_value(item, "language")),
            "genres": _genres(_value(item, "genres")),
            "rating": None,
            "eidr_id": None if eidr is None else normalise_eidr(eidr),
            "imdb_id": _value(item, "imdb_id"),
            "isan": None,
            "provider_updated_at": _value(item, "updated_at"),
            "payload": dict(item),
        }


HARBOR = Harbor()
