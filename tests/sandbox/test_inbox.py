"""The local Slack inbox: POST /inbox/slack, GET /inbox (a page), GET /inbox.json, DELETE /inbox."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from vodflow.alerts.blocks import VodflowSlackWebhook
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox.inbox import INBOX_LIMIT

pytestmark = pytest.mark.timeout(60)


def test_a_slack_payload_is_kept_with_its_arrival_time_and_listed_newest_first(
    client: httpx.Client, admin: SandboxAdmin
) -> None:
    first = client.post("/inbox/slack", json={"text": "first <b>alert</b>"})
    second = client.post("/inbox/slack", json={"text": "second\nRun: http://127.0.0.1:4210/runs/flow-run/abc"})
    assert (first.status_code, first.text, first.headers["content-type"]) == (200, "ok", "text/plain; charset=utf-8")
    assert second.status_code == 200

    messages = admin.inbox()
    assert [m["text"] for m in messages] == [
        "second\nRun: http://127.0.0.1:4210/runs/flow-run/abc",
        "first <b>alert</b>",
    ]
    assert [m["id"] for m in messages] == [2, 1]
    assert messages[0]["payload"] == {"text": "second\nRun: http://127.0.0.1:4210/runs/flow-run/abc"}
    assert messages[0]["channel"] == "slack"
    assert messages[1]["received_at"] <= messages[0]["received_at"]
    assert messages[0]["received_at"].endswith("Z")

    page = client.get("/inbox")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    body = page.text
    assert body.index('<li id="m2">') < body.index('<li id="m1">')  # newest first
    assert "first &lt;b&gt;alert&lt;/b&gt;" in body and "<b>alert</b>" not in body  # escaped
    assert '<a href="http://127.0.0.1:4210/runs/flow-run/abc">' in body  # links are links
    assert "<title>vodflow inbox (2)</title>" in body


def test_what_slack_would_refuse_is_refused_in_slacks_words_and_not_kept(
    client: httpx.Client, admin: SandboxAdmin
) -> None:
    not_json = client.post("/inbox/slack", content=b"text=hello", headers={"Content-Type": "text/plain"})
    empty = client.post("/inbox/slack", json={})
    assert (not_json.status_code, not_json.text) == (400, "invalid_payload")
    assert (empty.status_code, empty.text) == (400, "no_text")
    assert admin.inbox() == []
    assert "No message yet" in client.get("/inbox").text


def test_the_inbox_keeps_the_last_messages_only(client: httpx.Client, admin: SandboxAdmin) -> None:
    for n in range(INBOX_LIMIT + 5):
        assert client.post("/inbox/slack", json={"text": f"message {n}"}).status_code == 200
    messages = admin.inbox()
    assert len(messages) == INBOX_LIMIT
    assert messages[0]["text"] == f"message {INBOX_LIMIT + 4}"
    assert messages[-1]["text"] == "message 5"


def test_clearing_empties_it_and_a_reset_of_the_providers_keeps_it(client: httpx.Client, admin: SandboxAdmin) -> None:
    client.post("/inbox/slack", json={"text": "kept across a reset"})
    admin.reset()
    assert [m["text"] for m in admin.inbox()] == ["kept across a reset"]
    assert admin.clear_inbox() == 1
    assert admin.inbox() == []
    client.post("/inbox/slack", json={"text": "after"})
    assert admin.inbox()[0]["id"] == 2  # numbers keep counting


def test_the_alert_block_posts_into_it(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    """The block the automations send through accepts the inbox's answer as Slack's (no retry, no error)."""
    block = VodflowSlackWebhook(url=SecretStr(f"{sandbox.url}/inbox/slack"))
    asyncio.run(block.notify("Value 7, expected 27 to 81; check deliveries_drop.", subject="CRITICAL anomaly"))
    asyncio.run(block.notify("   ", subject="blank bodies send nothing"))
    messages = admin.inbox()
    assert len(messages) == 1
    assert "CRITICAL anomaly" in messages[0]["text"]
    assert "Value 7, expected 27 to 81; check deliveries_drop." in messages[0]["text"]
    assert [r for r in admin.requests(None) if "inbox" in r["path"]] == []  # not a provider request
