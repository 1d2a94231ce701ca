"""Alert deliveries that failed, read back from the server's events, so ``vodflow status`` can show them.

Prefect's ``SendNotification`` action does not retry: when the block raises (after its own retries, see
``vodflow.alerts.blocks``) the server emits ``prefect.automation.action.failed`` with the reason, and otherwise only
logs a warning in its own log. This module reads those events through the REST API (``POST /events/filter``)
with plain httpx, so a status command pays no Prefect import for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from vodflow.alerts.definitions import NAME_PREFIX
from vodflow.prefect_auth import prefect_api_headers
from vodflow.settings import Settings

FAILED_EVENT = "prefect.automation.action.failed"


class AlertFailuresUnavailable(RuntimeError):
    """The server could not be asked (down, or answered with an error)."""


@dataclass(frozen=True)
class AlertFailure:
    """One automation action that did not deliver."""

    occurred: datetime
    automation: str
    action_type: str
    reason: str
    detail: str
    """The block's own words (``notification_log``: e.g. the HTTP status Slack answered) or a template error."""
    owned: bool
    """Whether the automation is one of vodflow's (``vodflow: …``), not e.g. a deployment trigger's."""


def _failure(event: dict[str, Any]) -> AlertFailure:
    payload = event.get("payload") or {}
    resource = event.get("resource") or {}
    name = str(resource.get("prefect.resource.name") or resource.get("prefect.resource.id", "?"))
    detail = payload.get("notification_log") or payload.get("template_error") or ""
    return AlertFailure(
        occurred=datetime.fromisoformat(str(event["occurred"]).replace("Z", "+00:00")),
        automation=name,
        action_type=str(payload.get("action_type", "")),
        reason=str(payload.get("reason", "")),
        detail=str(detail),
        owned=name.startswith(NAME_PREFIX),
    )


def recent_alert_failures(
    settings: Settings,
    *,
    api_url: str | None = None,
    since: timedelta = timedelta(hours=24),
    limit: int = 20,
    timeout: float = 5.0,
) -> list[AlertFailure]:
    """Failed automation actions in the last ``since``, newest first (at most ``limit``).

    ``api_url`` defaults to the local stack's server; pass ``PREFECT_API_URL`` to read another one.

    Raises:
        AlertFailuresUnavailable: the server is unreachable or refused the query.
    """
    url = (api_url or settings.prefect_api_url).rstrip("/")
    now = datetime.now(UTC)
    body = {
        "filter": {
            "occurred": {"since": (now - since).isoformat(), "until": (now + timedelta(minutes=1)).isoformat()},
            "event": {"name": [FAILED_EVENT]},
            "resource": {"id_prefix": ["prefect.automation."]},
            "order": "DESC",
        },
        "limit": limit,
    }
    try:
        response = httpx.post(f"{url}/events/filter", json=body, timeout=timeout, headers=prefect_api_headers())
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise AlertFailuresUnavailable(f"could not read alert failures from {url}: {type(exc).__name__}") from exc
    failures = (_failure(event) for event in response.json().get("events", []))
    return [failure for failure in failures if not _run_already_ended(failure)]


def _run_already_ended(failure: AlertFailure) -> bool:
    """Whether this is a "flow run lost" crash refused because the run had ended: not a failure to show.

    A heartbeat that reached the server after the run's final state opens a new window, which then expires. The
    crash is refused (never forced over a final state); nothing was lost and nothing was meant to be delivered.
    """
    return failure.action_type == "change-flow-run-state" and "already in terminal state" in failure.reason
