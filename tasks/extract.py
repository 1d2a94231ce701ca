"""Extraction task: read a provider window, with progress in the run's logs."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from vodflow.ingest.pagination import Extracted
from vodflow.providers import get_provider
from vodflow.providers.base import Window


@task(name="extract", cache_policy=NO_CACHE, retries=0, timeout_seconds=1800)
def extract(provider_name: str, window: Window) -> Extracted:
    """Read every item of ``window``; retries live in the HTTP client (bounded attempts), not here."""
    logger = get_run_logger()
    provider = get_provider(provider_name)

    def progress(page: int, items: int) -> None:
        logger.info("%s: page %d read, %d items so far", provider_name, page, items)

    logger.info("%s: extracting updated_since=%s until=%s", provider_name, window.since, window.until)
    result = provider.extract(window, on_page=progress)
    logger.info(
        "%s: %d items in %d pages (%d repeated)", provider_name, len(result.items), result.pages, result.repeated
    )
    return result
