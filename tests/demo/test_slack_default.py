"""Where the Slack block posts: a set VODFLOW_SLACK_WEBHOOK_URL, else the local stack's inbox, else nowhere."""

from __future__ import annotations

import pytest

from vodflow.alerts.channels import channel_config, local_inbox_url, slack_webhook_url
from vodflow.settings import get_settings

REAL = "https://hooks.slack.invalid/services/T000/B000/secret-token"


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> str:
    """The local stack's Prefect API URL, for a stack on ports of its own."""
    monkeypatch.setenv("VODFLOW_PREFECT_PORT", "4999")
    monkeypatch.setenv("VODFLOW_SANDBOX_PORT", "8999")
    monkeypatch.delenv("VODFLOW_HOST", raising=False)
    return get_settings().prefect_api_url


def test_the_local_stack_without_a_webhook_gets_the_sandbox_inbox(local: str) -> None:
    assert local == "http://127.0.0.1:4999/api"
    assert local_inbox_url() == "http://127.0.0.1:8999/inbox/slack"
    assert slack_webhook_url({"PREFECT_API_URL": local}) == "http://127.0.0.1:8999/inbox/slack"
    assert slack_webhook_url({"PREFECT_API_URL": local + "/"}) == "http://127.0.0.1:8999/inbox/slack"
    assert slack_webhook_url({}, api_url=local) == "http://127.0.0.1:8999/inbox/slack"
    config = channel_config({"PREFECT_API_URL": local})
    assert config.configured("slack") and config.slack is not None
    assert config.slack.webhook_url == "http://127.0.0.1:8999/inbox/slack"


def test_a_set_webhook_always_wins(local: str) -> None:
    env = {"PREFECT_API_URL": local, "VODFLOW_SLACK_WEBHOOK_URL": REAL}
    assert slack_webhook_url(env) == REAL
    assert slack_webhook_url(env, api_url=local) == REAL
    assert "secret-token" not in repr(channel_config(env))


def test_another_server_never_gets_a_laptop_address(local: str) -> None:
    for env, api_url in (
        ({"PREFECT_API_URL": "https://prefect.example.invalid/api"}, None),
        ({"PREFECT_API_URL": "http://127.0.0.1:4210/api"}, None),  # another port: not this stack
        ({}, None),  # no server named: not configured, as before
        ({"PREFECT_API_URL": local}, "https://prefect.example.invalid/api"),  # the target named explicitly wins
    ):
        assert slack_webhook_url(env, api_url=api_url) is None, env
    config = channel_config({"PREFECT_API_URL": "https://prefect.example.invalid/api"})
    assert not config.configured("slack")
    assert config.missing["slack"] == "VODFLOW_SLACK_WEBHOOK_URL not set"
