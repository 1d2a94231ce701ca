"""The ``transform`` flow: ``dbt build`` of the analytics layer (staging → intermediate → marts).

Each provider's ingestion flow calls it as a sub-flow with ``select=["source:<provider>+"]`` so that provider's
new rows reach the marts within minutes; its own deployment runs it with no selection to rebuild everything.
A failed model or a failed test of severity error fails the run; a test of severity warn emits
``vodflow.dbt.test_failed`` (so does a failed one) for automations to alert on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event
from prefect.runtime import flow_run

from vodflow.db.build_state import marts_are_current
from vodflow.db.engine import get_engine
from vodflow.dbt import DbtBuildError, DbtBuildSummary, build
from vodflow.dbt.selection import FEED_SOURCES
from vodflow.orchestration.windows import window_label

#: A selector's dbt source back to the provider (or feed) it belongs to: ``supply_chain`` → ``events``.
PROVIDER_OF_SOURCE = {source: feed for feed, source in FEED_SOURCES.items()}

TRANSFORM_TIMEOUT_SECONDS = 30 * 60
ARTIFACT_KEY = "dbt-build"
TEST_RESOURCE_TYPES = ("test", "unit_test")
_SOURCE_SELECTOR = re.compile(r"^\+?source:(?P<provider>[a-z0-9_]+)(\.[a-z0-9_]+)?\+?$")


def transform_run_name() -> str:
    """``dbt/source:lumina+``, ``dbt/all`` (+full-refresh, a window): the runs list reads as what was built."""
    params = flow_run.parameters or {}
    select = params.get("select") or ["all"]
    suffix = " +full-refresh" if params.get("full_refresh") else ""
    if params.get("start") and params.get("end"):
        try:
            suffix += f" {window_label(params['start'], params['end'])}"
        except ValueError:
            pass
    return f"dbt/{' '.join(str(s) for s in select)}{suffix}"


@flow(
    name="transform",
    description="dbt build of vodflow's analytics layer; select source:<provider>+ to rebuild one provider's part.",
    timeout_seconds=TRANSFORM_TIMEOUT_SECONDS,
    log_prints=False,
    flow_run_name=transform_run_name,
)
def transform(
    select: list[str] | None = None,
    full_refresh: bool = False,
    vars: dict[str, str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    unless_current: str | None = None,
) -> DbtBuildSummary:
    """Run ``dbt build`` and report what it did.

    Args:
        select: dbt selectors, e.g. ``["source:lumina+"]``; ``None`` builds the whole project.
        full_refresh: Rebuild incremental models from scratch (needed after a mart's contract changes).
        vars: dbt variables, e.g. ``{"lookback_minutes": "240"}`` to re-read late rows further back.
        start: With ``end``, a backfill window: incremental marts also re-read the rows whose business time
            (provider_updated_at, occurred_at, a run's start, a metric's day) falls in [start, end).
        end: The window's end (exclusive).
        unless_current: A provider: once this build holds the dbt slot, it is skipped if the marts already cover
            every row that provider loaded or quarantined (a build that ran while this one waited did its work).
            How a burst of loads (20 files dropped at once) costs a few builds instead of one each.

    Returns:
        The build summary (plain data; ``.to_dict()`` for JSON).

    Raises:
        ValueError: A window with only one bound, or whose start is not before its end; dbt does not run.
        DbtBuildError: A model or a test of severity error failed; the artifact and events are created first.
    """
    vars = {**(vars or {}), **window_vars(start, end)}
    logger = get_run_logger()
    logger.info("dbt build: select=%s full_refresh=%s vars=%s", select or "everything", full_refresh, vars or {})
    try:
        summary = build(select, full_refresh=full_refresh, vars=vars or None, unless=_covered(unless_current))
    except DbtBuildError as exc:
        _report(exc.summary, select)
        logger.error("%s", exc)
        raise
    if summary.covered_by_earlier_build:
        logger.info("dbt build skipped: a build that ran while this one waited covered every row of %s", unless_current)
        return summary
    _report(summary, select)
    logger.info(
        "dbt build done in %.1f s: %d models, %d tests, statuses %s",
        summary.elapsed_seconds,
        len(summary.of_type("model")),
        sum(len(summary.of_type(kind)) for kind in TEST_RESOURCE_TYPES),
        summary.counts,
    )
    for node in summary.warnings:
        logger.warning("%s %s: %s", node.resource_type, node.name, node.message)
    return summary


def _covered(provider: str | None) -> Callable[[], bool] | None:
    """The check ``build`` makes once it holds the dbt slot (None: always build)."""
    if provider is None:
        return None
    return lambda: marts_are_current(get_engine(), provider)


def window_vars(start: datetime | None, end: datetime | None) -> dict[str, str]:
    """The dbt vars of a backfill window, refused before dbt runs when it makes no sense."""
    if start is None and end is None:
        return {}
    if start is None or end is None:
        raise ValueError("a backfill window needs both start and end")
    start, end = _aware(start), _aware(end)
    if start >= end:
        raise ValueError(f"backfill window start {start.isoformat()} is not before its end {end.isoformat()}")
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC, as everywhere in vodflow."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _report(summary: DbtBuildSummary, select: list[str] | None) -> None:
    create_markdown_artifact(
        key=ARTIFACT_KEY,
        markdown=summary_markdown(summary, select),
        description="What the dbt build did: nodes built, tests passed and failed.",
    )
    _emit_test_events(summary, select)


def summary_markdown(summary: DbtBuildSummary, select: list[str] | None = None) -> str:
    """A person-readable account of a build: counts, failures, then every node."""
    tests = [node for kind in TEST_RESOURCE_TYPES for node in summary.of_type(kind)]
    passed = sum(1 for node in tests if node.status == "pass")
    failed = sum(1 for node in tests if node.status in ("fail", "error"))
    warned = sum(1 for node in tests if node.status == "warn")
    lines = [
        f"# dbt build: {'succeeded' if summary.success else 'FAILED'}",
        "",
        f"`dbt {' '.join(summary.command)}` — selection: {', '.join(select) if select else 'everything'}",
        "",
        "| models built | tests passed | tests failed | tests warned | seconds |",
        "|---:|---:|---:|---:|---:|",
        f"| {sum(1 for n in summary.of_type('model') if n.status == 'success')} | {passed} | {failed} | {warned} "
        f"| {summary.elapsed_seconds:.1f} |",
        "",
    ]
    if summary.failures:
        lines += ["## Failures", "", "| node | status | message |", "|---|---|---|"]
        lines += [f"| {n.resource_type} `{n.name}` | {n.status} | {_cell(n.message)} |" for n in summary.failures]
        lines.append("")
    if summary.error and not summary.nodes:
        lines += ["## Error", "", "```", summary.error, "```", ""]
    if summary.nodes:
        lines += ["## Nodes", "", "| type | name | status | seconds |", "|---|---|---|---:|"]
        lines += [f"| {n.resource_type} | `{n.name}` | {n.status} | {n.execution_time:.2f} |" for n in summary.nodes]
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _emit_test_events(summary: DbtBuildSummary, select: list[str] | None) -> None:
    related: list[dict[str, Any]] = []
    for selector in select or []:
        match = _SOURCE_SELECTOR.match(selector)
        if match and match.group("provider") != "ops":  # the load audit's source is no provider
            provider = PROVIDER_OF_SOURCE.get(match.group("provider"), match.group("provider"))
            related.append(
                {
                    "prefect.resource.id": f"vodflow.provider.{provider}",
                    "prefect.resource.role": "provider",
                    "prefect.resource.name": provider,
                }
            )
    tests = [node for node in [*summary.failures, *summary.warnings] if node.resource_type in TEST_RESOURCE_TYPES]
    warned = [node.name for node in tests if node.status == "warn"]
    for node in tests:
        emit_event(
            event="vodflow.dbt.test_failed",
            resource={"prefect.resource.id": f"vodflow.dbt.{node.name}", "prefect.resource.name": node.name},
            related=related,
            payload={
                "unique_id": node.unique_id,
                "status": node.status,
                "severity": "warn" if node.status == "warn" else "error",
                "message": node.message,
                # The whole build's warnings, so one digest message can name them all (vodflow/alerts).
                "warnings_in_build": len(warned),
                "warned_tests": warned[:20],
            },
        )
