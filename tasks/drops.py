"""Drop-folder tasks: one per large file (harbor), one per group of small documents (meridian), and their events.

Never cached and never retried by Prefect: a file's load is one transaction, and a re-run converges anyway.
"""

from __future__ import annotations

import uuid
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from tasks.events import provider_resource
from vodflow.db.engine import get_engine
from vodflow.ingest.drop_load import (
    LOADED,
    REJECTED_OUTCOME,
    DocumentProvider,
    DropJob,
    FileOutcome,
    StreamProvider,
    ingest_document_files,
    ingest_stream_file,
)
from vodflow.ingest.drops import DropFolder

FILE_TASK_TIMEOUT_S = 3 * 3600


def _job(folder: DropFolder, flow_run_id: str | None) -> DropJob:
    return DropJob(get_engine(), folder, uuid.UUID(flow_run_id) if flow_run_id else None)


def _log(outcome: FileOutcome) -> None:
    logger = get_run_logger()
    if outcome.outcome == REJECTED_OUTCOME:
        logger.warning("%s rejected: %s (now %s)", outcome.name, outcome.reason, outcome.stored_as)
    elif outcome.outcome == LOADED:
        logger.info("%s loaded: %s (now %s)", outcome.name, outcome.counts, outcome.stored_as)
    else:
        logger.info("%s skipped: %s", outcome.name, outcome.reason)


@task(name="ingest-file", cache_policy=NO_CACHE, retries=0, timeout_seconds=FILE_TASK_TIMEOUT_S)
def ingest_file(provider: StreamProvider, folder: DropFolder, name: str, flow_run_id: str | None) -> FileOutcome:
    """Load one file in chunks through one transaction, then archive it (or reject it as a whole)."""
    get_run_logger().info("%s: reading %s", provider.name, name)
    outcome = ingest_stream_file(provider, _job(folder, flow_run_id), name)
    _log(outcome)
    return outcome


@task(name="ingest-documents", cache_policy=NO_CACHE, retries=0, timeout_seconds=FILE_TASK_TIMEOUT_S)
def ingest_documents(
    provider: DocumentProvider, folder: DropFolder, names: list[str], flow_run_id: str | None
) -> list[FileOutcome]:
    """Parse each document (a bad one is rejected alone) and load the good ones, many to a transaction."""
    get_run_logger().info("%s: reading %d files", provider.name, len(names))
    outcomes = ingest_document_files(provider, _job(folder, flow_run_id), names)
    for outcome in outcomes:
        _log(outcome)
    return outcomes


def emit_drop_events(provider: str, outcomes: list[FileOutcome]) -> None:
    """Emit what automations match on.

    Per load ``vodflow.ingest.completed`` (+ ``.quarantined``, ``.schema_drift``), naming its files (documents
    share a load); per rejected file ``vodflow.drop.rejected``.
    """
    resource = provider_resource(provider)
    loads: dict[str, list[FileOutcome]] = {}
    for outcome in outcomes:
        if outcome.outcome == LOADED and outcome.load_id:
            loads.setdefault(outcome.load_id, []).append(outcome)
        elif outcome.outcome == REJECTED_OUTCOME:
            emit_event(
                event="vodflow.drop.rejected",
                resource=resource,
                payload={
                    "file": outcome.name,
                    "reason": outcome.reason,
                    "stored_as": outcome.stored_as,
                    "sha256": outcome.sha256,
                    "bytes": outcome.bytes,
                },
            )
    for load_id, files in loads.items():
        first = files[0]
        counts: dict[str, Any] = dict(first.counts or {})
        names = [f.name for f in files]
        emit_event(
            event="vodflow.ingest.completed",
            resource=resource,
            payload={"load_id": load_id, "files": names, **counts, "loaded": counts["inserted"] + counts["updated"]},
        )
        if counts.get("quarantined"):
            top = sorted(first.quarantine_reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            emit_event(
                event="vodflow.ingest.quarantined",
                resource=resource,
                payload={
                    "load_id": load_id,
                    "files": names,
                    "quarantined": counts["quarantined"],
                    "received": counts["received"],
                    "share": round(counts["quarantined"] / counts["received"], 4) if counts["received"] else 0.0,
                    "top_reasons": [{"check": check, "rows": rows} for check, rows in top],
                },
            )
        if first.field_drift:
            emit_event(
                event="vodflow.ingest.schema_drift",
                resource=resource,
                payload={"load_id": load_id, "files": names, **first.field_drift},
            )
