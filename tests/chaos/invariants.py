"""The promise, checked after a fault: what the provider served is in ``raw`` or ``ops.quarantine`` exactly once.

Each chaos test injects a fault, lets the pipeline converge (retries, a re-run) and then calls
:func:`check_served` with what the provider serves *now* (read straight from the sandbox, not through vodflow's
client), and records one row of the suite's table (:func:`record`): fault, injection, rows served, rows in raw +
quarantine, duplicates, seconds to converge. The table is written to ``test-output/chaos/results.md``.
"""

from __future__ import annotations

import fcntl
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

RESULTS_DIR = Path(__file__).resolve().parents[2] / "test-output" / "chaos"


@dataclass(frozen=True)
class Served:
    """One item as the provider serves it now."""

    id: str
    updated_at: datetime | None
    """None for an item that cannot be read as a row at all (it must be in quarantine)."""


@dataclass(frozen=True)
class Outcome:
    """What :func:`check_served` found; every field but the counts must be empty or zero for the promise to hold."""

    served: int
    in_raw: int
    in_quarantine: int
    missing: list[str]
    stale: list[str]
    bad_in_raw: list[str]
    duplicates: int
    cursor_ahead: bool
    inserted_total: int

    @property
    def covered(self) -> int:
        """Served rows found in raw or quarantine (each once)."""
        return self.in_raw + self.in_quarantine


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def lumina_served(sandbox_url: str) -> list[Served]:
    """Every lumina title the sandbox serves now, paged by hand with the largest page (nothing edits it meanwhile)."""
    served: list[Served] = []
    page: int | None = 1
    with httpx.Client(base_url=sandbox_url, timeout=30, trust_env=False) as client:
        while page is not None:
            response = client.get("/lumina/v1/titles", params={"page": page, "page_size": 1000})
            response.raise_for_status()
            body = response.json()
            served.extend(Served(str(i["id"]), _instant(str(i["updated_at"]))) for i in body["items"])
            page = body["next_page"]
    return served


def check_served(engine: Engine, provider: str, served: list[Served], bad_ids: set[str]) -> Outcome:
    """Compare what ``provider`` serves with what the database holds for it.

    * every good served item is in ``raw.assets`` at its served version (``provider_updated_at``), once;
    * every deliberately bad one is in ``ops.quarantine`` and not in raw;
    * no key twice (raw, and the quarantine's (provider, row hash));
    * the cursor is not ahead of the newest timestamp committed (raw or quarantine);
    * the successful loads' ``inserted`` add up to the rows in raw: no row was inserted twice.
    """
    with engine.connect() as conn:
        raw = dict(
            conn.execute(
                text("select provider_asset_id, provider_updated_at from raw.assets where provider = :p"),
                {"p": provider},
            ).all()
        )
        quarantined = set(
            conn.execute(
                text("select distinct provider_asset_id from ops.quarantine where provider = :p"), {"p": provider}
            ).scalars()
        )
        duplicates = conn.execute(
            text(
                "select (select count(*) - count(distinct provider_asset_id) from raw.assets where provider = :p)"
                " + (select count(*) - count(distinct row_hash) from ops.quarantine where provider = :p)"
            ),
            {"p": provider},
        ).scalar_one()
        cursor_ahead = conn.execute(
            text(
                """
                select coalesce(c.cursor_value > greatest(
                    (select max(provider_updated_at) from raw.assets where provider = :p),
                    (select max((raw_row ->> 'updated_at')::timestamptz) from ops.quarantine where provider = :p)
                ), false)
                from ops.ingest_cursors c where c.provider = :p
                """
            ),
            {"p": provider},
        ).scalar()
        inserted_total = conn.execute(
            text("select coalesce(sum(inserted), 0) from ops.loads where provider = :p and status = 'succeeded'"),
            {"p": provider},
        ).scalar_one()
    good = [s for s in served if s.id not in bad_ids]
    missing = [s.id for s in served if s.id not in raw and s.id not in quarantined]
    stale = [s.id for s in good if s.id in raw and raw[s.id] != s.updated_at]
    bad_in_raw = sorted(bad_ids & set(raw))
    return Outcome(
        served=len(served),
        in_raw=sum(1 for s in good if s.id in raw),
        in_quarantine=sum(1 for s in served if s.id in quarantined and (s.id in bad_ids or s.id not in raw)),
        missing=missing,
        stale=stale,
        bad_in_raw=bad_in_raw,
        duplicates=int(duplicates),
        cursor_ahead=bool(cursor_ahead),
        inserted_total=int(inserted_total),
    )


