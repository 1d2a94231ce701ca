"""End to end: ``vodflow demo anomaly`` on the package's shared stack (tests/e2e/conftest.py), twice.

The first run stages meridian's collapse for yesterday in the sandbox, ingests the events through the worker,
runs the anomaly check and waits for the Slack message in the sandbox's inbox (no webhook is set, so ``vodflow up``
pointed the Slack block there). The second run must not send a second message.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from tests.stack.helpers import Stack, vodflow

pytestmark = pytest.mark.slow

PROVIDER = "meridian"
_MESSAGE = re.compile(r"Value (?P<value>[\d.]+), expected (?P<low>[\d.]+) to (?P<high>[\d.]+)")


def sandbox_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports['VODFLOW_SANDBOX_PORT']}"


def inbox(stack: Stack) -> list[dict[str, Any]]:
    response = httpx.get(f"{sandbox_url(stack)}/inbox.json", timeout=10, trust_env=False)
    response.raise_for_status()
    return list(response.json()["messages"])


def about(messages: list[dict[str, Any]], needle: str) -> list[dict[str, Any]]:
    return [m for m in messages if needle in m["text"]]


def served_deliveries(stack: Stack, day: date) -> int:
    """meridian's deliveries on ``day`` as the sandbox serves them: the truth the message is checked against."""
    since = f"{day.isoformat()}T00:00:00Z"
    params: dict[str, Any] = {"since": since, "limit": 5000}
    count = 0
    while True:
        body = httpx.get(f"{sandbox_url(stack)}/events/v1/events", params=params, timeout=30, trust_env=False).json()
        count += sum(
            1
            for e in body["events"]
            if e["provider"] == PROVIDER and e["type"] == "delivered" and e["occurred_at"].startswith(day.isoformat())
        )
        if body["next_cursor"] is None:
            return count
        params = {"since": since, "limit": 5000, "cursor": body["next_cursor"]}


def database(stack: Stack) -> psycopg.Connection[Any]:
    return psycopg.connect(vodflow("db", "url", env=stack.env).stdout.strip(), autocommit=True)


def anomaly_runs_in_flight(stack: Stack) -> int:
    api = f"http://127.0.0.1:{stack.ports['VODFLOW_PREFECT_PORT']}/api"
    body = {
        "flows": {"name": {"any_": ["anomaly-check"]}},
        "flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING", "SCHEDULED"]}}},
    }
    response = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10, trust_env=False)
    response.raise_for_status()
    now = datetime.now(UTC).isoformat()
    return sum(1 for run in response.json() if (run.get("expected_start_time") or now) <= now)  # not the 00:30 one


def settle(stack: Stack, timeout: float = 90) -> None:
    """Wait until no anomaly check is in flight (the one the ingestion's dbt build triggered may run last)."""
    deadline = time.monotonic() + timeout
    while anomaly_runs_in_flight(stack) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(2)  # an announcement is sent within a second of its run's end


def test_the_collapse_is_announced_once_with_its_figures(stack: Stack) -> None:
    started = time.monotonic()
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    earlier = inbox(stack)  # what the tests before this one on the shared stack had announced
    result = vodflow("demo", "anomaly", "--provider", PROVIDER, timeout=900, env=stack.env)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    latency = re.search(r"([\d.]+) s from the start of the anomaly-check run", result.stdout)
    assert latency is not None, result.stdout
    print(f"\nvodflow demo anomaly: {elapsed:.0f} s; anomaly-check start -> inbox: {latency.group(1)} s")
    print(result.stdout)
    assert float(latency.group(1)) < 60
    assert f"{sandbox_url(stack)}/inbox" in result.stdout

    settle(stack)
    needle = f"deliveries for {PROVIDER} on {day.isoformat()}"
    messages = [m for m in inbox(stack) if m not in earlier]
    ours = about(messages, needle)
    assert len(ours) == 1, [m["text"] for m in messages]
    assert about(messages, "anomaly: deliveries for") == ours  # no other provider's deliveries were announced
    text = ours[0]["text"]
    assert "CRITICAL anomaly" in text and "check deliveries_drop" in text

    with database(stack) as conn:
        value, low, high, verdict, history = conn.execute(
            "select value, expected_low, expected_high, verdict, history_points from ops.metric_evaluations "
            "where check_name = 'deliveries_drop' and provider = %s and metric_date = %s",
            (PROVIDER, day),
        ).fetchone()
        others = conn.execute(
            "select provider, verdict from ops.metric_evaluations "
            "where check_name = 'deliveries_drop' and metric_date = %s and provider <> %s order by 1",
            (day, PROVIDER),
        ).fetchall()
        mart = conn.execute(
            "select deliveries from marts.metrics_daily where provider = %s and metric_date = %s", (PROVIDER, day)
        ).fetchone()
    assert (verdict, history) == ("anomaly", 14)
    assert others == [("atlas", "ok"), ("harbor", "ok"), ("lumina", "ok")]
    served = served_deliveries(stack, day)
    assert mart == (served,) and float(value) == served
    figures = _MESSAGE.search(text)
    assert figures is not None, text
    assert float(figures["value"]) == served
    assert float(figures["low"]) == pytest.approx(float(low), abs=5e-5)  # the message rounds to 4 decimals
    assert float(figures["high"]) == pytest.approx(float(high), abs=5e-5)
    assert served < float(low)
    print(f"deliveries_drop {PROVIDER} {day}: value {served}, expected {float(low):.1f} to {float(high):.1f}")


def test_a_second_run_sends_no_second_message(stack: Stack) -> None:
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    needle = f"deliveries for {PROVIDER} on {day.isoformat()}"
    before = inbox(stack)
    assert len(about(before, needle)) == 1
    result = vodflow("demo", "anomaly", "--provider", PROVIDER, timeout=900, env=stack.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already holds" in result.stdout
    assert "Already announced by an earlier run" in result.stdout
    settle(stack)
    after = inbox(stack)
    assert about(after, needle) == about(before, needle)
    assert about(after, "anomaly: deliveries for") == about(before, "anomaly: deliveries for")
