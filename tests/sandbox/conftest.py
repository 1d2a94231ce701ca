"""Fixtures: a real sandbox on loopback per test (fresh state dir), its admin client and a plain httpx client."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vodflow.sandbox import SandboxAdmin, SandboxServer

SIZE = 200  # small catalogue: fast, and still holds every kind of deliberately bad item
ATLAS_SIZE = 12  # series (~300 episodes): every kind of bad episode, paging over several pages
MERIDIAN_SIZE = 60  # packages: the shared slice with lumina (0..150 of its region) is enough
HARBOR_ROWS = 100  # rows of harbor's default drop, as far as the events stream is concerned
SSL_CONTEXT = ssl.create_default_context()  # shared: httpx builds a new one per client otherwise (~40 ms each)


def http_client(base_url: str, timeout: float = 5, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=timeout, verify=SSL_CONTEXT, **kwargs)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def sandbox(state_dir: Path) -> Iterator[SandboxServer]:
    with SandboxServer(
        port=0,
        state_dir=state_dir,
        lumina_size=SIZE,
        atlas_size=ATLAS_SIZE,
        meridian_size=MERIDIAN_SIZE,
        harbor_rows=HARBOR_ROWS,
    ) as server:
        yield server


@pytest.fixture
def admin(sandbox: SandboxServer) -> Iterator[SandboxAdmin]:
    with SandboxAdmin(sandbox.url) as client:
        yield client


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with http_client(sandbox.url) as http:
        yield http