def assert_promise(outcome: Outcome, raw_rows: int | None = None) -> None:
    """Fail with everything that is wrong, not only the first thing."""
    problems = {
        "missing (served, in neither raw nor quarantine)": outcome.missing,
        "stale (raw holds another version than served)": outcome.stale,
        "deliberately bad rows in raw": outcome.bad_in_raw,
    }
    found = {name: ids[:10] for name, ids in problems.items() if ids}
    if outcome.duplicates:
        found["duplicate keys"] = [str(outcome.duplicates)]
    if outcome.cursor_ahead:
        found["cursor ahead of committed data"] = ["yes"]
    if outcome.covered != outcome.served:
        found["covered != served"] = [f"{outcome.covered} != {outcome.served}"]
    if raw_rows is not None and outcome.inserted_total != raw_rows:
        found["inserted across loads != rows in raw"] = [f"{outcome.inserted_total} != {raw_rows}"]
    assert not found, json.dumps(found, indent=1)


def assert_lumina_promise(engine: Engine, sandbox_url: str, bad_ids: set[str]) -> Outcome:
    """The promise for lumina, against what the sandbox at ``sandbox_url`` serves now (``bad_ids``: the items it
    serves broken on purpose, which belong in quarantine)."""
    outcome = check_served(engine, "lumina", lumina_served(sandbox_url), bad_ids)
    with engine.connect() as conn:
        raw_rows = conn.execute(text("select count(*) from raw.assets where provider = 'lumina'")).scalar_one()
    assert_promise(outcome, raw_rows=int(raw_rows))
    return outcome


def record(fault: str, injection: str, outcome: Outcome | dict[str, Any], converge_s: float, note: str = "") -> None:
    """Add one row to the suite's results (JSON lines, and the Markdown table rebuilt from them)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    figures = asdict(outcome) if isinstance(outcome, Outcome) else dict(outcome)
    row = {
        "fault": fault,
        "injection": injection,
        "served": figures.get("served"),
        "raw_plus_quarantine": figures.get("in_raw", 0) + figures.get("in_quarantine", 0)
        if "in_raw" in figures
        else figures.get("raw_plus_quarantine"),
        "duplicates": figures.get("duplicates", 0),
        "converge_s": round(converge_s, 1),
        "note": note,
    }
    lines = RESULTS_DIR / "results.jsonl"
    with (RESULTS_DIR / ".lock").open("w") as lock:  # two test workers may record at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [json.loads(line) for line in lines.read_text().splitlines()] if lines.exists() else []
        rows = [r for r in rows if r["fault"] != fault] + [row]
        lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
        _write_table(rows)


def _write_table(rows: list[dict[str, Any]]) -> None:
    table = [
        "| fault | injected | rows served | rows in raw + quarantine | duplicates | time to converge (s) | note |",
        "|---|---|---:|---:|---:|---:|---|",
        *(
            f"| {r['fault']} | {r['injection']} | {r['served']} | {r['raw_plus_quarantine']} | {r['duplicates']} "
            f"| {r['converge_s']} | {r['note']} |"
            for r in rows
        ),
    ]
    (RESULTS_DIR / "results.md").write_text("\n".join(table) + "\n")
