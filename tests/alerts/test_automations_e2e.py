"""Alerts through a real Prefect server: apply the automations, cause each incident, receive exactly one message.

The Slack webhook and the SMTP server are loopback receivers; the blocks point at them. Each delivery's latency
(event sent → message received) is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.alerts.conftest import PrefectServer, SlackReceiver, SmtpReceiver
from tests.alerts.helpers import detector_event, emit
from tests.alerts.probe_flows import FAILURE_MESSAGE
from vodflow.alerts.apply import apply_alerts
from vodflow.alerts.definitions import MANAGED_TAG, load_definitions
from vodflow.alerts.failures import recent_alert_failures
from vodflow.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.slow

STUCK_SECONDS = 10  # the shortest window Prefect accepts for a proactive trigger
DIGEST_SECONDS = 10
HEALTH_REPORT = "http://reports.example.invalid/health/latest.html"
QUIET = 3.0  # after the expected message arrives, wait this long to be sure no second one follows


@pytest.fixture(scope="module")
def alert_env(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, smtp_receiver: SmtpReceiver
) -> dict[str, str]:
    return {
        "VODFLOW_SLACK_WEBHOOK_URL": slack_receiver.url,
        "VODFLOW_SMTP_HOST": smtp_receiver.host,
        "VODFLOW_SMTP_PORT": str(smtp_receiver.port),
        "VODFLOW_SMTP_SECURITY": "none",
        "VODFLOW_SMTP_FROM": "vodflow@example.invalid",
        "VODFLOW_ALERT_EMAIL_TO": "ops@example.invalid, oncall@example.invalid",
        "VODFLOW_ALERT_STUCK_INGEST_SECONDS": str(STUCK_SECONDS),
        "VODFLOW_ALERT_DBT_DIGEST_SECONDS": str(DIGEST_SECONDS),
        "VODFLOW_HEALTH_REPORT_URL": HEALTH_REPORT,
    }


def _automations(api_url: str) -> list[Any]:
    from prefect.client.orchestration import PrefectClient

    async def read() -> list[Any]:
        async with PrefectClient(api=api_url) as client:
            return list(await client.read_automations())

    return asyncio.run(read())


def _owned(api_url: str) -> dict[str, UUID]:
    return {a.name: a.id for a in _automations(api_url) if MANAGED_TAG in a.tags}


@pytest.fixture(scope="module")
def applied(alerts_server: PrefectServer, alert_env: dict[str, str]) -> dict[str, UUID]:
    result = apply_alerts(alerts_server.api_url, env=alert_env)
    assert not result.skipped, result.lines()
    time.sleep(1.0)  # the trigger service reloads automations from change notifications
    return _owned(alerts_server.api_url)


def _latency(label: str, sent: float, received: float) -> float:
    seconds = received - sent
    print(f"\n[latency] {label}: {seconds:.2f} s from event to message")
    return seconds


def test_apply_creates_every_definition_once(applied: dict[str, UUID]) -> None:
    assert sorted(applied) == sorted(d.full_name for d in load_definitions({}))


def test_apply_is_idempotent(alerts_server: PrefectServer, alert_env: dict[str, str], applied: dict[str, UUID]) -> None:
    again = apply_alerts(alerts_server.api_url, env=alert_env)
    assert again.created == again.updated == again.deleted == []
    assert len(again.unchanged) == len(applied)
    assert _owned(alerts_server.api_url) == applied  # same names, same ids, no duplicate


def test_anomaly_sends_one_slack_message_with_the_figures(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, smtp_receiver: SmtpReceiver, applied: dict[str, UUID]
) -> None:
    event = detector_event(metric="new_assets", provider="atlas", severity="warning", value=3.0, low=40.5, high=61.0)
    sent = time.monotonic()
    emit(alerts_server.api_url, [event])
    message = slack_receiver.wait_for("anomaly: new_assets for atlas")
    assert _latency("anomaly → Slack", sent, message.at) < 10
    assert message.text == (
        ":rotating_light: WARNING anomaly: new_assets for atlas on 2026-01-05\n"
        "Value 3.0, expected 40.5 to 61.0 (score -7.25); check new_assets_check.\n"
        "Deliveries collapsed for the weekday.\n"
        f"Health report: {HEALTH_REPORT}"
    )
    time.sleep(QUIET)
    assert len(slack_receiver.matching("anomaly: new_assets for atlas")) == 1
    assert smtp_receiver.matching("new_assets") == []  # a warning is not emailed


def test_critical_anomaly_also_sends_one_email(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, smtp_receiver: SmtpReceiver, applied: dict[str, UUID]
) -> None:
    event = detector_event(metric="deliveries", provider="harbor", severity="critical", value=2.0, low=35.0, high=None)
    sent = time.monotonic()
    emit(alerts_server.api_url, [event])
    at, email = smtp_receiver.wait_for("anomaly: deliveries for harbor")
    _latency("critical anomaly → email", sent, at)
    assert email["Subject"] == "CRITICAL anomaly: deliveries for harbor on 2026-01-05"
    assert email["To"] == "ops@example.invalid, oncall@example.invalid"
    assert email.get_content().strip() == (
        "Value 2.0, expected 35.0 to (no ceiling) (score -7.25); check deliveries_check.\n"
        "Deliveries collapsed for the weekday.\n"
        f"Health report: {HEALTH_REPORT}"
    )
    slack_receiver.wait_for("anomaly: deliveries for harbor")
    time.sleep(QUIET)
    assert len(smtp_receiver.matching("anomaly: deliveries for harbor")) == 1
    assert len(slack_receiver.matching("anomaly: deliveries for harbor")) == 1


def test_log_only_anomaly_sends_nothing(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, applied: dict[str, UUID]
) -> None:
    emit(alerts_server.api_url, [detector_event(metric="eidr_match_rate", provider="meridian", channel="log")])
    time.sleep(QUIET + 2)
    assert slack_receiver.matching("eidr_match_rate for meridian") == []


def test_recovery_is_announced_once(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, applied: dict[str, UUID]
) -> None:
    event = detector_event("recovered", metric="qc_failure_rate", provider="meridian", value=0.02, low=0.0, high=0.05)
    sent = time.monotonic()
    emit(alerts_server.api_url, [event])
    message = slack_receiver.wait_for("Recovered: qc_failure_rate")
    _latency("recovered → Slack", sent, message.at)
    assert message.text == (
        ":white_check_mark: Recovered: qc_failure_rate for meridian on 2026-01-05\n"
        "Value 0.02 is back within 0.0 to 0.05 (anomalous since 2026-01-04).\n"
        f"Health report: {HEALTH_REPORT}"
    )
    time.sleep(QUIET)
    assert len(slack_receiver.matching("Recovered: qc_failure_rate")) == 1


def test_quarantined_share_above_the_limit_is_announced_below_is_not(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, applied: dict[str, UUID]
) -> None:
    def quarantined(provider: str, quarantined: int, received: int, level: str = "new") -> dict[str, Any]:
        # The shape tasks/events.py emits (level: tasks.events.quarantine_alert_level).
        return {
            "event": "vodflow.ingest.quarantined",
            "resource": {
                "prefect.resource.id": f"vodflow.provider.{provider}",
                "prefect.resource.name": provider,
                "vodflow.quarantine-alert": level,
            },
            "payload": {
                "load_id": "load-1",
                "quarantined": quarantined,
                "received": received,
                "share": round(quarantined / received, 4),
                "top_reasons": [
                    {"check": "title_not_blank", "rows": quarantined - 2},
                    {"check": "eidr_check_character", "rows": 2},
                ],
            },
        }

    sent = time.monotonic()
    emit(alerts_server.api_url, [quarantined("atlas", 3, 1000, "below"), quarantined("lumina", 120, 1000)])
    message = slack_receiver.wait_for("lumina: 12.0 % of rows quarantined")
    _latency("quarantined share → Slack", sent, message.at)
    assert message.text == (
        ":warning: lumina: 12.0 % of rows quarantined\n"
        "120 of 1000 rows quarantined (alert above 5.0 %).\n"
        "Top reasons: title_not_blank (118), eidr_check_character (2)\n"
        f"Health report: {HEALTH_REPORT}"
    )
    # The next run still above the share is the same incident: no second message.
    emit(alerts_server.api_url, [quarantined("lumina", 130, 1000, "ongoing")])
    time.sleep(QUIET)
    assert len(slack_receiver.matching("lumina: 12.0 %")) == 1
    assert slack_receiver.matching("lumina: 13.0 %") == []
    assert slack_receiver.matching("atlas: 0.3 %") == []


def test_dbt_warnings_make_one_digest(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, applied: dict[str, UUID]
) -> None:
    warnings = [
        {
            "event": "vodflow.dbt.test_failed",
            "resource": {
                "prefect.resource.id": f"vodflow.dbt.warn_test_{i}",
                "prefect.resource.name": f"warn_test_{i}",
            },
            "payload": {
                "unique_id": f"test.vodflow.warn_test_{i}",
                "status": "warn",
                "severity": "warn",
                "message": f"Got {i} results, configured to warn if != 0",
                "warnings_in_build": 20,
                "warned_tests": [f"warn_test_{n}" for n in range(20)],
            },
        }
        for i in range(20)
    ]
    sent = time.monotonic()
    emit(alerts_server.api_url, warnings)
    message = slack_receiver.wait_for("dbt warnings in the last", timeout=DIGEST_SECONDS + 30)
    _latency(f"20 dbt warnings → one digest (window {DIGEST_SECONDS} s)", sent, message.at)
    assert message.text.startswith(
        f":warning: dbt warnings in the last {DIGEST_SECONDS} s\n"
        "20 warning(s) in the latest build: warn_test_0, warn_test_1, "
    )
    assert "\nLatest: warn_test_" in message.text
    time.sleep(DIGEST_SECONDS / 2)
    assert len(slack_receiver.matching("dbt warnings in the last")) == 1


# --- flow runs: failed, crashed, stuck -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_deployment(alerts_server: PrefectServer) -> UUID:
    """A deployment of tests/alerts/probe_flows.py, tagged like an ingest deployment (no worker: runs are
    executed by ``prefect flow-run execute`` in a subprocess, as a worker would)."""
    from prefect.client.orchestration import PrefectClient

    async def create() -> UUID:
        async with PrefectClient(api=alerts_server.api_url) as client:
            flow_id = await client.create_flow_from_name("alert-probe")
            return await client.create_deployment(
                flow_id=flow_id,
                name="probe",
                entrypoint="tests/alerts/probe_flows.py:probe",
                # As prefect.yaml's deployments do: ``path`` would copy the whole checkout (.venv included) into
                # a temporary folder before every run, 10-30 s of it.
                pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}],
                tags=["vodflow", "ingest"],
            )

    return asyncio.run(create())


def _new_run(api_url: str, deployment_id: UUID, **parameters: Any) -> Any:
    from prefect.client.orchestration import PrefectClient

    async def create() -> Any:
        async with PrefectClient(api=api_url) as client:
            return await client.create_flow_run_from_deployment(deployment_id, parameters=parameters)

    return asyncio.run(create())


def _execute(server: PrefectServer, flow_run_id: UUID) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "prefect", "flow-run", "execute", str(flow_run_id)],
        env=server.env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _state(api_url: str, flow_run_id: UUID) -> Any:
    from prefect.client.orchestration import PrefectClient

    async def read() -> Any:
        async with PrefectClient(api=api_url) as client:
            return (await client.read_flow_run(flow_run_id)).state

    return asyncio.run(read())


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_failed_run_sends_one_message_with_the_error_and_a_link(
    alerts_server: PrefectServer,
    slack_receiver: SlackReceiver,
    probe_deployment: UUID,
    applied: dict[str, UUID],
    reap: list[subprocess.Popen[bytes]],
) -> None:
    run = _new_run(alerts_server.api_url, probe_deployment, mode="fail")
    proc = _execute(alerts_server, run.id)
    reap.append(proc)
    proc.wait(timeout=120)
    state = _state(alerts_server.api_url, run.id)
    assert state.type.value == "FAILED"
    message = slack_receiver.wait_for(f"run {run.name} Failed")
    _latency("flow run Failed → Slack (from the Failed state's timestamp)", state.timestamp.timestamp(), message.wall)
    assert message.text.splitlines()[0] == f":x: alert-probe/probe: run {run.name} Failed"
    assert FAILURE_MESSAGE in message.text
    assert message.text.splitlines()[-1] == f"Run: {alerts_server.ui_url}/runs/flow-run/{run.id}"
    time.sleep(QUIET)
    assert len(slack_receiver.matching(run.name)) == 1


def test_crashed_run_sends_one_message(
    alerts_server: PrefectServer,
    slack_receiver: SlackReceiver,
    probe_deployment: UUID,
    applied: dict[str, UUID],
    reap: list[subprocess.Popen[bytes]],
) -> None:
    """A run's process killed under it: the worker that started it reports Crashed (done here via the client).

    A killed ``flow-run execute`` cannot report anything itself; without a worker the run stays Running, which is
    what the stuck-run automation is for.
    """
    from prefect.client.orchestration import PrefectClient
    from prefect.states import Crashed

    run = _new_run(alerts_server.api_url, probe_deployment, mode="sleep", seconds=120)
    proc = _execute(alerts_server, run.id)
    reap.append(proc)
    deadline = time.monotonic() + 60
    while _state(alerts_server.api_url, run.id).type.value != "RUNNING":
        assert time.monotonic() < deadline, "the probe run never started"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the OOM killer, an evicted pod
    proc.wait(timeout=30)

    async def report() -> None:  # what the process worker reports when its flow-run process exits like that
        async with PrefectClient(api=alerts_server.api_url) as client:
            await client.set_flow_run_state(
                run.id, Crashed(message="Flow run infrastructure exited with non-zero status code -9.")
            )

    asyncio.run(report())
    crashed_at = time.monotonic()
    message = slack_receiver.wait_for(f"run {run.name} Crashed")
    _latency("flow run Crashed → Slack", crashed_at, message.at)
    lines = message.text.splitlines()
    assert lines[0] == f":x: alert-probe/probe: run {run.name} Crashed"
    # Whoever reported it first: the engine dying under its runner, or the worker's report.
    assert lines[1] in (
        "Flow run infrastructure exited with non-zero status code -9.",
        "Execution was aborted by Python system exit call.",
    )
    assert lines[2:] == [f"Run: {alerts_server.ui_url}/runs/flow-run/{run.id}"]
    time.sleep(QUIET)
    assert len(slack_receiver.matching(run.name)) == 1


def test_run_stuck_in_running_is_announced_once(
    alerts_server: PrefectServer, slack_receiver: SlackReceiver, probe_deployment: UUID, applied: dict[str, UUID]
) -> None:
    from prefect.client.orchestration import PrefectClient
    from prefect.states import Running

    run = _new_run(alerts_server.api_url, probe_deployment, mode="sleep")

    async def start() -> None:  # a run whose process hangs: Running, and nothing after
        async with PrefectClient(api=alerts_server.api_url) as client:
            await client.set_flow_run_state(run.id, Running(), force=True)

    asyncio.run(start())
    running_at = time.monotonic()
    message = slack_receiver.wait_for(f"run {run.name} is stuck", timeout=STUCK_SECONDS + 30)
    waited = _latency(f"run stuck (limit {STUCK_SECONDS} s) → Slack", running_at, message.at)
    assert waited >= STUCK_SECONDS - 1
    assert f"longer than the {STUCK_SECONDS} s an ingest run may take" in message.text
    time.sleep(QUIET + 5)
    assert len(slack_receiver.matching(run.name)) == 1


# --- apply: removing, channels, failures ------------------------------------------------------------------------


def test_apply_deletes_a_removed_definition_and_leaves_foreign_automations(
    alerts_server: PrefectServer, alert_env: dict[str, str], applied: dict[str, UUID]
) -> None:
    from prefect.client.orchestration import PrefectClient
    from prefect.events.actions import DoNothing
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    async def foreign() -> UUID:  # e.g. the automation Prefect makes for a deployment trigger in prefect.yaml
        async with PrefectClient(api=alerts_server.api_url) as client:
            return await client.create_automation(
                AutomationCore(name="vodflow: not ours", trigger=EventTrigger(expect={"x.y"}), actions=[DoNothing()])
            )

    foreign_id = asyncio.run(foreign())
    definitions = [d for d in load_definitions(alert_env) if d.name != "metric recovered"]
    result = apply_alerts(alerts_server.api_url, env=alert_env, definitions=definitions)
    assert result.deleted == ["vodflow: metric recovered"]
    owned = _owned(alerts_server.api_url)
    assert "vodflow: metric recovered" not in owned
    assert {k: v for k, v in applied.items() if k != "vodflow: metric recovered"} == owned
    assert foreign_id in {a.id for a in _automations(alerts_server.api_url)}
    again = apply_alerts(alerts_server.api_url, env=alert_env)  # back to the repository's set
    assert again.created == ["vodflow: metric recovered"]


def test_an_unconfigured_channel_has_no_automation_and_no_block(
    alerts_server: PrefectServer, alert_env: dict[str, str], applied: dict[str, UUID]
) -> None:
    without_email = {k: v for k, v in alert_env.items() if not k.startswith(("VODFLOW_SMTP_", "VODFLOW_ALERT_EMAIL"))}
    result = apply_alerts(alerts_server.api_url, env=without_email)
    email_names = {d.full_name for d in load_definitions({}) if d.channel == "email"}
    assert set(result.deleted) == email_names
    assert "email: not configured (VODFLOW_SMTP_HOST and VODFLOW_ALERT_EMAIL_TO not set)" in result.lines()
    assert "email: block vodflow-email removed" in result.lines()
    assert email_names.isdisjoint(_owned(alerts_server.api_url))
    assert all(alert_env["VODFLOW_SLACK_WEBHOOK_URL"] not in line for line in result.lines())
    restored = apply_alerts(alerts_server.api_url, env=alert_env)
    assert set(restored.created) == email_names


def test_a_failing_slack_endpoint_is_retried_and_the_failure_is_readable(
    alerts_server: PrefectServer, alert_env: dict[str, str], slack_receiver: SlackReceiver, applied: dict[str, UUID]
) -> None:
    settings = get_settings()
    before = len(recent_alert_failures(settings, api_url=alerts_server.api_url))
    requests_before = slack_receiver.requests
    slack_receiver.status = 500
    try:
        emit(alerts_server.api_url, [detector_event(metric="new_assets", provider="lumina", severity="warning")])
        deadline = time.monotonic() + 60
        failures = []
        while time.monotonic() < deadline:
            failures = recent_alert_failures(settings, api_url=alerts_server.api_url)
            if len(failures) > before:
                break
            time.sleep(0.5)
    finally:
        slack_receiver.status = 200
    assert len(failures) == before + 1, failures
    failure = failures[0]
    assert failure.automation == "vodflow: metric anomaly"
    assert failure.owned
    assert failure.reason == "Notification failed"
    assert failure.detail == "Slack webhook answered 500: internal_error"
    assert slack_receiver.requests - requests_before == 3  # the first attempt and two retries
    assert alert_env["VODFLOW_SLACK_WEBHOOK_URL"] not in repr(failures)


def test_cli_apply_prints_names_and_counts_never_the_webhook(
    alerts_server: PrefectServer, alert_env: dict[str, str], applied: dict[str, UUID]
) -> None:
    env = {**alerts_server.env, **alert_env, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "vodflow", "automations", "apply"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "slack: block vodflow-slack saved" in done.stdout
    assert f"automations: 0 created, 0 updated, {len(applied)} unchanged, 0 deleted, 0 skipped" in done.stdout
    assert "secret-token" not in done.stdout + done.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "vodflow", "automations", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "vodflow: metric anomaly" in listed.stdout and " no " not in listed.stdout


def test_vodflow_up_step_applies_and_logs_no_secret(
    alerts_server: PrefectServer,
    alert_env: dict[str, str],
    applied: dict[str, UUID],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vodflow.stack.layout import layout
    from vodflow.stack.lifecycle import _apply_alerts

    for key, value in alert_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VODFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VODFLOW_PREFECT_PORT", alerts_server.api_url.rsplit(":", 1)[1].split("/")[0])
    settings = get_settings()
    where = layout(settings)
    where.log_dir.mkdir(parents=True)
    outcome = _apply_alerts(settings, where)
    assert outcome == f"{len(applied)} applied"
    log = where.log("automations").read_text()
    assert "unchanged vodflow: metric anomaly" in log
    assert "secret-token" not in log + outcome
