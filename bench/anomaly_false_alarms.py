"""Anomaly detector benchmark: false alarms on 90 normal days, and detection of injected incidents.

The series come from the provider sandbox, deterministically (no ``random``):

* **From the sandbox's supply-chain stream** (``vodflow.sandbox.events.initial_stream``, the same chains the
  ``events`` feed serves: deliveries, QC verdicts with each provider's failure rate, log-normal lead times,
  re-deliveries, ~1 % deliberately bad events): per provider and day, ``deliveries``, ``qc_failure_rate``
  (failed / all QC verdicts), ``median_lead_time_hours`` (delivery → first publication, after a QC pass),
  ``new_assets`` (first deliveries) and ``quarantine_share`` (the share of the day's events that are bad).
* **The sandbox has no weekly rhythm** (chain starts are stratified evenly over 2026-01-01 .. 2026-10-31), so
  weekly seasonality is *derived*: every event is kept with its day's weekday factor (:data:`WEEKDAY_FACTOR`,
  weekends at a third), decided by a hash of its id. And the sandbox's 273 days up to 2026-09-30 are folded into
  the bench's 104 days (each bench day gathers ~2.6 sandbox days), so daily counts are large enough to judge;
  October is left out because chains are cut at the sandbox window's end (a falling tail that is not an incident).
* **Derived, not from the sandbox's data**: ``eidr_match_rate`` (~40 % of new assets arrive without an EIDR ID,
  as lumina's feed; each is matched with probability 0.975, the EIDR bench's recall target) and
  ``ingest_lag_seconds`` (the worst of 24 hourly runs, each log-normal around 90 s), both from hashes.

104 days are generated; the first 14 are history only and the last 90 are judged with the packaged checks
(``vodflow/anomaly/checks.yaml``) by the same :func:`vodflow.anomaly.evaluate.evaluate` the flow runs.
False alarms: ``anomaly`` verdicts on those clean days (target 0). Detection: each incident of
:data:`INCIDENTS` is injected alone, on one day of a clean copy, on :data:`INJECTION_DAYS` days per provider
(every weekday), and counts as detected when a check of its metric says ``anomaly`` that day.

Run: .venv/bin/python bench/anomaly_false_alarms.py
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vodflow.anomaly.checks import load_checks
from vodflow.anomaly.evaluate import MetricTable, evaluate
from vodflow.sandbox.catalogue import WINDOW_START, stable_fraction
from vodflow.sandbox.events import Sizes, initial_stream

SIZES = Sizes(lumina=6000, atlas=600, meridian=2000, harbor_rows=3000)
"""The sandbox's largest film catalogues (atlas at 600 series: ~15,000 episodes), for daily counts worth judging."""

PROVIDERS = ("lumina", "atlas", "harbor", "meridian")
HISTORY_DAYS, JUDGED_DAYS = 14, 90
BENCH_DAYS = HISTORY_DAYS + JUDGED_DAYS
SANDBOX_DAYS = 273  # 2026-01-01 .. 2026-09-30
FOLD = SANDBOX_DAYS / BENCH_DAYS
FIRST_DAY = WINDOW_START.date()
WEEKDAY_FACTOR = (1.0, 1.0, 0.95, 0.95, 0.85, 0.35, 0.3)
"""Monday .. Sunday: the share of a day's work that happens, relative to a Monday."""
INJECTION_DAYS = 14
NOT_JUDGED: dict[str, int] = {}
"""Per incident: injected days every check of its metric called not_enough_data (too little volume that day)."""


@dataclass(frozen=True)
class Incident:
    """One kind of incident: the metric it hits and how."""

    name: str
    metric: str
    change: Callable[[float], float]


INCIDENTS = (
    Incident("deliveries collapse to 10 %", "deliveries", lambda v: float(round(v * 0.1))),
    Incident("EIDR match rate falls to 70 %", "eidr_match_rate", lambda v: 0.70),
    Incident("QC failure rate triples", "qc_failure_rate", lambda v: min(1.0, v * 3 + 0.05)),
    Incident("median lead time triples", "median_lead_time_hours", lambda v: v * 3),
    Incident("quarantine share +10 points", "quarantine_share", lambda v: v + 0.10),
    Incident("ingest lag x10", "ingest_lag_seconds", lambda v: v * 10),
    Incident("no new assets", "new_assets", lambda v: 0.0),
    Incident("new assets x5 (catalogue re-sent)", "new_assets", lambda v: v * 5),
)

Rows = dict[str, dict[date, dict[str, float | None]]]


def _bench_day(moment: str) -> int | None:
    at = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    days = (at - WINDOW_START).total_seconds() / 86400
    if days >= SANDBOX_DAYS:
        return None
    return int(days / FOLD)


def _kept(event_id: str, day: int) -> bool:
    weekday = (FIRST_DAY + timedelta(days=day)).weekday()
    return stable_fraction("bench-weekday", event_id) < WEEKDAY_FACTOR[weekday]


