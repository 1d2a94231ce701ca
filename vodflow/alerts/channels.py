"""Where alerts go: the Slack and email channels, configured from the environment, saved as Prefect blocks.

A channel whose variables are unset is *not configured*: its block is removed from the server and the automations
that would send through it are not created, so nothing ever points nowhere. Secrets (the webhook URL, the SMTP
password) only travel from the environment into the block's ``SecretStr`` fields; nothing here prints them.

One exception to "unset means not configured": alerts applied to the *local stack's* Prefect server with no
``VODFLOW_SLACK_WEBHOOK_URL`` go to the provider sandbox's inbox (``/inbox/slack``, a page at ``/inbox``), so a
laptop sees its alerts with no Slack account (:func:`slack_webhook_url`). A set variable always wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from vodflow.settings import Settings

Channel = Literal["slack", "email"]
SLACK: Channel = "slack"
EMAIL: Channel = "email"
CHANNELS: tuple[Channel, ...] = (SLACK, EMAIL)

#: Block document names on the server (one per channel).
BLOCK_NAMES: dict[Channel, str] = {SLACK: "vodflow-slack", EMAIL: "vodflow-email"}

SLACK_WEBHOOK_ENV = "VODFLOW_SLACK_WEBHOOK_URL"
#: Where the sandbox receives Slack payloads (vodflow.sandbox.inbox; not imported: it would pull in the sandbox).
INBOX_SLACK_PATH = "/inbox/slack"


@dataclass(frozen=True)
class SlackConfig:
    """The Slack incoming webhook (``VODFLOW_SLACK_WEBHOOK_URL``; in Kubernetes a Secret fills it)."""

    webhook_url: str = field(repr=False)


@dataclass(frozen=True)
class EmailConfig:
    """An SMTP server and the alert recipients (``VODFLOW_SMTP_*``, ``VODFLOW_ALERT_EMAIL_TO``)."""

    host: str
    port: int
    security: Literal["starttls", "ssl", "none"]
    username: str | None
    password: str | None = field(repr=False)
    from_address: str
    to_addresses: list[str]


@dataclass(frozen=True)
class ChannelConfig:
    """Which channels are configured, and why the others are not (shown by ``automations apply``)."""

    slack: SlackConfig | None
    email: EmailConfig | None
    missing: dict[Channel, str]

    def configured(self, channel: Channel) -> bool:
        """Whether automations for ``channel`` may be created."""
        return (self.slack if channel == SLACK else self.email) is not None


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _email_config(env: Mapping[str, str]) -> tuple[EmailConfig | None, str]:
    host, sender, to = (
        _get(env, "VODFLOW_SMTP_HOST"),
        _get(env, "VODFLOW_SMTP_FROM"),
        _get(env, "VODFLOW_ALERT_EMAIL_TO"),
    )
    absent = [name for name, value in (("VODFLOW_SMTP_HOST", host), ("VODFLOW_ALERT_EMAIL_TO", to)) if not value]
    if absent:
        return None, f"{' and '.join(absent)} not set"
    security = _get(env, "VODFLOW_SMTP_SECURITY").lower() or "starttls"
    if security not in ("starttls", "ssl", "none"):
        raise ValueError(f"VODFLOW_SMTP_SECURITY must be starttls, ssl or none, got {security!r}")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    raw_port = _get(env, "VODFLOW_SMTP_PORT")
    try:
        port = int(raw_port) if raw_port else default_port
    except ValueError as exc:
        raise ValueError(f"VODFLOW_SMTP_PORT must be an integer, got {raw_port!r}") from exc
    recipients = [address.strip() for address in to.split(",") if address.strip()]
    config = EmailConfig(
        host=host,
        port=port,
        security=security,  # type: ignore[arg-type]  # checked against the three values above
        username=_get(env, "VODFLOW_SMTP_USERNAME") or None,
        password=env.get("VODFLOW_SMTP_PASSWORD") or None,
        from_address=sender or f"vodflow@{host}",
        to_addresses=recipients,
    )
    return config, ""


def local_inbox_url(settings: Settings | None = None) -> str:
    """The local stack's Slack inbox: the sandbox's ``/inbox/slack`` (not a secret; its page is ``/inbox``)."""
    from vodflow.settings import get_settings

    return f"{(settings or get_settings()).sandbox_url}{INBOX_SLACK_PATH}"


def slack_webhook_url(
    env: Mapping[str, str] | None = None, *, api_url: str | None = None, settings: Settings | None = None
) -> str | None:
    """The webhook the Slack block posts to for the Prefect server at ``api_url``: the one URL rule for every caller.

    ``VODFLOW_SLACK_WEBHOOK_URL`` when set (always wins); otherwise, when ``api_url`` is the local stack's server,
    the sandbox's inbox (:func:`local_inbox_url`); otherwise ``None`` (Slack not configured): a server elsewhere
    never gets a laptop's address. ``api_url`` defaults to ``PREFECT_API_URL`` in ``env``, which the ``vodflow``
    command sets to the local stack's unless the user chose another server; so ``vodflow up`` and ``vodflow
    automations apply`` on the laptop agree.

    Args:
        env: the environment (default: the process's).
        api_url: the server the blocks are saved to.
        settings: the local stack's settings (default: from the process environment).
    """
    from vodflow.settings import get_settings

    env = os.environ if env is None else env
    url = _get(env, SLACK_WEBHOOK_ENV)
    if url:
        return url
    target = (api_url if api_url is not None else _get(env, "PREFECT_API_URL")).rstrip("/")
    if not target:
        return None
    settings = settings or get_settings()
    return local_inbox_url(settings) if target == settings.prefect_api_url.rstrip("/") else None


def channel_config(env: Mapping[str, str] | None = None) -> ChannelConfig:
    """Read the channels from ``env`` (default: the process environment); Slack by :func:`slack_webhook_url`.

    Raises:
        ValueError: a malformed ``VODFLOW_SMTP_PORT`` or ``VODFLOW_SMTP_SECURITY``.
    """
    env = os.environ if env is None else env
    missing: dict[Channel, str] = {}
    url = slack_webhook_url(env)
    slack = SlackConfig(webhook_url=url) if url else None
    if slack is None:
        missing[SLACK] = f"{SLACK_WEBHOOK_ENV} not set"
    email, why = _email_config(env)
    if email is None:
        missing[EMAIL] = why
    return ChannelConfig(slack=slack, email=email, missing=missing)
