"""Names and formats other systems rely on, in a module light enough for the sandbox and the CLI to import."""

from __future__ import annotations

ASSET_TYPES: tuple[str, ...] = ("movie", "series", "season", "episode")

#: The catalogue CSV contract (harbor's drops, the EIDR batch matcher's input): this header, exactly.
CATALOGUE_CSV_HEADER: tuple[str, ...] = (
    "provider_asset_id",
    "asset_type",
    "title",
    "release_year",
    "runtime_minutes",
    "language",
    "genres",
    "imdb_id",
    "eidr_id",
    "updated_at",
)
