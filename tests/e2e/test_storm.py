"""The storm test, through the real server, its automations and the stack's Slack inbox: the same anomaly
re-evaluated 10 times sends exactly one message.

A provider that exists only here (``stormtest``) gets 21 days of steady deliveries in ``marts.metrics_daily`` and a
collapse yesterday; the anomaly-check flow judges that day 10 times in a row (in-process, against the stack's
server), the detector emits one ``vodflow.metric.anomaly`` and the ``metric anomaly`` automation posts it to the
sandbox's inbox once. The rows are removed afterwards.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.e2e.test_backfills import database, python_api
from tests.stack.helpers import Stack

pytestmark = pytest.mark.slow

PROVIDER = "stormtest"


def _inbox(stack: Stack) -> list[dict[str, Any]]:
    response = httpx.get(stack.url("VODFLOW_SANDBOX_PORT", "/inbox.json"), timeout=10, trust_env=False)
    response.raise_for_status()
    return [m for m in response.json()["messages"] if PROVIDER in m["text"]]


def _seed(conn: psycopg.Connection[Any], last: datetime) -> None:
    """21 steady days then a collapse, with every not-null column of the mart filled (zeros where unsaid)."""
    required = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'metrics_daily' and is_nullable = 'NO'"
        )
    ]
    for back in range(21, -1, -1):
        day = (last - timedelta(days=back)).date()
        values: dict[str, Any] = dict.fromkeys(required, 0)
        values |= {"provider": PROVIDER, "metric_date": day.isoformat(), "deliveries": 6 if back == 0 else 70}
        values.pop("inputs_changed_at", None)
        conn.execute(
            "insert into marts.metrics_daily select * from jsonb_populate_record(null::marts.metrics_daily, %s::jsonb)",
            (Jsonb(values),),
        )


def test_the_same_anomaly_judged_ten_times_sends_one_message(stack: Stack) -> None:
    # Yesterday: the day the stack's own checks judge too (after each dbt build); whoever judges it first
    # announces it, and nobody again.
    day = datetime.now(UTC) - timedelta(days=1)
    with database(stack) as conn:
        conn.execute("delete from marts.metrics_daily where provider = %s", (PROVIDER,))
        _seed(conn, day)
    try:
        assert _inbox(stack) == []
        started = time.monotonic()
        result = python_api(
            stack,
            f"""
import json
from datetime import date
from flows.anomaly import anomaly_check
sent = [anomaly_check(as_of=date.fromisoformat("{day.date().isoformat()}"))["anomaly_events"] for _ in range(10)]
print(json.dumps(sent))
""",
        )
        assert sum(result) <= 1 and result[1:] == [0] * 9, result  # at most the first evaluation announces
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while not messages and time.monotonic() < deadline:
            time.sleep(1)
            messages = _inbox(stack)
        assert messages, "no message reached the inbox"
        print(f"storm: 10 evaluations, first message after {time.monotonic() - started:.1f} s")
        time.sleep(10)  # anything late would show now
        messages = _inbox(stack)
        deliveries = [m for m in messages if "deliveries for stormtest" in m["text"]]
        assert len(deliveries) == 1, [m["text"] for m in messages]
        assert "Value 6" in deliveries[0]["text"]
    finally:
        with database(stack) as conn:  # leave no trace for the modules after this one (the report, the screenshots)
            tables = (
                "marts.metrics_daily",
                "ops.metric_evaluations",
                "ops.metric_alert_state",
                "marts.fct_metric_evaluations",
            )
            for table in tables:
                if conn.execute("select to_regclass(%s)", (table,)).fetchone() != (None,):
                    conn.execute(f"delete from {table} where provider = %s", (PROVIDER,))
