"""The notification blocks vodflow's automations send through: Slack (with retries) and SMTP email.

The Prefect *server* loads these classes when an automation's ``send-notification`` action fires, so this module is
a ``prefect.collections`` entry point (see ``pyproject.toml``): any process with vodflow installed can resolve the
block types. It imports nothing from vodflow and only what Prefect, prefect-slack and the standard library ship.

Why not the stock blocks:

* ``prefect_slack.SlackWebhook`` accepts any URL (the core ``SlackWebhook`` only ``hooks.slack.com``), but a 5xx is
  not retried, and Prefect's ``SendNotification`` action never retries a failed notification (it emits
  ``prefect.automation.action.failed`` and moves on). :class:`VodflowSlackWebhook` is that block with slack_sdk's
  retry handlers for 5xx, 429 and connection errors, and every failure turned into a ``NotificationError`` whose
  text never contains the webhook URL.
* Prefect core and prefect-slack have no SMTP notification block (``SendgridEmail`` is Sendgrid's HTTP API).

Both share one convention: a body that renders to blank sends nothing. Prefect triggers can match an event's
resource labels but not its payload, so an automation that must depend on a payload value (a ``critical``
severity, a quarantined share above a limit) says so in its Jinja template and renders nothing otherwise.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, Literal

from prefect.blocks.abstract import NotificationBlock, NotificationError
from prefect_slack.credentials import SlackWebhook
from pydantic import Field, SecretStr
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.webhook.async_client import AsyncWebhookClient
from slack_sdk.webhook.client import WebhookClient

#: Attempts after the first one, for each kind of transient failure (backoff 0.5 s, 1 s: at most ~2 s of waiting,
#: which the server's action worker can afford; longer outages surface as ``action.failed`` events instead).
SLACK_RETRIES = 2
SLACK_TIMEOUT_SECONDS = 10


#: A Slack emoji code at the start of a subject (``:rotating_light: ...``): shown literally by mail clients.
_LEADING_EMOJI_CODE = re.compile(r"^\s*:[a-z0-9_+-]+:\s*")


def _is_blank(body: str) -> bool:
    return not body.strip()


class VodflowSlackWebhook(SlackWebhook):  # type: ignore[misc]  # prefect-slack ships no type hints
    """prefect-slack's webhook block, retrying 5xx/429/connection errors, raising failures without the URL."""

    _block_type_name = "Vodflow Slack Webhook"
    _block_type_slug = "vodflow-slack-webhook"
    _description = (
        "A Slack incoming webhook (any URL) that retries transient failures; a blank body sends nothing. "
        "Created by `vodflow automations apply` from VODFLOW_SLACK_WEBHOOK_URL."
    )

    def get_client(self, sync_client: bool = False) -> AsyncWebhookClient | WebhookClient:
        """A webhook client; the asynchronous one (the server's) retries, see :meth:`retrying_client`."""
        if sync_client:
            return WebhookClient(url=self.url.get_secret_value(), timeout=SLACK_TIMEOUT_SECONDS)
        return self.retrying_client()

    def retrying_client(self) -> AsyncWebhookClient:
        """A webhook client with retry handlers for server errors, rate limits and connection errors."""
        backoff = BackoffRetryIntervalCalculator(backoff_factor=0.5)
        return AsyncWebhookClient(
            url=self.url.get_secret_value(),
            timeout=SLACK_TIMEOUT_SECONDS,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=SLACK_RETRIES, interval_calculator=backoff),
                AsyncServerErrorRetryHandler(max_retry_count=SLACK_RETRIES, interval_calculator=backoff),
                AsyncRateLimitErrorRetryHandler(max_retry_count=SLACK_RETRIES),
            ],
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self.url.get_secret_value(), "<webhook url>")

    async def notify(self, body: str, subject: str | None = None) -> None:
        """Post ``subject`` and ``body`` as one message; raise ``NotificationError`` when Slack did not take it.

        Always raises on failure (not only inside ``raise_on_failure()``): the automation's action then records a
        ``prefect.automation.action.failed`` event, which ``vodflow status`` reads.
        """
        if _is_blank(body):
            return
        try:
            response = await self.retrying_client().send(text=self._format_text(body, subject))
        except Exception as exc:  # connection refused, timeout, TLS: after the retries
            raise NotificationError(
                log=self._scrub(f"Slack webhook unreachable: {type(exc).__name__}: {exc}")
            ) from None
        if response.status_code >= 400:
            raise NotificationError(log=self._scrub(f"Slack webhook answered {response.status_code}: {response.body}"))


class VodflowSmtpEmail(NotificationBlock):
    """An email through any SMTP server (STARTTLS, implicit TLS or plain), retried once on transient errors."""

    _block_type_name = "Vodflow SMTP Email"
    _block_type_slug = "vodflow-smtp-email"
    _description = (
        "Sends notifications as email through an SMTP server; a blank body sends nothing. "
        "Created by `vodflow automations apply` from VODFLOW_SMTP_* and VODFLOW_ALERT_EMAIL_TO."
    )

    host: str = Field(description="SMTP server host name.")
    port: int = Field(default=587, description="SMTP port (587 STARTTLS, 465 implicit TLS, 25 plain).")
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="Transport security: STARTTLS, implicit TLS, or none (a local relay)."
    )
    username: str | None = Field(default=None, description="Login name, if the server wants one.")
    password: SecretStr | None = Field(default=None, description="Login password.")
    from_address: str = Field(description="The From address.")
    to_addresses: list[str] = Field(description="Recipients.")
    timeout_seconds: float = Field(default=20.0, description="Socket timeout per attempt.")
    attempts: int = Field(default=2, description="Tries per message (transient SMTP or network errors).")

    def _message(self, body: str, subject: str | None) -> EmailMessage:
        message = EmailMessage()
        plain = _LEADING_EMOJI_CODE.sub("", (subject or "").replace("\n", " "))  # the subjects are Slack's too
        message["Subject"] = plain.strip() or "vodflow alert"
        message["From"] = self.from_address
        message["To"] = ", ".join(self.to_addresses)
        message.set_content(body)
        return message

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username and self.password is not None:
                smtp.login(self.username, self.password.get_secret_value())
            smtp.send_message(message)

    async def notify(self, body: str, subject: str | None = None) -> None:
        """Send one email; raise ``NotificationError`` (no password in it) once every attempt has failed."""
        if _is_blank(body):
            return
        message = self._message(body, subject)
        error: Any = None
        for attempt in range(max(1, self.attempts)):
            try:
                await asyncio.to_thread(self._send, message)
                return
            except (smtplib.SMTPException, OSError) as exc:
                error = exc
                if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
                    break  # permanent: a refused recipient or bad login does not heal on retry
                if attempt + 1 < self.attempts:
                    await asyncio.sleep(1.0)
        raise NotificationError(
            log=f"SMTP {self.host}:{self.port} failed: {type(error).__name__}: {error}",
        )
