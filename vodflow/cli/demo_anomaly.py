"""``vodflow demo anomaly``: one provider's deliveries collapse for a day; the stack detects it and says so.

The day is yesterday (UTC), the latest complete day, because that is the day the stack judges by itself: the
``anomaly-check`` deployment runs after every dbt build with ``as_of`` = yesterday, and the alert state follows
the newest day judged (an older day is re-judged silently). So the collapse must be on a day the feed has not
served yet *and* that is not older than what was judged: the sandbox's live days (vodflow.sandbox.live) bring
the feed up to yesterday with every provider delivering normally, except the chosen one on that day.

Then ``ingest-events`` runs through its deployment (its dbt sub-flow builds ``marts.metrics_daily``), which also
triggers the stack's own anomaly check; the demo runs ``anomaly-check`` with ``as_of`` = that day as well (the
deployment cancels a run started while another is in flight, so it retries), reads the verdict, and waits for
the Slack message: in the sandbox's inbox when no ``VODFLOW_SLACK_WEBHOOK_URL`` is set.

Idempotent: a second run stages nothing new (the sandbox already holds the day), ingests nothing new, judges the
day again and stays silent (the detector announces an open anomaly at most once per ``suppress_hours``).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import text

from vodflow.cli.errors import fail, known_errors
from vodflow.settings import Settings, get_settings

MESSAGE_TIMEOUT_S = 60.0
_RUN_LINK = re.compile(r"/runs/flow-run/([0-9a-f-]{36})")


@dataclass(frozen=True)
class Verdict:
    """The detector's verdict on the collapsed provider's deliveries that day, and its alert state."""

    check: str
    verdict: str
    value: float | None
    expected_low: float | None
    expected_high: float | None
    score: float | None
    history_points: int | None
    detail: str | None
    last_emitted_at: datetime | None


def _stage(settings: Settings, day: date, provider: str, share: float) -> dict[str, Any]:
    """Switch the sandbox: live days up to ``day``, ``provider`` at ``share`` that day (idempotent)."""
    import httpx

    from vodflow.sandbox import SandboxAdmin

    with SandboxAdmin(settings.sandbox_url) as admin:
        try:
            return admin.add_live_days(day, collapse=provider, share=share)
        except httpx.HTTPStatusError as exc:
            fail(f"the sandbox refused the collapse: {exc.response.json().get('error', exc)}")


def _run_check(day: date, timeout: float) -> tuple[str, str, str]:
    """Run ``anomaly-check`` for ``day`` through its deployment; its (id, name, state).

    The check its trigger started after the ingestion's dbt build may still be running: ``trigger_anomaly_check``
    starts this one again once that one ends.
    """
    from vodflow.api import trigger_anomaly_check

    run = trigger_anomaly_check(as_of=day, wait=True, timeout=timeout)
    return str(run.flow_run_id), run.name, run.state


def _verdict(day: date, provider: str) -> Verdict | None:
    """The deliveries check's verdict for ``provider`` on ``day`` (``ops.metric_evaluations``) and its alert state."""
    from vodflow.db.engine import get_engine

    query = text(
        """
        select e.check_name, e.verdict, e.value, e.expected_low, e.expected_high, e.score, e.history_points,
               e.detail, s.last_emitted_at
        from ops.metric_evaluations as e
        left join ops.metric_alert_state as s on s.check_name = e.check_name and s.provider = e.provider
        where e.provider = :provider and e.metric_date = :day and e.metric = 'deliveries'
        order by (e.verdict = 'anomaly') desc, e.check_name
        limit 1
        """
    )
    with get_engine().connect() as conn:
        row = conn.execute(query, {"provider": provider, "day": day}).mappings().first()
    if row is None:
        return None

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return Verdict(
        check=row["check_name"],
        verdict=row["verdict"],
        value=number(row["value"]),
        expected_low=number(row["expected_low"]),
        expected_high=number(row["expected_high"]),
        score=number(row["score"]),
        history_points=row["history_points"],
        detail=row["detail"],
        last_emitted_at=row["last_emitted_at"],
    )


def _wait_for_message(settings: Settings, needle: str, timeout: float) -> dict[str, Any] | None:
    """The oldest inbox message containing ``needle``, waiting up to ``timeout`` seconds for one to arrive."""
    from vodflow.sandbox import SandboxAdmin

    deadline = time.monotonic() + timeout
    with SandboxAdmin(settings.sandbox_url) as admin:
        while True:
            found = [message for message in admin.inbox() if needle in message["text"]]
            if found or time.monotonic() > deadline:
                return found[-1] if found else None
            time.sleep(0.2)


