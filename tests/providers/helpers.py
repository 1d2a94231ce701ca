"""Assertions shared by the file-provider tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from flows.drops import DropRejectedError


def adds_up(counts: dict[str, Any]) -> bool:
    """The audit identity every load must satisfy."""
    return counts["received"] == counts["inserted"] + counts["updated"] + counts["unchanged"] + counts["quarantined"]


def run(flow: Callable[..., dict[str, Any]], **params: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Run a flow in-process: its result, or the message of the DropRejectedError it ended with."""
    try:
        return flow(**params), None
    except DropRejectedError as exc:
        return None, str(exc)


def rows(engine: Engine, provider: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("select count(*) from raw.assets where provider = :p"), {"p": provider}).scalar())


def ledger(engine: Engine, provider: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text("select * from ops.drop_files where provider = :p order by drop_file_id"), {"p": provider}
            ).mappings()
        ]


def loads(engine: Engine, provider: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text("select * from ops.loads where provider = :p order by finished_at"), {"p": provider}
            ).mappings()
        ]


def quarantined_ids(engine: Engine, provider: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("select provider_asset_id from ops.quarantine where provider = :p"), {"p": provider}
            ).scalars()
        )


def quarantine_checks(engine: Engine, provider: str, asset_id: str) -> set[str]:
    with engine.connect() as conn:
        reasons = conn.execute(
            text("select reasons from ops.quarantine where provider = :p and provider_asset_id = :id"),
            {"p": provider, "id": asset_id},
        ).scalar()
    return {r["check"] for r in reasons or []}


def listing(folder: Path) -> dict[str, list[str]]:
    """What is where: the top level (files only) and archive/ and rejected/."""
    result = {"top": sorted(p.name for p in folder.iterdir() if p.is_file() or p.is_symlink())}
    for sub in ("archive", "rejected"):
        where = folder / sub
        result[sub] = sorted(p.name for p in where.iterdir()) if where.exists() else []
    return result
