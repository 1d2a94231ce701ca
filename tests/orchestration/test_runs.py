"""Finding a backfill's windows' runs by idempotency key, on a real Prefect server."""

from __future__ import annotations

from dataclasses import replace

from prefect import flow
from prefect.client.orchestration import get_client

from vodflow.orchestration.runs import latest_attempts
from vodflow.orchestration.windows import MAX_ATTEMPTS, attempt_key, plan_backfill
from vodflow.settings import get_settings
from vodflow.stack.overview import _backfill_row


@flow(name="vodflow-test-window")
def window_flow() -> None:
    """Only its runs' idempotency keys matter here."""


def test_latest_attempts_of_many_windows_stays_within_the_servers_read_limit(prefect_server: None) -> None:
    """30 windows × 20 possible attempts are 600 keys: more than the server returns for one filter (200)."""
    bases = [f"test-window/{day:02d}" for day in range(1, 31)]
    assert len(bases) * MAX_ATTEMPTS > 200
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(window_flow)
        made = {}
        for number, base in enumerate(bases):
            attempt = 1 + number % 3  # windows on their first, second and third attempt
            for n in range(1, attempt + 1):
                body = {
                    "flow_id": str(flow_id),
                    "idempotency_key": attempt_key(base, n),
                    "state": {"type": "SCHEDULED"},
                }
                created = client.request("POST", "/flow_runs/", json=body).json()  # type: ignore[arg-type]
            made[base] = (attempt, created["id"])
        found = latest_attempts(client, bases)
    assert {base: (attempt, str(run.id)) for base, (attempt, run) in found.items()} == made


def test_vodflow_status_counts_the_windows_of_a_30_window_backfill(prefect_server: None) -> None:
    """``vodflow status``'s backfill row asks for 30 windows × 20 attempts: in chunks the server accepts."""
    from urllib.parse import urlsplit

    from prefect.settings import PREFECT_API_URL

    api = urlsplit(str(PREFECT_API_URL.value()))
    settings = replace(get_settings(), host=str(api.hostname), prefect_port=int(api.port or 80))
    plan = plan_backfill("lumina", "2026-10-01", "2026-10-31", "1d", max_concurrency=4)
    bases = [window.idempotency_base(plan.provider) for window in plan.windows]
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(window_flow)
        for number, base in enumerate(bases):
            body = {
                "flow_id": str(flow_id),
                "idempotency_key": attempt_key(base, 1),
                "state": {"type": "COMPLETED" if number < 20 else "FAILED" if number < 23 else "RUNNING"},
            }
            client.request("POST", "/flow_runs/", json=body)  # type: ignore[arg-type]
    parameters = {"provider": "lumina", "start": "2026-10-01", "end": "2026-10-31", "chunk": "1d", "max_concurrency": 4}
    row = _backfill_row(settings, {"name": "backfill/lumina/2026-10-01..2026-10-31", "parameters": parameters})
    assert row is not None
    assert (row.windows_total, row.windows_done, row.windows_failed) == (30, 20, 3)
