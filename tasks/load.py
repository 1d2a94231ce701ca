"""Load task: one transaction for rows, quarantine, cursor and audit. Never cached: loads have side effects."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from vodflow.db.engine import get_engine
from vodflow.ingest.load import LoadContext, LoadCounts, load_batch
from vodflow.ingest.validate import ValidatedBatch


@task(name="load", cache_policy=NO_CACHE, retries=0, timeout_seconds=1800)
def load(batch: ValidatedBatch, ctx: LoadContext) -> LoadCounts:
    """Upsert the batch; a re-run of the same batch writes nothing new (safe under flow retries)."""
    counts = load_batch(get_engine(), batch, ctx)
    get_run_logger().info("%s: loaded %s", ctx.provider, counts.as_dict())
    return counts
