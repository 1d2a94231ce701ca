"""Builders for the EIDR tests: registry extracts, raw assets and IDs."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from vodflow.eidr.ids import format_id


def eidr(name: str) -> str:
    """A valid, deterministic EIDR ID for a test label."""
    return format_id(hashlib.sha256(name.encode()).hexdigest().upper()[:20])


def record(name: str, title: str, **fields: Any) -> dict[str, Any]:
    """A registry record whose ID derives from ``name``."""
    return {"eidr_id": eidr(name), "referent_type": "Movie", "title": title, **fields}


def write_jsonl(path: Path, records: list[dict[str, Any] | str]) -> Path:
    """Write records (dicts as JSON, strings verbatim) one per line."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def insert_assets(engine: Engine, *assets: dict[str, Any]) -> None:
    """Insert (or replace) raw.assets rows; only provider, id and title are needed."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for asset in assets:
            row = {
                "asset_type": "movie",
                "original_title": None,
                "parent_provider_asset_id": None,
                "release_year": None,
                "runtime_minutes": None,
                "language": None,
                "imdb_id": None,
                "eidr_id": None,
                "payload": {},
                **asset,
            }
            row["payload"] = json.dumps(row["payload"])
            row["row_hash"] = hashlib.md5(json.dumps(row, sort_keys=True).encode()).hexdigest()
            conn.execute(
                text(
                    """
                    insert into raw.assets (provider, provider_asset_id, asset_type, title, original_title,
                        parent_provider_asset_id, release_year, runtime_minutes, language, imdb_id, eidr_id,
                        provider_updated_at, payload, row_hash, load_id, extracted_at)
                    values (:provider, :provider_asset_id, :asset_type, :title, :original_title,
                        :parent_provider_asset_id, :release_year, :runtime_minutes, :language, :imdb_id, :eidr_id,
                        :now, cast(:payload as jsonb), :row_hash, :load_id, :now)
                    on conflict (provider, provider_asset_id) do update set
                        title = excluded.title, release_year = excluded.release_year, eidr_id = excluded.eidr_id,
                        runtime_minutes = excluded.runtime_minutes, row_hash = excluded.row_hash,
                        loaded_at = now()
                    """
                ),
                {**row, "now": now, "load_id": uuid.uuid4()},
            )


def matches(engine: Engine) -> dict[str, dict[str, Any]]:
    """raw.eidr_matches by provider_asset_id."""
    with engine.connect() as conn:
        rows = conn.execute(text("select * from raw.eidr_matches")).mappings().all()
    return {row["provider_asset_id"]: dict(row) for row in rows}
