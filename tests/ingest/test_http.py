"""The HTTP client against the real sandbox: what is retried, for how long, and what fails at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from vodflow.ingest.http import ProviderError, ProviderHttpClient, RetryPolicy, retry_after_seconds
from vodflow.sandbox import SandboxAdmin, SandboxServer

PARAMS = {"page": 1, "page_size": 50}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(port=0, state_dir=tmp_path_factory.mktemp("sandbox"), lumina_size=120) as server:
        yield server


@pytest.fixture
def admin(sandbox: SandboxServer) -> Iterator[SandboxAdmin]:
    with SandboxAdmin(sandbox.url) as client:
        client.reset()
        yield client
        client.clear_faults()


def client_for(sandbox: SandboxServer, sleeps: list[float], **policy: float) -> ProviderHttpClient:
    return ProviderHttpClient(
        "lumina",
        f"{sandbox.url}/lumina/v1",
        RetryPolicy(**policy),
        sleep=sleeps.append,  # type: ignore[arg-type]
    )


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=3), usegmt=True), now=now) == 3.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_429_waits_for_retry_after_then_succeeds(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    admin.inject_fault(429, times=2, retry_after=4)
    sleeps: list[float] = []
    with client_for(sandbox, sleeps) as client:
        body = client.get_json("/titles", PARAMS, page="1")
    assert len(body["items"]) == 50
    assert sleeps == [4.0, 4.0]
    assert [r["status"] for r in admin.requests()] == [429, 429, 200]


def test_429_retry_after_is_really_honoured(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    admin.inject_fault(429, times=1, retry_after="http-date")
    with ProviderHttpClient("lumina", f"{sandbox.url}/lumina/v1") as client:
        client.get_json("/titles", PARAMS, page="1")
    first, second = admin.requests()
    gap = datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"])
    assert gap >= timedelta(seconds=1)


def test_5xx_is_retried_up_to_the_bound_then_fails_clearly(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    admin.inject_fault(500, times=-1)
    sleeps: list[float] = []
    with client_for(sandbox, sleeps, max_attempts=4) as client, pytest.raises(ProviderError) as caught:
        client.get_json("/titles", PARAMS, page="3")
    assert "provider lumina, page 3" in str(caught.value)
    assert "HTTP 500 after 4 attempts" in str(caught.value)
    assert len(admin.requests()) == 4
    assert len(sleeps) == 3 and all(0 <= s <= 30 for s in sleeps)


def test_other_4xx_fails_at_once(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    with client_for(sandbox, []) as client, pytest.raises(ProviderError, match="HTTP 400"):
        client.get_json("/titles", {"page": 1, "page_size": 100_000}, page="1")
    assert len(admin.requests()) == 1


@pytest.mark.parametrize(("kind", "cause"), [("truncated", "malformed JSON"), ("html", "expected JSON")])
def test_a_200_that_is_not_json_is_a_provider_error(
    sandbox: SandboxServer, admin: SandboxAdmin, kind: str, cause: str
) -> None:
    admin.inject_fault(kind, times=1, page=2)
    with client_for(sandbox, []) as client:
        client.get_json("/titles", PARAMS, page="1")
        with pytest.raises(ProviderError, match=f"provider lumina, page 2: {cause}"):
            client.get_json("/titles", {**PARAMS, "page": 2}, page="2")


def test_timeouts_and_resets_are_retried(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    admin.inject_fault("slow", times=1, delay_s=2)
    admin.inject_fault("reset", times=1)
    sleeps: list[float] = []
    with client_for(sandbox, sleeps, read_timeout_s=0.5) as client:
        body = client.get_json("/titles", PARAMS, page="1")
    assert body["items"]
    assert len(sleeps) == 2


def test_retry_after_above_the_cap_fails_instead_of_hanging(sandbox: SandboxServer, admin: SandboxAdmin) -> None:
    admin.inject_fault(429, times=1, retry_after=3600)
    with client_for(sandbox, [], retry_after_cap_s=60) as client, pytest.raises(ProviderError, match="above the cap"):
        client.get_json("/titles", PARAMS, page="1")
