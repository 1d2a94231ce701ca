"""File-drop ingestion flows: ``ingest-harbor`` (CSV drops) and ``ingest-meridian`` (ADI packages, files and API).

``path`` is one file (or several, or the folder) relative to the provider's drop folder, as the
``vodflow.drop.received`` event carries it; no ``path`` means every waiting file (the safety-net schedule).
Anything outside the drop folder fails the run before a byte is read. Each file is claimed (so two runs told
about one file never both read it), loaded in one transaction, then archived, or rejected to ``rejected/`` with
its reason. A run that rejected a file ends Failed, after loading the others, so that the failure alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run

from flows.ingest import INGEST_TIMEOUT_S, run_ingestion, transform_provider
from tasks.drops import emit_drop_events, ingest_documents, ingest_file
from tasks.eidr import match_eidr
from vodflow.db.engine import get_engine
from vodflow.ingest.drop_ledger import claim_files
from vodflow.ingest.drop_load import LOADED, REJECTED_OUTCOME, SKIPPED, FileOutcome
from vodflow.ingest.drops import folder_for
from vodflow.orchestration.late_runs import skip_if_superseded
from vodflow.providers.harbor import HARBOR
from vodflow.providers.meridian import MERIDIAN

PathParameter = str | list[str] | None
MAX_REPLACEMENTS = 10
"""How many files replaced while being read one run goes on to read in their place (a producer rewriting a
file in a loop must not keep a run alive for ever; what is left waits for the next run)."""


class DropRejectedError(RuntimeError):
    """One or more files were rejected (each moved to ``rejected/`` with its reason); the others were loaded."""


def drop_run_name() -> str:
    """``harbor/<file>`` for an event-triggered run, ``harbor/waiting-<time>`` for a sweep of the folder."""
    provider = str(flow_run.flow_name or "ingest").removeprefix("ingest-")
    path = (flow_run.parameters or {}).get("path")
    if isinstance(path, str) and path.strip() not in ("", "."):
        return f"{provider}/{path[:80]}"
    if isinstance(path, list) and path:
        return f"{provider}/{path[0][:60]}{f' +{len(path) - 1}' if len(path) > 1 else ''}"
    return f"{provider}/waiting-{datetime.now(UTC):%Y-%m-%dT%H:%M}"


def _totals(outcomes: list[FileOutcome]) -> dict[str, int]:
    """Row counts summed over loads (documents share one load: counted once)."""
    totals: dict[str, int] = {}
    seen: set[str] = set()
    for outcome in outcomes:
        if outcome.outcome != LOADED or not outcome.counts or outcome.load_id in seen:
            continue
        seen.add(str(outcome.load_id))
        for key, value in outcome.counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def ingest_drops(provider: str, path: PathParameter) -> list[FileOutcome]:
    """Claim and ingest the files ``path`` names (None: every waiting file) in the provider's drop folder."""
    logger = get_run_logger()
    folder = folder_for(provider)
    names = folder.resolve_all(path)
    if not names:
        logger.info("%s: no file waiting in %s", provider, folder.root)
        return []
    run_id = flow_run.id
    with claim_files(get_engine(), provider, names) as claimed:
        outcomes = [FileOutcome(n, SKIPPED, "another run is handling it") for n in names if n not in claimed]
        # Events right after each file: a later file's failure must not swallow an earlier file's events.
        if provider == HARBOR.name:
            waiting = list(claimed)
            while waiting:
                name = waiting.pop(0)
                outcome = ingest_file(HARBOR, folder, name, run_id)
                emit_drop_events(provider, [outcome])
                outcomes.append(outcome)
                if outcome.replaced_by == name and len(outcomes) < len(claimed) + MAX_REPLACEMENTS:
                    # Replaced while it was read: the newcomer holds this run's claim on the name; read it now.
                    logger.info("%s: %s was replaced while it was read; reading the new file", provider, name)
                    waiting.append(name)
        elif claimed:
            documents = ingest_documents(MERIDIAN, folder, claimed, run_id)
            emit_drop_events(provider, documents)
            outcomes += documents
    create_table_artifact(
        key=f"ingest-{provider}-files",
        table=[o.as_dict() for o in outcomes],
        description=f"{provider}: what became of each file (loaded → archive/, rejected → rejected/ with a reason)",
    )
    return outcomes


def _summary(provider: str, outcomes: list[FileOutcome], started_at: datetime) -> dict[str, Any]:
    """The run's result; files that inserted or changed rows are matched to EIDR, as the API flows do."""
    by_outcome = {kind: [o.name for o in outcomes if o.outcome == kind] for kind in (LOADED, REJECTED_OUTCOME, SKIPPED)}
    totals = _totals(outcomes)
    result = {"provider": provider, "files": [o.as_dict() for o in outcomes], **by_outcome, **totals}
    if totals.get("inserted") or totals.get("updated"):
        result["eidr"] = match_eidr(provider, started_at)
    return result


def _raise_if_rejected(provider: str, outcomes: list[FileOutcome]) -> None:
    rejected = [o for o in outcomes if o.outcome == REJECTED_OUTCOME]
    if rejected:
        details = "; ".join(f"{o.name} → {o.stored_as}: {o.reason}" for o in rejected[:5])
        raise DropRejectedError(f"{provider}: {len(rejected)} of {len(outcomes)} files rejected: {details}")


@flow(name="ingest-harbor", flow_run_name=drop_run_name, timeout_seconds=INGEST_TIMEOUT_S, retries=0)
def ingest_harbor(path: PathParameter = None, transform: bool = True) -> dict[str, Any] | State[Any]:
    """Ingest harbor's CSV drops: the file(s) ``path`` names in the drop folder, or every waiting file."""
    if (skipped := skip_if_superseded(flow_run.id)) is not None:
        return skipped
    started_at = datetime.now(UTC)
    outcomes = ingest_drops(HARBOR.name, path)
    result = _summary(HARBOR.name, outcomes, started_at)
    if transform and result[LOADED]:
        result["dbt"] = transform_provider(HARBOR.name)
    _raise_if_rejected(HARBOR.name, outcomes)
    return result


@flow(name="ingest-meridian", flow_run_name=drop_run_name, timeout_seconds=INGEST_TIMEOUT_S, retries=0)
def ingest_meridian(
    path: PathParameter = None,
    start: datetime | None = None,
    end: datetime | None = None,
    api: bool = True,
    transform: bool = True,
) -> dict[str, Any] | State[Any]:
    """Ingest meridian's ADI packages: the file(s) ``path`` names, or every waiting file and then the API.

    The API part (incremental from the cursor, or the ``start``/``end`` window) runs only without ``path`` and
    with ``api`` true. A window (a backfill) reads the API only: waiting files are the schedule's business.
    """
    if (skipped := skip_if_superseded(flow_run.id)) is not None:
        return skipped
    started_at = datetime.now(UTC)
    windowed = start is not None or end is not None
    outcomes = [] if windowed and path is None else ingest_drops(MERIDIAN.name, path)
    result = _summary(MERIDIAN.name, outcomes, started_at)
    if path is None and api:
        result["api"] = run_ingestion(MERIDIAN.name, start, end, transform=False)
    if transform and (result[LOADED] or "api" in result):
        result["dbt"] = transform_provider(MERIDIAN.name)
    _raise_if_rejected(MERIDIAN.name, outcomes)
    return result
