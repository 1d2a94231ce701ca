"""A local Slack inbox: the laptop stack's alerts, readable with no Slack account.

The sandbox already runs on every laptop stack and in tests, so it also receives what a Slack incoming webhook
would: ``POST /inbox/slack`` records the JSON payload with its arrival time and answers ``ok`` as Slack does;
``GET /inbox`` lists the messages newest first for a person (it reloads itself), ``GET /inbox.json`` for scripts
and tests, ``DELETE /inbox`` empties it. Bounded in memory (the last :data:`INBOX_LIMIT` messages): a noisy
automation cannot grow the sandbox without limit, and a restart starts with an empty inbox.

``vodflow up`` points the Slack block here when ``VODFLOW_SLACK_WEBHOOK_URL`` is not set
(:func:`vodflow.alerts.channels.slack_webhook_url`).
"""

from __future__ import annotations

import html
import itertools
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

INBOX_LIMIT = 500
SLACK_PATH = "/inbox/slack"
REFRESH_SECONDS = 10
_URL = re.compile(r"https?://[^\s<>|\"']+")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Message:
    """One message as received: its number in the inbox, when it arrived, the channel and the payload."""

    id: int
    received_at: str
    channel: str
    payload: dict[str, Any]

    @property
    def text(self) -> str:
        """The message's text: Slack's ``text``, else the text of its blocks."""
        text = self.payload.get("text")
        if isinstance(text, str):
            return text
        parts = []
        for block in self.payload.get("blocks") or []:
            inner = block.get("text") if isinstance(block, dict) else None
            if isinstance(inner, dict) and isinstance(inner.get("text"), str):
                parts.append(inner["text"])
        return "\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``GET /inbox.json``."""
        return {
            "id": self.id,
            "received_at": self.received_at,
            "channel": self.channel,
            "text": self.text,
            "payload": self.payload,
        }


class Inbox:
    """The last ``limit`` messages, thread-safe (the sandbox's HTTP server answers each request in a thread)."""

    def __init__(self, limit: int = INBOX_LIMIT) -> None:
        self._lock = threading.Lock()
        self._messages: deque[Message] = deque(maxlen=limit)
        self._ids = itertools.count(1)

    def add(self, channel: str, payload: dict[str, Any]) -> Message:
        """Record a payload now; the oldest message goes when the inbox is full."""
        with self._lock:
            message = Message(next(self._ids), _now(), channel, payload)
            self._messages.append(message)
            return message

    def messages(self) -> list[Message]:
        """Every message kept, newest first."""
        with self._lock:
            return list(reversed(self._messages))

    def clear(self) -> int:
        """Forget every message (numbers keep counting); returns how many there were."""
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
            return count


def slack_payload_problem(payload: dict[str, Any]) -> str | None:
    """Why Slack would refuse ``payload`` (its own error words), or ``None``: no text and no blocks."""
    if not payload.get("text") and not payload.get("blocks"):
        return "no_text"
    return None


def _linked(text: str) -> str:
    """Escaped text with its URLs as links (the messages carry links to the Prefect UI)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def render_html(messages: list[Message]) -> str:
    """The inbox page: newest first, each message with its arrival time; reloads every :data:`REFRESH_SECONDS`."""
    if messages:
        items = "\n".join(
            f'<li id="m{m.id}"><div class="meta">#{m.id} · {html.escape(m.channel)} · '
            f'<time datetime="{m.received_at}">{html.escape(m.received_at)}</time></div>'
            f'<div class="text">{_linked(m.text)}</div></li>'
            for m in messages
        )
        body = f'<ol class="messages">\n{items}\n</ol>'
    else:
        body = '<p class="empty">No message yet: the local stack posts its Slack alerts here when no webhook is set</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        f"<title>vodflow inbox ({len(messages)})</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1c1d}"
        ".messages{list-style:none;padding:0}.messages li{border-bottom:1px solid #ddd;padding:.8rem 0}"
        ".meta{color:#616061;font-size:.85rem}.text{white-space:pre-wrap;margin-top:.3rem}"
        ".empty{color:#616061}</style></head><body>"
        f"<h1>vodflow inbox</h1><p>The local stack's Slack messages, newest first (the last {INBOX_LIMIT}; "
        f'this page reloads every {REFRESH_SECONDS} s). As JSON: <a href="/inbox.json">/inbox.json</a>.</p>'
        f"{body}</body></html>\n"
    )
