"""Validation task: canonical rows that load, and quarantined rows with their reasons."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from vodflow.ingest.pagination import Extracted
from vodflow.ingest.validate import ValidatedBatch, validate_items
from vodflow.providers import get_provider
from vodflow.providers.base import field_drift


@task(name="validate", cache_policy=NO_CACHE, retries=0, timeout_seconds=1800)
def validate(provider_name: str, extracted: Extracted) -> ValidatedBatch:
    """Map and validate; report provider field drift instead of silently ignoring it."""
    logger = get_run_logger()
    provider = get_provider(provider_name)
    batch = validate_items(
        provider_name, extracted.items, provider.map_item, id_of=provider.item_id, repeated=extracted.repeated
    )
    batch.field_drift = field_drift(extracted.items, provider.expected_fields)
    if batch.field_drift:
        logger.warning("%s: provider fields changed: %s", provider_name, batch.field_drift)
    logger.info(
        "%s: %d valid, %d quarantined, %d duplicates superseded",
        provider_name,
        len(batch.valid),
        len(batch.quarantined),
        batch.deduplicated,
    )
    return batch
