"""EIDR matching task: match the assets a load inserted or changed that came without a valid EIDR ID."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from vodflow.db.engine import get_engine


@task(name="match-eidr", cache_policy=NO_CACHE, retries=0, timeout_seconds=1800)
def match_eidr(provider: str, loaded_since: datetime) -> dict[str, Any]:
    """Match this load's new or changed assets; decisions land in raw.eidr_matches (review ones queued)."""
    from vodflow.eidr.pipeline import match_assets

    logger = get_run_logger()
    summary = match_assets(
        get_engine(),
        provider=provider,
        only_changed_since=loaded_since,
        on_progress=lambda kind, done: logger.info("%s: EIDR matching %s: %d done", provider, kind, done),
    )
    logger.info("%s: EIDR matching: %s", provider, summary)
    return summary.as_dict()
