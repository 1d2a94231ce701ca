"""The definitions file, offline: it parses, every template is one the server accepts, messages read as intended."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.alerts.helpers import detector_event
from vodflow.alerts.definitions import (
    CRASH,
    MANAGED_TAG,
    NAME_PREFIX,
    AutomationDefinition,
    DefinitionError,
    load_definitions,
    parse_definitions,
    substitute,
)


def _render(template: str, event: dict[str, Any], **context: Any) -> str:
    """Render like the server's SendNotification does (same environment, same filters)."""
    from prefect.server.events.jinja_filters import all_filters
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.server.utilities.user_templates import register_user_template_filters, render_user_template

    register_user_template_filters(all_filters)
    received = ReceivedEvent(occurred=datetime.now(UTC), id=uuid.uuid4(), **event)
    return asyncio.run(render_user_template(template, {"event": received, "variables": {}, **context}))


def _definition(name: str) -> AutomationDefinition:
    return next(d for d in load_definitions({}) if d.name == name)


def test_every_definition_builds_an_automation_the_server_accepts() -> None:
    from prefect.server.events.actions import SendNotification as ServerSendNotification
    from prefect.server.events.schemas.automations import AutomationCore as ServerAutomationCore

    definitions = load_definitions({})
    assert len(definitions) >= 9
    for definition in definitions:
        automation = definition.to_automation(None if definition.action == CRASH else uuid.uuid4())
        assert automation.name.startswith(NAME_PREFIX)
        assert MANAGED_TAG in automation.tags
        if definition.action is None:
            ServerSendNotification(block_document_id=uuid.uuid4(), subject=definition.subject, body=definition.body)
        ServerAutomationCore.model_validate(automation.model_dump(mode="json"))


def test_a_run_that_stops_sending_heartbeats_is_marked_crashed_and_so_announced() -> None:
    """A process killed with its worker never reports: the missing heartbeats do, through the Crashed alert."""
    lost = load_definitions({"VODFLOW_ALERT_LOST_RUN_SECONDS": "45"})
    definition = next(d for d in lost if d.name == "flow run lost")
    assert definition.channel is None and definition.action == CRASH
    assert definition.trigger["after"] == ["prefect.flow-run.heartbeat"]
    assert definition.trigger["within"] == 45 and "No heartbeat for 45 s" in definition.body
    [action] = definition.to_automation(None).actions
    assert action.model_dump()["type"] == "change-flow-run-state" and action.model_dump()["state"] == "CRASHED"
    assert "prefect.flow-run.Crashed" in _definition("flow run failed or crashed").trigger["expect"]


def test_a_crash_action_takes_no_channel_and_no_other_action_exists() -> None:
    with pytest.raises(DefinitionError, match="give it no channel"):
        parse_definitions("automations: [{name: a, action: crash, channel: slack, trigger: {}, body: b}]", {})
    with pytest.raises(DefinitionError, match="action must be 'crash'"):
        parse_definitions("automations: [{name: a, action: page, trigger: {}, body: b}]", {})
    with pytest.raises(DefinitionError, match="needs its channel's block"):
        _definition("ingest run stuck").to_automation(None)


def test_failed_and_crashed_are_both_alerted_and_only_for_deployment_runs() -> None:
    trigger = _definition("flow run failed or crashed").trigger
    assert set(trigger["expect"]) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert trigger["match_related"] == {"prefect.resource.role": "deployment"}


def test_tunable_numbers_come_from_vodflow_alert_variables() -> None:
    env = {"VODFLOW_ALERT_STUCK_INGEST_SECONDS": "900", "VODFLOW_ALERT_DBT_DIGEST_SECONDS": "60"}
    by_name = {d.name: d for d in load_definitions(env)}
    assert by_name["ingest run stuck"].trigger["within"] == 900
    assert "longer than the 900 s" in by_name["ingest run stuck"].body
    assert by_name["dbt warnings digest"].trigger["within"] == 60
    assert by_name["transform run stuck"].trigger["within"] == 1200  # the default


