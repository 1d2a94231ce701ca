"""Finding a backfill's windows' runs by idempotency key, on a real Prefect server."""

from __future__ import annotations

from prefect import flow
from prefect.client.orchestration import get_client

from vodflow.orchestration.runs import latest_attempts
from vodflow.orchestration.windows import MAX_ATTEMPTS, attempt_key


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
