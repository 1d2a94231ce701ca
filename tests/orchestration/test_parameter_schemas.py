"""The parameter schemas Prefect derives from the flows: what the UI's Run form shows and the server enforces."""

from __future__ import annotations

from prefect.utilities.callables import parameter_schema

from flows.backfill import backfill
from flows.ingest import ingest_lumina


def test_the_backfill_form_has_a_provider_list_dates_and_bounds() -> None:
    schema = parameter_schema(backfill.fn).model_dump_for_openapi()
    properties = schema["properties"]
    assert set(schema["required"]) == {"provider", "start", "end"}
    assert properties["provider"]["enum"] == ["lumina", "atlas", "meridian", "events"]
    assert properties["start"]["format"] == properties["end"]["format"] == "date-time"
    assert (properties["max_concurrency"]["minimum"], properties["max_concurrency"]["maximum"]) == (1, 4)
    assert properties["chunk"]["default"] == "1d"
    assert "30m, 6h, 1d" in properties["chunk"]["description"]


def test_an_ingestion_form_describes_its_window() -> None:
    properties = parameter_schema(ingest_lumina.fn).model_dump_for_openapi()["properties"]
    assert set(properties) == {"start", "end", "transform"}
    assert "backfill window" in properties["start"]["description"]
    assert properties["transform"]["default"] is True
