"""The registry interface the matcher talks to: candidates for an asset, records for IDs.

One protocol, so the matcher does not care where the registry lives. Today's implementation is the
PostgreSQL-backed extract (:class:`vodflow.eidr.pg_registry.PostgresRegistry`); the path to a client of
EIDR's own REST API is described in ``vodflow/eidr/README.md``. The protocol is batch-first because both
implementations are cheaper per batch (one round trip of SQL, or EIDR's batch query endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from vodflow.eidr.records import RegistryRecord
from vodflow.eidr.titles import normalise_name, normalise_title
from vodflow.languages import normalise_language

COMPATIBLE_REFERENT_TYPES: dict[str, frozenset[str]] = {
    "movie": frozenset({"movie", "short", "tv", "web"}),
    "series": frozenset({"series"}),
    "season": frozenset({"season"}),
    "episode": frozenset({"episode"}),
}
"""Which EIDR referent types (lower case) an asset type may be: a film is never matched to an episode."""


class Via(StrEnum):
    """How a candidate was found; the strongest route that found it wins."""

    IMDB_ID = "imdb_id"
    TITLE_EXACT = "title_exact"
    TITLE_FUZZY = "title_fuzzy"


@dataclass(frozen=True)
class AssetQuery:
    """What we know of an asset that lacks a valid EIDR ID; ``key`` is the caller's identifier for it."""

    key: str
    title: str
    asset_type: str | None = None
    original_title: str | None = None
    release_year: int | None = None
    runtime_minutes: float | None = None
    directors: tuple[str, ...] = ()
    language: str | None = None
    imdb_id: str | None = None
    parent_eidr_id: str | None = None
    title_norm: str = field(init=False)
    original_title_norm: str | None = field(init=False)
    director_keys: frozenset[str] = field(init=False)
    language_code: str | None = field(init=False)

    def __post_init__(self) -> None:
        original = normalise_title(self.original_title) if self.original_title else None
        object.__setattr__(self, "title_norm", normalise_title(self.title))
        object.__setattr__(self, "original_title_norm", original if original != self.title_norm else None)
        object.__setattr__(self, "director_keys", frozenset(filter(None, map(normalise_name, self.directors))))
        object.__setattr__(self, "language_code", normalise_language(self.language))

    @property
    def referent_types(self) -> frozenset[str] | None:
        """EIDR referent types this asset may have, or None when its type is unknown (no filter)."""
        return COMPATIBLE_REFERENT_TYPES.get(self.asset_type or "")

    @property
    def needs_parent(self) -> bool:
        """Seasons and episodes are identified under their parent: their own titles ("Pilot") are not enough."""
        return self.asset_type in ("season", "episode")


@dataclass(frozen=True)
class Candidate:
    """A registry record that might be the asset, and how it was found."""

    record: RegistryRecord
    via: Via


class Resolver(Protocol):
    """A registry that can be searched for candidates and asked for records by ID."""

    def candidates(self, queries: Sequence[AssetQuery], *, fuzzy: bool) -> list[list[Candidate]]:
        """Candidates per query, in query order.

        Without ``fuzzy``: records sharing an alternate ID (IMDb) or the exact normalised title. With ``fuzzy``:
        records whose normalised title is similar (the expensive search, asked only for undecided assets).
        Records whose referent type cannot be the asset's type are never returned.
        """
        ...

    def resolve(self, eidr_ids: Iterable[str]) -> dict[str, RegistryRecord]:
        """The records for these IDs; IDs the registry does not hold are absent from the result."""
        ...