def test_substitution_refuses_other_variables() -> None:
    with pytest.raises(DefinitionError, match="only VODFLOW_ALERT_"):
        substitute("url: ${VODFLOW_SLACK_WEBHOOK_URL}", {"VODFLOW_SLACK_WEBHOOK_URL": "https://hooks.example/x"})
    with pytest.raises(DefinitionError, match="no default"):
        substitute("x: ${VODFLOW_ALERT_X}", {})


def test_parse_refuses_duplicates_and_unknown_channels() -> None:
    item = "{name: a, channel: slack, trigger: {expect: [x]}, subject: s, body: b}"
    with pytest.raises(DefinitionError, match="unique"):
        parse_definitions(f"automations: [{item}, {item}]", {})
    with pytest.raises(DefinitionError, match="channel"):
        parse_definitions("automations: [{name: a, channel: pager, trigger: {}, subject: s, body: b}]", {})


def test_anomaly_message_without_a_ceiling_or_score() -> None:
    definition = _definition("metric anomaly")
    event = detector_event(metric="eidr_match_rate", provider="meridian", value=0.71, low=0.9, high=None, score=None)
    event.pop("related")
    assert _render(definition.body, event) == (
        "Value 0.71, expected 0.9 to (no ceiling); check eidr_match_rate_check.\nDeliveries collapsed for the weekday."
    )


def test_anomaly_routing_by_the_detectors_labels() -> None:
    slack = _definition("metric anomaly").trigger["match"]
    critical = _definition("critical metric anomaly email").trigger["match"]
    routed = _definition("email-routed metric anomaly email").trigger["match"]
    assert slack["vodflow.channel"] == "!log"
    assert critical["vodflow.severity"] == "critical"
    assert routed == {
        "prefect.resource.id": "vodflow.metric.*",
        "vodflow.channel": "email",
        "vodflow.severity": "!critical",
    }
    labels = detector_event(severity="critical", channel="email")["resource"]
    assert labels["vodflow.severity"] == "critical" and labels["vodflow.channel"] == "email"


def _quarantined(share: float) -> dict[str, Any]:
    return {
        "event": "vodflow.ingest.quarantined",
        "resource": {"prefect.resource.id": "vodflow.provider.harbor", "prefect.resource.name": "harbor"},
        "payload": {
            "load_id": "l",
            "quarantined": int(share * 200),
            "received": 200,
            "share": share,
            "top_reasons": [],
        },
    }


def test_quarantined_share_renders_blank_below_the_limit() -> None:
    body = _definition("quarantined share").body
    assert _render(body, _quarantined(0.049)) == ""
    assert _render(body, _quarantined(0.05)) == "10 of 200 rows quarantined (alert above 5.0 %)."
    raised = load_definitions({"VODFLOW_ALERT_QUARANTINE_SHARE": "0.1"})
    assert _render(next(d for d in raised if d.name == "quarantined share").body, _quarantined(0.05)) == ""


def test_dbt_digest_is_about_warnings_only() -> None:
    body = _definition("dbt warnings digest").body

    def test_failed(severity: str) -> dict[str, Any]:
        return {
            "event": "vodflow.dbt.test_failed",
            "resource": {"prefect.resource.id": "vodflow.dbt.t", "prefect.resource.name": "t"},
            "payload": {"unique_id": "test.x.t", "status": severity, "severity": severity, "message": "Got 3 results"},
        }

    assert _render(body, test_failed("warn")) == "Latest: t: Got 3 results"
    digest = test_failed("warn")
    digest["payload"] |= {"warnings_in_build": 2, "warned_tests": ["t", "u"]}
    assert _render(body, digest) == "2 warning(s) in the latest build: t, u\nLatest: t: Got 3 results"
    assert _render(body, test_failed("error")) == ""  # a failing error test fails the run: that one is announced


def test_health_report_link_is_shown_when_the_variable_is_set() -> None:
    event = detector_event()
    event.pop("related")
    body = _definition("metric recovered").body
    assert "Health report" not in _render(body, event)
    link = "https://reports.example.invalid/h.html"
    assert _render(body, event, variables={"vodflow_health_report_url": link}).endswith(f"\nHealth report: {link}")
