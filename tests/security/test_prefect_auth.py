"""vodflow's own REST calls to the Prefect API send the credentials Prefect's client sends (docs/security.md)."""

from __future__ import annotations

from prefect.client.orchestration import SyncPrefectClient

from vodflow.prefect_auth import prefect_api_headers


def _client_header(**credentials: str) -> str | None:
    with SyncPrefectClient("http://127.0.0.1:9/api", **credentials) as client:  # type: ignore[arg-type]
        return client._client.headers.get("Authorization")


def test_the_basic_auth_header_is_the_prefect_clients() -> None:
    sent = prefect_api_headers({"PREFECT_API_AUTH_STRING": "vodflow:s3cret:with:colons"})
    assert sent == {"Authorization": _client_header(auth_string="vodflow:s3cret:with:colons")}


def test_an_api_key_is_a_bearer_token_and_the_auth_string_wins() -> None:
    assert prefect_api_headers({"PREFECT_API_KEY": "pnu_key"}) == {"Authorization": _client_header(api_key="pnu_key")}
    both = {"PREFECT_API_AUTH_STRING": "a:b", "PREFECT_API_KEY": "pnu_key"}
    assert prefect_api_headers(both) == {"Authorization": _client_header(auth_string="a:b", api_key="pnu_key")}


def test_no_credential_no_header() -> None:
    assert prefect_api_headers({}) == {}
    assert prefect_api_headers({"PREFECT_API_AUTH_STRING": "", "PREFECT_API_KEY": ""}) == {}
