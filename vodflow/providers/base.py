"""What a provider module supplies to the shared ingestion flow."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from vodflow.ingest.pagination import Extracted


@dataclass(frozen=True)
class Window:
    """The slice of provider time to extract: ``since`` inclusive, ``until`` exclusive; None = open."""

    since: datetime | None
    until: datetime | None


Progress = Callable[[int, int], None]


class Provider(Protocol):
    """A source of assets: how to read it, and how its items map to the canonical record."""

    @property
    def name(self) -> str:
        """The provider's name (contract: lumina, atlas, harbor, meridian)."""
        ...

    @property
    def expected_fields(self) -> frozenset[str]:
        """Fields the provider documents; others (or missing ones) are reported as drift, not silently dropped."""
        ...

    def extract(self, window: Window, on_page: Progress | None = None) -> Extracted:
        """Read every item updated within ``window``."""
        ...

    def map_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """One provider item as a canonical record (values may still be invalid: the schema judges them)."""
        ...

    def item_id(self, item: Mapping[str, Any]) -> Any:
        """The provider's ID of an item, read without trusting the item (for quarantining unmappable ones)."""
        ...


def field_drift(items: list[Any], expected: frozenset[str]) -> dict[str, list[str]]:
    """Fields seen that the provider does not document, and documented fields no item carried."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Mapping):
            seen.update(key for key in item if not str(key).startswith("_"))  # "_" keys are ours, not the provider's
    drift: dict[str, list[str]] = {}
    unknown = sorted(seen - expected)
    missing = sorted(expected - seen) if items else []
    if unknown:
        drift["unknown"] = unknown
    if missing:
        drift["missing"] = missing
    return drift
