"""Recommendations derived from the report's figures: each rule reads one section and says what to do.

The thresholds are here, in one place, so the docs (docs/health-report.md) and the tests can name them. A rule
never fires on a provider without history: there is nothing to judge yet, which the report already says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vodflow.health.report import HealthReport

#: A reason that quarantines at least this share of a provider's received rows gets its own recommendation.
QUARANTINE_REASON_SHARE = 0.05
#: A field present on fewer assets than this (year, runtime, language) is worth asking the provider for.
COMPLETENESS_FLOOR = 0.90
#: The share of assets with an EIDR ID below which a provider needs attention (VOD platforms require the ID).
EIDR_COVERAGE_FLOOR = 0.90
#: A review older than this means the queue is not being worked.
REVIEW_MAX_AGE_DAYS = 7.0
#: Runs in the window: a lower success rate is worth a look at the failed runs.
RUN_SUCCESS_FLOOR = 0.95
#: QC failure rate above which the provider should hear about it, given enough verdicts to mean something.
QC_FAILURE_CEILING = 0.10
QC_MIN_DECISIONS = 10
#: p95 ingest lag over the last day above which the schedule is too sparse or runs are slow (seconds).
LAG_P95_CEILING = 3600.0

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
_COMPLETENESS_FIELDS = {"release_year": "year", "runtime_minutes": "runtime", "language_code": "language"}


@dataclass(frozen=True)
class Recommendation:
    """One thing to do, and the figure behind it."""

    severity: str
    provider: str | None
    text: str
    rule: str


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %" if value >= 0.01 else f"{value * 100:.1f} %"


def _hours(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h"


def _advice(label: str) -> str:
    if label.startswith("missing"):
        return "ask for the field or default it in staging"
    if "eidr" in label.lower():
        return "ask the provider to correct the IDs, or drop them in staging so the EIDR matcher finds the asset"
    return "ask the provider to correct the values, or null them in staging if the field is optional"


def _quarantine(report: HealthReport) -> list[Recommendation]:
    received = {summary.provider: summary.received for summary in report.runs.summaries}
    result = []
    for reason in report.quarantine.reasons:
        if not report.has_history(reason.provider) or not received.get(reason.provider):
            continue
        share = reason.rows / received[reason.provider]
        if share >= QUARANTINE_REASON_SHARE:
            result.append(
                Recommendation(
                    "high" if share >= 4 * QUARANTINE_REASON_SHARE else "medium",
                    reason.provider,
                    f"{reason.provider}: {_pct(share)} of rows quarantined for {reason.label} "
                    f"({reason.rows:,} of {received[reason.provider]:,}) — {_advice(reason.label)}",
                    "quarantine_reason_share",
                )
            )
    return result


def _freshness(report: HealthReport) -> list[Recommendation]:
    result = []
    for row in report.freshness.sources:
        if row.status not in ("warn", "error") or row.age is None:
            continue
        limit = row.error_after if row.status == "error" else row.warn_after
        assert limit is not None  # a status of warn or error implies its threshold
        result.append(
            Recommendation(
                "high" if row.status == "error" else "medium",
                row.label,
                f"{row.label}: newest row {_hours(row.age)} old (over the {row.status} threshold of {_hours(limit)}) "
                "— check its deployment's schedule and runs, then the provider's feed",
                "freshness",
            )
        )
    return result


def _catalogue(report: HealthReport) -> list[Recommendation]:
    result = []
    for row in report.catalogue.completeness:
        for column, name in _COMPLETENESS_FIELDS.items():
            share = row.shares[column]
            if share is not None and share < COMPLETENESS_FLOOR:
                have = f"only {_pct(share)} of assets have" if share else "no asset has"
                result.append(
                    Recommendation(
                        "low",
                        row.provider,
                        f"{row.provider}: {have} a {name} — ask the provider to send it",
                        "completeness",
                    )
                )
    for coverage in report.catalogue.eidr:
        covered = coverage.coverage
        if covered is not None and covered < EIDR_COVERAGE_FLOOR:
            result.append(
                Recommendation(
                    "medium",
                    coverage.provider,
                    f"{coverage.provider}: {_pct(1 - covered)} of assets have no EIDR ID "
                    f"({coverage.counts.get('unmatched', 0):,} unmatched, {coverage.counts.get('in review', 0):,} in "
                    "review) — ask the provider for EIDR IDs, load a fresher registry extract, work the review queue",
                    "eidr_coverage",
                )
            )
    waiting = sum(row.pending for row in report.catalogue.backlog)
    oldest = max((row.oldest_age_days or 0.0 for row in report.catalogue.backlog), default=0.0)
    if waiting and oldest > REVIEW_MAX_AGE_DAYS:
        result.append(
            Recommendation(
                "medium",
                None,
                f"{waiting:,} EIDR matches wait for review, the oldest for {oldest:.0f} days — "
                "`vodflow eidr review list`, then accept or reject",
                "review_backlog",
            )
        )
    return result


def _operations(report: HealthReport) -> list[Recommendation]:
    result = []
    for summary in report.runs.summaries:
        rate = summary.success_rate
        if rate is not None and rate < RUN_SUCCESS_FLOOR:
            cause = f" (most often: {summary.top_error})" if summary.top_error else ""
            result.append(
                Recommendation(
                    "high",
                    summary.provider,
                    f"{summary.provider}: {summary.runs - summary.succeeded} of {summary.runs} runs failed{cause} — "
                    "open the failed runs in the Prefect UI",
                    "run_success_rate",
                )
            )
    for lag in report.freshness.lags:
        if lag.p95 is not None and lag.p95 > LAG_P95_CEILING:
            result.append(
                Recommendation(
                    "medium",
                    lag.provider,
                    f"{lag.provider}: p95 ingest lag {_hours(timedelta(seconds=lag.p95))} over the last day — "
                    "ingest more often or look for slow runs",
                    "ingest_lag",
                )
            )
    for supply in report.supply.summaries:
        rate = supply.qc_failure_rate
        if rate is not None and supply.qc_decided >= QC_MIN_DECISIONS and rate > QC_FAILURE_CEILING:
            cause = f" (most often: {supply.top_failure})" if supply.top_failure else ""
            result.append(
                Recommendation(
                    "medium",
                    supply.provider,
                    f"{supply.provider}: {_pct(rate)} of deliveries failed QC{cause} — share the QC findings "
                    "with the provider",
                    "qc_failure_rate",
                )
            )
    return result


def _pipeline(report: HealthReport) -> list[Recommendation]:
    result = []
    if report.dbt.failures:
        names = ", ".join(problem.name for problem in report.dbt.failures[:3])
        result.append(
            Recommendation(
                "high",
                None,
                f"dbt: {len(report.dbt.failures)} nodes failed in the last build ({names}) — the marts may be stale",
                "dbt_failures",
            )
        )
    if report.dbt.warnings:
        names = ", ".join(problem.name for problem in report.dbt.warnings[:3])
        result.append(
            Recommendation("low", None, f"dbt: {len(report.dbt.warnings)} tests warned ({names})", "dbt_warnings")
        )
    seen: set[tuple[str, str]] = set()
    for anomaly in report.anomalies.anomalies:  # newest first
        if (anomaly.check, anomaly.provider) in seen:
            continue
        seen.add((anomaly.check, anomaly.provider))
        result.append(
            Recommendation(
                "high" if anomaly.severity == "critical" else "medium",
                anomaly.provider,
                f"{anomaly.provider}: {anomaly.check} flagged {anomaly.metric} on {anomaly.metric_date} — "
                "confirm with the provider whether it is real",
                "anomaly",
            )
        )
    failed = report.alerts.counts.get("prefect.automation.action.failed", 0)
    if failed:
        result.append(
            Recommendation(
                "high",
                None,
                f"{failed} alert deliveries failed — check the Slack and email settings (`vodflow status`)",
                "alert_delivery",
            )
        )
    for provider in report.providers:
        if not report.has_history(provider):
            result.append(
                Recommendation(
                    "low",
                    provider,
                    f"{provider}: no run yet — `vodflow ingest {provider}` once its access is set up",
                    "no_history",
                )
            )
    return result


def recommend(report: HealthReport) -> list[Recommendation]:
    """Every rule's recommendations, most severe first."""
    found = [
        *_quarantine(report),
        *_freshness(report),
        *_catalogue(report),
        *_operations(report),
        *_pipeline(report),
    ]
    return sorted(found, key=lambda item: SEVERITY_ORDER[item.severity])