def _run_start(text_: str) -> tuple[str, datetime] | None:
    """The name and start time of the flow run a message links to (the run that emitted the anomaly)."""
    from prefect.client.orchestration import get_client

    match = _RUN_LINK.search(text_)
    if match is None:
        return None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(match.group(1)))
    return (run.name, run.start_time) if run.start_time is not None else None


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _figures(verdict: Verdict) -> str:
    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    score = "" if verdict.score is None else f", score {verdict.score:.1f}"
    return (
        f"{show(verdict.value)} deliveries, expected {show(verdict.expected_low)} to {show(verdict.expected_high)}"
        f"{score}, {verdict.history_points} days of history"
    )


def run_anomaly_demo(console: Console, provider: str, share: float, timeout: float) -> None:
    """Stage the collapse, ingest it, judge it, and show the message with the time it took; see the module doc."""
    from vodflow.alerts.channels import SLACK_WEBHOOK_ENV, slack_webhook_url
    from vodflow.api import trigger_ingestion

    settings = get_settings()
    began = datetime.now(UTC)
    day = (began - timedelta(days=1)).date()
    inbox = f"{settings.sandbox_url}/inbox"
    own_slack = slack_webhook_url(api_url=settings.prefect_api_url, settings=settings) != f"{inbox}/slack"

    staged = _stage(settings, day, provider, share)
    deliveries = staged["deliveries"]
    others = ", ".join(f"{name} {count}" for name, count in deliveries.items() if name != provider)
    how = (
        f"live days {staged['first_day']}..{day} added ({staged['events_added']} events)"
        if staged["events_added"]
        else f"already holds {day} (staged by an earlier run)"
    )
    console.print(f"sandbox: the events feed {how}; on {day} {provider} delivers {deliveries[provider]} ({others})")

    clock = time.monotonic()
    with known_errors(), console.status("ingest-events: starting") as status:
        ingested = trigger_ingestion(
            "events", wait=True, timeout=timeout, on_state=lambda state: status.update(f"ingest-events: {state}")
        )
    counts = ingested.counts or {}
    console.print(
        f"ingest-events {ingested.state}: received {counts.get('received', '-')}, inserted "
        f"{counts.get('inserted', '-')} in {time.monotonic() - clock:.0f} s ({ingested.name}); its dbt build "
        "rebuilt marts.metrics_daily"
    )
    if ingested.state != "Completed":
        fail("the events ingestion did not complete (see the Prefect UI)")

    clock = time.monotonic()
    with known_errors(), console.status(f"anomaly-check for {day}: running"):
        run_id, run_name, state = _run_check(day, timeout)
    console.print(
        f"anomaly-check {state} in {time.monotonic() - clock:.0f} s: {run_name} "
        f"({settings.prefect_ui_url}/runs/flow-run/{run_id})"
    )
    if state != "Completed":
        fail("the anomaly check did not complete (see the Prefect UI)")

    with known_errors():
        verdict = _verdict(day, provider)
    if verdict is None:
        fail(f"no verdict on {provider}'s deliveries for {day} in ops.metric_evaluations")
    console.print(f"verdict: {verdict.check} on {provider} {day}: [bold]{verdict.verdict}[/] ({_figures(verdict)})")
    if verdict.verdict != "anomaly":
        fail(f"the collapse was not judged an anomaly: {verdict.verdict} ({verdict.detail or 'no detail'})")

    if own_slack:
        console.print(f"The message went to your Slack ({SLACK_WEBHOOK_ENV}); the local inbox is not used.")
        return
    needle = f"deliveries for {provider} on {day}"
    message = _wait_for_message(settings, needle, MESSAGE_TIMEOUT_S)
    if message is None:
        fail(
            f"no Slack message about {needle} reached {inbox} within {MESSAGE_TIMEOUT_S:.0f} s "
            "(failed deliveries: vodflow.alerts.failures.recent_alert_failures)"
        )
    arrived = _instant(message["received_at"])
    console.print(f"\nSlack message #{message['id']} in the inbox at {arrived.strftime('%H:%M:%S.%f')[:-3]} UTC:")
    for line in message["text"].splitlines():
        console.print(f"  {line}", soft_wrap=True)
    emitter = _run_start(message["text"])
    if arrived >= began and emitter is not None:
        name, started = emitter
        console.print(
            f"\n[bold]{(arrived - started).total_seconds():.1f} s[/] from the start of the anomaly-check run that "
            f"announced it ({name}) to the message in the inbox."
        )
    elif arrived < began:
        console.print(
            f"\nAlready announced by an earlier run; this one judged {day} again (still an anomaly) and sent no "
            "second message: the detector announces an open anomaly at most once per suppress_hours (24 h)."
        )
    console.print(f"\nInbox (the local stack's Slack)  {inbox}")
