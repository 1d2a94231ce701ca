"""End to end on the real local stack: bad backfill and run requests, manual runs through the Python API, the status
overview, schedule changes and the late-run policy, the anomaly check and failed alert deliveries, all through the
real Prefect server and process worker. A backfill itself runs in the chaos suite, thirty windows beside live runs,
attached to by the CLI (tests/chaos/test_stack_faults.py).

The package's stack (tests/e2e/conftest.py); the tests run in file order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.stack.helpers import Stack, flow_runs, vodflow

pytestmark = pytest.mark.slow


def api_url(stack: Stack) -> str:
    return stack.api_url


def python_api(stack: Stack, code: str, timeout: float = 600) -> Any:
    """Run ``code`` (which prints one JSON line last) in a fresh interpreter, as a user's script would."""
    env = {**stack.env, "PREFECT_API_URL": api_url(stack)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def due_runs(stack: Stack) -> list[dict[str, Any]]:
    """Every run that is not a scheduler's future run (those are created ahead of time)."""
    now = datetime.now(UTC).isoformat()
    return flow_runs(stack, {"flow_runs": {"expected_start_time": {"before_": now}}})


def recent_runs(stack: Stack) -> list[tuple[Any, ...]]:
    """The stack's latest runs (name, state, start, end, deployment), for an assertion's message."""
    runs = flow_runs(stack, {"sort": "START_TIME_DESC", "limit": 40})
    return [(r["name"], r["state_name"], r["start_time"], r["end_time"], r["deployment_id"]) for r in runs]


def database(stack: Stack) -> psycopg.Connection[Any]:
    url = vodflow("db", "url", env=stack.env).stdout.strip()
    return psycopg.connect(url, autocommit=True)


def test_bad_requests_are_refused_before_any_run_exists(stack: Stack) -> None:
    before = len(due_runs(stack))
    result = python_api(
        stack,
        """
import json
from vodflow.api import backfill, trigger_ingestion, check_deployment
errors = []
for call in (
    lambda: trigger_ingestion("lumina", colour="blue"),
    lambda: check_deployment("ingest-nowhere/ingest-nowhere", {}),
    lambda: backfill("lumina", "2026-03-08", "2026-03-01"),
    lambda: backfill("lumina", "2026-03-01", "2026-06-01", chunk="60d"),
    lambda: backfill("harbor", "2026-03-01", "2026-03-08"),
    lambda: backfill("netflix", "2026-03-01", "2026-03-08"),
    lambda: trigger_ingestion("netflix"),
):
    try:
        call()
        errors.append("accepted")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(json.dumps(errors))
""",
    )
    assert result[0] == (
        "UnknownParameterError: ingest-lumina/ingest-lumina has no parameter 'colour'; it takes: end, start, transform"
    )
    assert result[1].startswith("DeploymentNotFoundError: deployment ingest-nowhere/ingest-nowhere does not exist;")
    assert "backfill/backfill" in result[1] and "ingest-lumina/ingest-lumina" in result[1]
    assert result[2].startswith("BackfillRequestError: start (2026-03-08T00:00:00+00:00) must be before end")
    assert "larger than lumina serves in one window (31 days" in result[3]
    assert "harbor delivers CSV files" in result[4]
    assert (
        result[5]
        == result[6]
        == "UnknownProviderError: unknown provider 'netflix'; known: lumina, atlas, harbor, meridian, events"
    )
    assert len(due_runs(stack)) == before


def test_the_python_api_triggers_and_waits_for_a_run(stack: Stack) -> None:
    """lumina with its dbt build, the stack's first, which builds every model (the tests after this one read the marts
    and lumina's last run); then the events feed without dbt, so that the marts hold no deliveries before
    test_anomaly_demo stages its own (an anomaly announced earlier would hold back its message for 24 h)."""
    result = python_api(
        stack,
        """
import json
from vodflow.api import trigger_ingestion
runs = []
for provider, transform in (("lumina", True), ("events", False)):
    states = []
    run = trigger_ingestion(provider, wait=True, timeout=600, on_state=states.append, transform=transform)
    runs.append({"state": run.state, "name": run.name, "counts": run.counts, "states": states})
print(json.dumps(runs, default=str))
""",
    )
    for run, provider in zip(result, ("lumina", "events"), strict=True):
        assert run["state"] == "Completed", run
        assert run["name"].startswith(f"{provider}/incremental-")
        assert run["states"][-1] == "Completed" and len(run["states"]) >= 2
        counts = run["counts"]
        assert counts["status"] == "succeeded" and counts["received"] > 0
        accounted = counts["inserted"] + counts["updated"] + counts["unchanged"] + counts["quarantined"]
        assert counts["received"] == accounted, counts
    with database(stack) as conn:
        marts = {row[0] for row in conn.execute("select tablename from pg_tables where schemaname = 'marts'")}
    assert {"dim_assets", "metrics_daily"} <= marts


def test_status_lists_every_deployment_with_its_last_and_next_run(stack: Stack) -> None:
    status = json.loads(vodflow("status", "--json", timeout=60, env=stack.env).stdout)
    by_name = {row["deployment"]: row for row in status["deployments"]}
    expected = {
        "ingest-lumina/ingest-lumina",
        "ingest-atlas/ingest-atlas",
        "ingest-harbor/ingest-harbor",
        "ingest-meridian/ingest-meridian",
        "ingest-events/ingest-events",
        "transform/transform",
        "backfill/backfill",
    }
    assert expected <= set(by_name)
    lumina = by_name["ingest-lumina/ingest-lumina"]
    assert lumina["schedule"] == "every 900 s"
    assert lumina["last_state"] == "Completed" and lumina["counts"]["received"] > 0, (lumina, recent_runs(stack))
    assert lumina["next_run"] is not None
    assert by_name["backfill/backfill"]["schedule"] == "-"
    assert by_name["backfill/backfill"]["last_run"] is None  # the bad requests above started none
    assert status["backfills"] == []
    table = vodflow("status", timeout=60, env=stack.env).stdout
    assert "deployments" in table and "ingest-lumina/ingest-lumina" in table and "every 900 s" in table


def _deploy(stack: Stack, prefect_file: Path) -> None:
    result = python_api(
        stack,
        f"""
import json
from pathlib import Path
from vodflow.deploy import deploy_all
from vodflow.settings import get_settings
deploy_all(get_settings(), Path({str(prefect_file)!r}))
print(json.dumps("ok"))
""",
    )
    assert result == "ok"


def _lumina_schedule(stack: Stack) -> str:
    status = json.loads(vodflow("status", "--json", timeout=60, env=stack.env).stdout)
    return str({row["deployment"]: row for row in status["deployments"]}["ingest-lumina/ingest-lumina"]["schedule"])


LATE_RUN_PROBE = """
import json
from datetime import timedelta
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, FlowRunFilter, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from vodflow.orchestration.late_runs import superseded_reason
with get_client(sync_client=True) as client:
    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["ingest-lumina"])),
        flow_run_filter=FlowRunFilter(state={"type": FlowRunFilterStateType(any_=[StateType.SCHEDULED])}),
        limit=5,
    )
run = next(r for r in runs if r.auto_scheduled)
start = run.expected_start_time
print(json.dumps({
    "soon": superseded_reason(str(run.id), now=start + timedelta(minutes=9)),
    "late": superseded_reason(str(run.id), now=start + timedelta(minutes=11)),
}))
"""


def test_a_schedule_changed_in_prefect_yaml_shows_after_a_redeploy_and_drives_the_late_run_policy(
    stack: Stack, tmp_path: Path
) -> None:
    from vodflow.settings import PROJECT_ROOT

    original = PROJECT_ROOT / "prefect.yaml"
    changed = original.read_text().replace("      - interval: 900\n", "      - interval: 600\n", 1)
    prefect_file = tmp_path / "prefect.yaml"
    prefect_file.write_text(changed)
    assert _lumina_schedule(stack) == "every 900 s"
    try:
        _deploy(stack, prefect_file)
        assert _lumina_schedule(stack) == "every 600 s"
        # A scheduler-made run of ingest-lumina skips itself once the next one came due (600 s), and not before.
        late = python_api(stack, LATE_RUN_PROBE)
        assert late["soon"] is None
        assert late["late"] is not None and "started 660 s late" in late["late"]
    finally:
        _deploy(stack, original)
    assert _lumina_schedule(stack) == "every 900 s"


def test_the_anomaly_check_runs_through_its_deployment_and_records_every_verdict(stack: Stack) -> None:
    # The stack's metrics start today (its first load): today is the one day with a metrics row per provider.
    today = datetime.now(UTC).date().isoformat()
    result = vodflow("anomaly", "check", "--as-of", today, timeout=600, env=stack.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"anomaly/{today}" in result.stdout and ": Completed" in result.stdout
    with database(stack) as conn:
        verdicts = conn.execute(
            "select provider, verdict, count(*) from ops.metric_evaluations where metric_date = %s group by 1, 2",
            (today,),
        ).fetchall()
    checks = python_api(
        stack,
        "import json; from vodflow.anomaly.checks import load_checks; "
        "print(json.dumps([c.name for c in load_checks() if c.applies_to('lumina')]))",
    )
    # Every check for lumina is recorded; the seasonal ones have one day of history, judged as not enough data
    # (static bounds such as the EIDR match-rate floor need none and may well fire).
    lumina = {verdict: count for provider, verdict, count in verdicts if provider == "lumina"}
    assert sum(lumina.values()) == len(checks)
    assert lumina.get("not_enough_data", 0) > 0


BUSY_SLOT_PROBE = """
import json, threading, time
from datetime import UTC, datetime
from prefect.client.orchestration import get_client
from vodflow.api import ANOMALY_CHECK_DEPLOYMENT, trigger_anomaly_check

began = datetime.now(UTC)
with get_client(sync_client=True) as client:
    deployment = client.read_deployment_by_name(ANOMALY_CHECK_DEPLOYMENT)
    # Hold the deployment's one slot, as a running check would, and free it 8 s later.
    held = client.increment_concurrency_slots_with_lease(
        names=[f"deployment:{deployment.id}"], slots=1, mode="concurrency", lease_duration=120
    ).json()
    assert held["limits"], held

def free_later():
    time.sleep(8)
    with get_client(sync_client=True) as client:
        client.release_concurrency_slots_with_lease(held["lease_id"])

threading.Thread(target=free_later, daemon=True).start()
run = trigger_anomaly_check(as_of=began.date(), wait=True, timeout=300)
with get_client(sync_client=True) as client:
    asked = {"as_of": began.date().isoformat(), "days": 1}
    mine = [
        r for r in client.read_flow_runs(limit=100)
        if r.deployment_id == deployment.id and r.created >= began and r.parameters == asked
    ]
print(json.dumps({
    "state": run.state,
    "run": str(run.flow_run_id),
    "runs": [{"id": str(r.id), "state": r.state.name, "message": r.state.message or ""} for r in mine],
}))
"""


def test_a_check_asked_for_while_another_holds_the_slot_runs_once_the_slot_is_free(stack: Stack) -> None:
    """anomaly-check runs one at a time and cancels a run created meanwhile; a run asked for by hand still runs."""
    result = python_api(stack, BUSY_SLOT_PROBE)
    if result["state"] != "Completed":
        with database(stack) as conn:
            marts = conn.execute("select tablename from pg_tables where schemaname = 'marts' order by 1").fetchall()
        raise AssertionError((result, marts, recent_runs(stack)))
    cancelled = [r for r in result["runs"] if r["state"] == "Cancelled"]
    assert cancelled and all("Deployment concurrency limit reached" in r["message"] for r in cancelled), result
    assert [r["id"] for r in result["runs"] if r["state"] == "Completed"] == [result["run"]], result


def test_a_slack_endpoint_that_fails_shows_in_vodflow_status(stack: Stack) -> None:
    """Deliveries retry inside the block; what still fails is read back from the server into `vodflow status`."""
    import http.server
    import threading

    hits: list[str] = []

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append(self.path)
            self.send_response(500)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/broken"
        env = {**stack.env, "VODFLOW_SLACK_WEBHOOK_URL": url, "COLUMNS": "200"}
        applied = subprocess.run(
            [sys.executable, "-m", "vodflow", "automations", "apply", "--quiet"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert url not in applied.stdout + applied.stderr
        python_api(
            stack,
            """
import json
from prefect.events import emit_event
emit_event(
    event="vodflow.metric.anomaly",
    resource={"prefect.resource.id": "vodflow.metric.deliveries", "prefect.resource.name": "deliveries",
              "vodflow.severity": "warning", "vodflow.channel": "slack"},
    payload={"metric": "deliveries", "provider": "lumina", "metric_date": "2026-03-02", "value": 3,
             "expected_low": 30, "expected_high": 50, "score": -6.1, "severity": "warning",
             "check": "deliveries_drop", "channel": "slack", "direction": "drop"},
)
print(json.dumps("sent"))
""",
        )
        failures: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while not failures and time.monotonic() < deadline:
            time.sleep(2)
            status = json.loads(vodflow("status", "--json", timeout=60, env=stack.env).stdout)
            failures = [f for f in status["alert_failures"] if f["automation"] == "vodflow: metric anomaly"]
        assert failures, status["alert_failures_error"]
        assert len(hits) == 3  # the block's own retries: one try and two more
        table = vodflow("status", timeout=60, env=stack.env).stdout
        assert "alert deliveries that failed" in table and "vodflow: metric anomaly" in table
        assert url not in table and url not in json.dumps(status)
    finally:
        server.shutdown()
        restored = vodflow("automations", "apply", "--quiet", timeout=300, env=stack.env)  # the stack's own channel
        assert restored.returncode == 0, restored.stdout + restored.stderr