@dataclass
class _Day:
    deliveries: int = 0
    new_assets: int = 0
    qc_passed: int = 0
    qc_failed: int = 0
    events: int = 0
    bad: int = 0


def sandbox_series() -> Rows:
    """Per provider and bench day, the metrics the default checks watch (see the module docstring)."""
    stream = initial_stream(SIZES)
    owner = {e["provider_asset_id"]: e["provider"] for e in stream.events if e["event_id"] not in stream.bad}
    counts: dict[tuple[str, int], _Day] = defaultdict(_Day)
    leads: dict[tuple[str, int], list[float]] = defaultdict(list)
    chains: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    seen: set[str] = set()
    for event in stream.events:
        if event["event_id"] in seen:
            continue  # a duplicate: the feed stores each event once
        seen.add(event["event_id"])
        provider = owner.get(str(event["provider_asset_id"]))
        occurred = str(event["occurred_at"])
        day = _bench_day(occurred if occurred.endswith("Z") else occurred + "Z")
        if provider is None or day is None:
            continue
        if event["event_id"] not in stream.bad:
            chains[(provider, event["provider_asset_id"])].append(event)
        if not _kept(event["event_id"], day):
            continue
        tally = counts[(provider, day)]
        tally.events += 1
        if event["event_id"] in stream.bad:
            tally.bad += 1
            continue
        tally.deliveries += event["type"] == "delivered"
        tally.qc_passed += event["type"] == "qc_passed"
        tally.qc_failed += event["type"] == "qc_failed"
    for (provider, _), events in chains.items():
        ordered = sorted(events, key=lambda e: e["occurred_at"])
        first = ordered[0]
        day = _bench_day(first["occurred_at"])
        if first["type"] == "delivered" and day is not None and _kept(first["event_id"], day):
            counts[(provider, day)].new_assets += 1
        _lead_time(provider, ordered, leads)
    return _rows(counts, leads)


def _lead_time(provider: str, ordered: list[dict[str, str]], leads: dict[tuple[str, int], list[float]]) -> None:
    """Delivery → first publication after the QC pass, dated on the publication day (as fct_deliveries)."""
    delivered_at: str | None = None
    passed = False
    for event in ordered:
        if event["type"] == "delivered":
            delivered_at, passed = event["occurred_at"], False
        elif event["type"] == "qc_passed":
            passed = True
        elif event["type"] == "published" and passed and delivered_at is not None:
            day = _bench_day(event["occurred_at"])
            if day is not None and _kept(event["event_id"], day):
                start = datetime.fromisoformat(delivered_at.replace("Z", "+00:00"))
                end = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
                leads[(provider, day)].append((end - start).total_seconds() / 3600)
            return


def _derived(provider: str, day: int, new_assets: int) -> dict[str, float | None]:
    """eidr_match_rate and ingest_lag_seconds: not in the sandbox's data, derived from hashes (module docstring)."""
    to_match = sum(stable_fraction("bench-eidr", provider, day, n) < 0.4 for n in range(new_assets))
    matched = sum(stable_fraction("bench-match", provider, day, n) < 0.975 for n in range(to_match))
    lags = [90 * math.exp(0.5 * statistics.NormalDist().inv_cdf(_open(provider, day, run))) for run in range(24)]
    return {
        "eidr_match_rate": round(matched / to_match, 4) if to_match else None,
        "ingest_lag_seconds": round(max(lags), 3),
    }


def _open(*parts: object) -> float:
    return min(max(stable_fraction("bench-lag", *parts), 1e-9), 1 - 1e-9)


def _rows(counts: dict[tuple[str, int], _Day], leads: dict[tuple[str, int], list[float]]) -> Rows:
    rows: Rows = {}
    for provider in PROVIDERS:
        for day in range(BENCH_DAYS):
            tally = counts.get((provider, day), _Day())
            decisions = tally.qc_passed + tally.qc_failed
            times = leads.get((provider, day), [])
            rows.setdefault(provider, {})[FIRST_DAY + timedelta(days=day)] = {
                "deliveries": float(tally.deliveries),
                "new_assets": float(tally.new_assets),
                "first_loaded_assets": float(tally.new_assets),
                "qc_decisions": float(decisions),
                "published_deliveries": float(len(times)),
                "received_rows": float(tally.events),
                "qc_failure_rate": round(tally.qc_failed / decisions, 4) if decisions else None,
                "median_lead_time_hours": round(statistics.median(times), 3) if times else None,
                "quarantine_share": round(tally.bad / tally.events, 4) if tally.events else None,
                **_derived(provider, day, tally.new_assets),
            }
    return rows


def _table(rows: Rows) -> MetricTable:
    return MetricTable((p, day, row) for p, days in rows.items() for day, row in days.items())


