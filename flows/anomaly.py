"""The ``anomaly-check`` flow: every metric check, for every provider, on the latest complete day(s).

Reads ``marts.metrics_daily``, scores each check (``vodflow/anomaly/checks.yaml`` or ``$VODFLOW_ANOMALY_CHECKS``),
writes every verdict to ``ops.metric_evaluations`` (one row per check, provider and day: re-runs replace, never
duplicate) and announces what the alert state decides: ``vodflow.metric.anomaly`` once per suppression window,
``vodflow.metric.recovered`` once when an anomaly ends. See docs/anomaly-detection.md.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from vodflow.anomaly.checks import Check, load_checks
from vodflow.anomaly.evaluate import Evaluation, MetricTable, evaluate, metrics_read, training_days
from vodflow.anomaly.events import emit_alert
from vodflow.anomaly.store import Alert, read_metrics, record
from vodflow.db.engine import get_engine

ARTIFACT_KEY = "anomaly-check"
MAX_DAYS = 366


def latest_complete_day(now: datetime | None = None) -> date:
    """Yesterday in UTC: today's metrics are still growing, so judging them would alarm on every morning."""
    return ((now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=1)).date()


def anomaly_run_name() -> str:
    """``anomaly/2026-11-29`` (or ``anomaly/latest``): the runs list reads as the day judged."""
    as_of = (flow_run.parameters or {}).get("as_of")
    return f"anomaly/{as_of or 'latest'}"


@task(name="read-metrics", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10, timeout_seconds=300)
def read_metrics_task(checks: tuple[Check, ...], first: date, last: date) -> MetricTable:
    """Read the mart over the judged days and their training windows (a read: safe to retry)."""
    return read_metrics(get_engine(), metrics_read(checks), first, last)


@task(name="record-evaluations", cache_policy=NO_CACHE, retries=0, timeout_seconds=300)
def record_task(evaluations: list[Evaluation], now: datetime, run_id: uuid.UUID | None) -> list[Alert]:
    """Upsert the verdicts and advance the alert state in one transaction; not retried (it decides announcements)."""
    return record(get_engine(), evaluations, now, run_id)


@flow(
    name="anomaly-check",
    description="Score every metric check on marts.metrics_daily; record every verdict; announce anomalies.",
    flow_run_name=anomaly_run_name,
    timeout_seconds=900,
    retries=0,
    log_prints=False,
)
def anomaly_check(as_of: date | None = None, days: int = 1) -> dict[str, Any]:
    """Judge ``days`` days ending on ``as_of`` (default: the latest complete UTC day).

    Args:
        as_of: The last day to judge; a past day re-evaluates it (its verdicts are replaced; the current alert
            state does not move back).
        days: How many days ending on ``as_of`` to judge (a run that was down for a while catches up).

    Returns:
        The days judged, the verdict counts and the events sent.
    """
    logger = get_run_logger()
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    last = as_of or latest_complete_day()
    judged = [last - timedelta(days=n) for n in range(days - 1, -1, -1)]
    checks = tuple(check for check in load_checks() if check.enabled)
    longest = max((training_days(check) for check in checks), default=0)
    table = read_metrics_task(checks, judged[0] - timedelta(days=longest), last)
    evaluations = evaluate(checks, table, judged)
    run_id = uuid.UUID(flow_run.id) if flow_run.id else None
    alerts = record_task(evaluations, datetime.now(UTC), run_id)
    sent = Counter(alert.kind for alert in alerts)
    for alert in alerts:
        emit_alert(alert)
        evaluation = alert.evaluation
        logger.warning(
            "%s: %s %s on %s (value %s, expected %s..%s)",
            alert.kind,
            evaluation.check.name,
            evaluation.provider,
            evaluation.metric_date,
            evaluation.result.value,
            evaluation.result.expected_low,
            evaluation.result.expected_high,
        )
    verdicts = Counter(e.result.verdict for e in evaluations)
    logger.info("judged %s..%s: %d evaluations %s", judged[0], last, len(evaluations), dict(verdicts))
    create_table_artifact(
        key=ARTIFACT_KEY,
        table=[_artifact_row(e) for e in evaluations if e.result.verdict != "ok"] or [{"verdict": "all ok"}],
        description=f"anomaly checks {judged[0]}..{last}: every verdict other than ok",
    )
    return {
        "as_of": last.isoformat(),
        "days": [day.isoformat() for day in judged],
        "evaluations": len(evaluations),
        "verdicts": dict(verdicts),
        "anomaly_events": sent["anomaly"],
        "recovered_events": sent["recovered"],
    }


def _artifact_row(evaluation: Evaluation) -> dict[str, Any]:
    result = evaluation.result
    return {
        "check": evaluation.check.name,
        "provider": evaluation.provider,
        "metric_date": evaluation.metric_date.isoformat(),
        "verdict": result.verdict,
        "value": result.value,
        "expected_low": None if result.expected_low is None else round(result.expected_low, 4),
        "expected_high": None if result.expected_high is None else round(result.expected_high, 4),
        "detail": result.detail,
    }
