"""The lumina sandbox as flow-level tests use it: a module's own sandbox server, and per test an admin client on a
reset catalogue with the flow pointed at it. Shared by tests/flows, tests/chaos and tests/security."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vodflow.sandbox import SandboxAdmin, SandboxServer


@contextmanager
def lumina_sandbox(state_dir: Path, size: int) -> Iterator[SandboxServer]:
    """A sandbox server on a free port whose lumina catalogue holds ``size`` titles."""
    with SandboxServer(port=0, state_dir=state_dir, lumina_size=size) as server:
        yield server


@contextmanager
def lumina_admin(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, **settings: str) -> Iterator[SandboxAdmin]:
    """The sandbox's admin client on a reset catalogue, with ``VODFLOW_LUMINA_URL`` and ``settings`` (more vodflow
    environment variables) set for the test; faults are cleared when it ends."""
    monkeypatch.setenv("VODFLOW_LUMINA_URL", f"{sandbox.url}/lumina/v1")
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    with SandboxAdmin(sandbox.url) as client:
        client.reset()
        yield client
        client.clear_faults()
