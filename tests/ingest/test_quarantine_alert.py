"""The quarantined-share alert fires once per incident: on crossing the share, not on every run above it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tasks.events import quarantine_alert_level
from tests.ingest.batches import item
from vodflow.ingest.load import LoadContext, load_batch
from vodflow.ingest.validate import validate_items
from vodflow.providers.lumina import LUMINA


def _run(engine: Engine, bad: int, good: int = 18) -> None:
    items = [item(n) for n in range(good)] + [item(100 + n, title=" ") for n in range(bad)]
    now = datetime.now(UTC)
    load_batch(engine, validate_items("lumina", items, LUMINA.map_item), LoadContext("lumina", uuid.uuid4(), now, now))


def test_crossing_is_new_staying_above_is_ongoing_recovering_resets(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VODFLOW_ALERT_QUARANTINE_SHARE", "0.05")
    this_run = str(uuid.uuid4())
    assert quarantine_alert_level("lumina", this_run, 0.10) == "new"  # no earlier run
    _run(db, bad=2)  # 10 % quarantined
    assert quarantine_alert_level("lumina", this_run, 0.10) == "ongoing"
    assert quarantine_alert_level("lumina", this_run, 0.01) == "below"
    _run(db, bad=0)  # recovered
    assert quarantine_alert_level("lumina", this_run, 0.10) == "new"
    monkeypatch.setenv("VODFLOW_ALERT_QUARANTINE_SHARE", "0.2")
    assert quarantine_alert_level("lumina", this_run, 0.10) == "below"
