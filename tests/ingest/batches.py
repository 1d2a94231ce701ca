"""Lumina items and one-batch loads, for the tests that load straight into PostgreSQL (no flow, no sandbox)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from vodflow.ingest.load import LoadContext, LoadCounts, load_batch
from vodflow.ingest.validate import validate_items
from vodflow.providers.lumina import LUMINA


def item(n: int, **overrides: Any) -> dict[str, Any]:
    base = {
        "id": f"LUM-{n:06d}",
        "type": "movie",
        "title": f"Film {n}",
        "original_title": None,
        "year": 2001,
        "runtime_min": 95,
        "language": "English",
        "genres": ["Drama"],
        "rating": "PG",
        "identifiers": {"imdb": f"tt{n:07d}", "eidr": None},
        "directors": ["Someone"],
        "countries": ["France"],
        "updated_at": f"2026-03-01T00:{n % 60:02d}:00Z",
    }
    base.update(overrides)
    return base


def ctx() -> LoadContext:
    now = datetime.now(UTC)
    return LoadContext(provider="lumina", load_id=uuid.uuid4(), started_at=now, extracted_at=now)


def load(engine: Engine, items: list[dict[str, Any]], context: LoadContext | None = None, **kwargs: Any) -> LoadCounts:
    """Validate ``items`` as lumina's and load them in one batch (``context``: a new load's, unless given)."""
    batch = validate_items("lumina", items, LUMINA.map_item)
    return load_batch(engine, batch, context or ctx(), **kwargs)