def main() -> None:
    started = time.perf_counter()
    rows = sandbox_series()
    generated = time.perf_counter() - started
    checks = load_checks()
    judged = [FIRST_DAY + timedelta(days=HISTORY_DAYS + n) for n in range(JUDGED_DAYS)]

    started = time.perf_counter()
    clean = evaluate(checks, _table(rows), judged)
    judging = time.perf_counter() - started
    by_check: dict[str, Counter[str]] = defaultdict(Counter)
    for evaluation in clean:
        by_check[evaluation.check.name][evaluation.result.verdict] += 1
    false_alarms = sum(c["anomaly"] for c in by_check.values())

    print(
        f"Series: {len(PROVIDERS)} providers x {BENCH_DAYS} days from the sandbox ({generated:.1f} s); judged "
        f"{JUDGED_DAYS} days: {len(clean)} evaluations in {judging:.2f} s"
    )
    print()
    print(f"{'check':<26} {'ok':>5} {'anomaly':>8} {'not_enough':>11} {'data_gap':>9}")
    for check in checks:
        c = by_check[check.name]
        print(f"{check.name:<26} {c['ok']:>5} {c['anomaly']:>8} {c['not_enough_data']:>11} {c['data_gap']:>9}")
    print(f"{'false alarms (target 0)':<26} {false_alarms:>14}")
    print()
    print("Daily means (weekday / weekend) of the clean series:")
    for provider in PROVIDERS:
        series = rows[provider]
        week = [r["deliveries"] or 0.0 for d, r in series.items() if d.weekday() < 5]
        weekend = [r["deliveries"] or 0.0 for d, r in series.items() if d.weekday() >= 5]
        print(f"  {provider:<9} deliveries {statistics.mean(week):6.1f} / {statistics.mean(weekend):5.1f}")

    detection = _detection(rows, checks)
    print()
    print(f"{'incident (injected alone, one day)':<36} " + " ".join(f"{p:>9}" for p in PROVIDERS) + f" {'all':>9}")
    for incident in INCIDENTS:
        cells = detection[incident.name]
        found = sum(hit for hit, _ in cells.values())
        tried = sum(n for _, n in cells.values())
        print(
            f"{incident.name:<36} "
            + " ".join(f"{cells[p][0]:>4}/{cells[p][1]:<4}" for p in PROVIDERS)
            + f" {found:>4}/{tried:<4}"
        )
    summary = {
        name: {
            "detected": sum(h for h, _ in cells.values()),
            "injected": sum(n for _, n in cells.values()),
            "not_judged": NOT_JUDGED.get(name, 0),
        }
        for name, cells in detection.items()
    }
    print("(not judged: the day's volume was below the check's min_volume, so the verdict was not_enough_data)")
    for name, figures in summary.items():
        if figures["not_judged"]:
            print(f"  {name}: {figures['not_judged']} of {figures['injected']} injected days not judged")
    detected = sum(s["detected"] for s in summary.values())
    injected = sum(s["injected"] for s in summary.values())
    print(
        json.dumps(
            {
                "bench": "anomaly_false_alarms",
                "providers": len(PROVIDERS),
                "judged_days": JUDGED_DAYS,
                "evaluations": len(clean),
                "false_alarms": false_alarms,
                "not_enough_data": sum(c["not_enough_data"] for c in by_check.values()),
                "data_gaps": sum(c["data_gap"] for c in by_check.values()),
                "detected": detected,
                "injected": injected,
                "detection_rate": round(detected / injected, 4) if injected else None,
                "incidents": summary,
                "judge_seconds": round(judging, 3),
            }
        )
    )


def _detection(rows: Rows, checks: tuple) -> dict[str, dict[str, tuple[int, int]]]:
    """For each incident and provider: (detected, injected) over :data:`INJECTION_DAYS` days, one at a time."""
    result: dict[str, dict[str, tuple[int, int]]] = {}
    days = [
        FIRST_DAY + timedelta(days=HISTORY_DAYS + 3 + n * (JUDGED_DAYS - 4) // INJECTION_DAYS)
        for n in range(INJECTION_DAYS)
    ]
    for incident in INCIDENTS:
        watching = tuple(check for check in checks if check.metric == incident.metric)
        cells: dict[str, tuple[int, int]] = {}
        for provider in PROVIDERS:
            hits = tries = unjudged = 0
            for day in days:
                before = rows[provider][day][incident.metric]
                if before is None:
                    continue  # a gap that day: nothing to change
                copy = {p: dict(series) for p, series in rows.items()}
                copy[provider] = {d: dict(r) for d, r in rows[provider].items()}
                copy[provider][day][incident.metric] = incident.change(before)
                verdicts = evaluate(watching, _table({provider: copy[provider]}), [day])
                tries += 1
                hits += any(e.result.verdict == "anomaly" for e in verdicts)
                unjudged += all(e.result.verdict == "not_enough_data" for e in verdicts)
            cells[provider] = (hits, tries)
            NOT_JUDGED[incident.name] = NOT_JUDGED.get(incident.name, 0) + unjudged
        result[incident.name] = cells
    return result


if __name__ == "__main__":
    main()
