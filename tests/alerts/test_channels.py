"""The channels and their blocks, without a Prefect server: configuration, retries, failures without secrets."""

from __future__ import annotations

import asyncio
import time

import pytest
from prefect.blocks.abstract import NotificationError
from pydantic import SecretStr

from tests.alerts.conftest import SlackReceiver, SmtpReceiver
from vodflow.alerts.blocks import VodflowSlackWebhook, VodflowSmtpEmail
from vodflow.alerts.channels import channel_config
from vodflow.net import free_port

SECRET_URL = "https://hooks.slack.example/services/T1/B1/canary-webhook-secret"


def test_channels_are_configured_only_from_their_variables() -> None:
    empty = channel_config({})
    assert not empty.configured("slack") and not empty.configured("email")
    assert empty.missing == {
        "slack": "VODFLOW_SLACK_WEBHOOK_URL not set",
        "email": "VODFLOW_SMTP_HOST and VODFLOW_ALERT_EMAIL_TO not set",
    }
    full = channel_config(
        {
            "VODFLOW_SLACK_WEBHOOK_URL": SECRET_URL,
            "VODFLOW_SMTP_HOST": "smtp.example.invalid",
            "VODFLOW_SMTP_SECURITY": "ssl",
            "VODFLOW_SMTP_PASSWORD": "canary-smtp-password",
            "VODFLOW_ALERT_EMAIL_TO": "a@example.invalid, b@example.invalid",
        }
    )
    assert full.email is not None and full.email.port == 465
    assert full.email.to_addresses == ["a@example.invalid", "b@example.invalid"]
    assert full.email.from_address == "vodflow@smtp.example.invalid"
    assert "canary" not in repr(full)


def test_malformed_smtp_settings_are_refused() -> None:
    base = {"VODFLOW_SMTP_HOST": "h", "VODFLOW_ALERT_EMAIL_TO": "a@example.invalid"}
    with pytest.raises(ValueError, match="VODFLOW_SMTP_PORT"):
        channel_config({**base, "VODFLOW_SMTP_PORT": "smtp"})
    with pytest.raises(ValueError, match="VODFLOW_SMTP_SECURITY"):
        channel_config({**base, "VODFLOW_SMTP_SECURITY": "tls1.0"})


def test_slack_block_posts_subject_and_body(slack_receiver: SlackReceiver) -> None:
    block = VodflowSlackWebhook(url=SecretStr(slack_receiver.url))
    asyncio.run(block.notify(body="line one\nline two", subject="block test subject"))
    assert slack_receiver.wait_for("block test subject").text == "block test subject\nline one\nline two"


def test_slack_block_sends_nothing_for_a_blank_body(slack_receiver: SlackReceiver) -> None:
    before = slack_receiver.requests
    asyncio.run(VodflowSlackWebhook(url=SecretStr(slack_receiver.url)).notify(body=" \n ", subject="blank"))
    assert slack_receiver.requests == before


def test_slack_block_retries_a_500_then_fails_without_the_url(slack_receiver: SlackReceiver) -> None:
    before = slack_receiver.requests
    slack_receiver.status = 500
    try:
        started = time.monotonic()
        with pytest.raises(NotificationError) as caught:
            asyncio.run(VodflowSlackWebhook(url=SecretStr(slack_receiver.url)).notify(body="x", subject="retry"))
        elapsed = time.monotonic() - started
    finally:
        slack_receiver.status = 200
    assert slack_receiver.requests - before == 3
    assert caught.value.log == "Slack webhook answered 500: internal_error"
    assert elapsed < 10


def test_slack_block_unreachable_fails_without_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T1/B1/canary-webhook-secret"
    with pytest.raises(NotificationError) as caught:
        asyncio.run(VodflowSlackWebhook(url=SecretStr(url)).notify(body="x"))
    assert caught.value.log.startswith("Slack webhook unreachable:")
    assert "canary-webhook-secret" not in caught.value.log
    assert "canary-webhook-secret" not in repr(VodflowSlackWebhook(url=SecretStr(url)))


def _email_block(smtp: SmtpReceiver, **overrides: object) -> VodflowSmtpEmail:
    fields: dict[str, object] = {
        "host": smtp.host,
        "port": smtp.port,
        "security": "none",
        "from_address": "vodflow@example.invalid",
        "to_addresses": ["ops@example.invalid"],
    }
    return VodflowSmtpEmail(**{**fields, **overrides})  # type: ignore[arg-type]


def test_email_block_sends_one_plain_email(smtp_receiver: SmtpReceiver) -> None:
    asyncio.run(_email_block(smtp_receiver).notify(body="body text", subject=":fire: email block subject"))
    _, message = smtp_receiver.wait_for("email block subject")
    assert message["Subject"] == "email block subject"  # Slack's emoji code is dropped
    assert message["From"] == "vodflow@example.invalid"
    assert message.get_content().strip() == "body text"


def test_email_block_sends_nothing_for_a_blank_body(smtp_receiver: SmtpReceiver) -> None:
    count = len(smtp_receiver.messages)
    asyncio.run(_email_block(smtp_receiver).notify(body="", subject="nothing"))
    time.sleep(0.2)
    assert len(smtp_receiver.messages) == count


def test_email_block_failure_names_the_server_not_the_password(smtp_receiver: SmtpReceiver) -> None:
    block = _email_block(smtp_receiver, port=free_port(), password=SecretStr("canary-smtp-password"), attempts=2)
    with pytest.raises(NotificationError) as caught:
        asyncio.run(block.notify(body="x", subject="y"))
    assert "failed: ConnectionRefusedError" in caught.value.log
    assert "canary" not in caught.value.log
