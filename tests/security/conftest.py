"""The security package's local stack: one ``vodflow up`` whose every secret is a canary, shared by its modules.

A cold start with the deployments costs a minute or more, so test_canary_secrets (runs, failures, the scan) and
test_listening (which addresses the stack binds) share it; it is stopped when the package's last test ends.
Its Prefect server asks for basic auth (the production advice of docs/security.md), so the auth string is one
more canary, and every client of the stack must send it. Every secret is ``canary-<kind>-<hex>`` with one random
hex per session: the scan looks for the hex alone, so a secret that leaked in part, or under another secret's
name, is still found. The environment is ``canary.stack.env``, passed to subprocesses explicitly; the test
process's own environment (the session's database and Prefect server) is left alone.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.stack.helpers import STACK_ENV_KEYS, Stack, recorded_pids, snapshot_tree, stack_env, stop_stack, vodflow
from vodflow.net import free_port
from vodflow.prefect_auth import prefect_api_headers


@dataclass
class CanaryStack:
    """A running stack whose secrets are canaries, and every text the tests saw that must not hold one."""

    stack: Stack
    token: str
    """The random hex every canary carries: what the scan looks for."""
    secrets: dict[str, str]
    """Environment variable → its canary value."""
    closed_port: int
    """A loopback port nothing listens on: a database or SMTP server that is not there."""
    seen: list[tuple[str, str]] = field(default_factory=list)
    """(where, text): CLI output and exceptions collected along the way, scanned at the end."""

    @property
    def needles(self) -> list[str]:
        """What the scan looks for: the hex, and the Prefect credentials as they travel (a basic-auth header)."""
        return [self.token, *prefect_api_headers(self.secrets).values()]

    @property
    def api_headers(self) -> dict[str, str]:
        """The credentials the stack's Prefect server asks for."""
        return prefect_api_headers(self.secrets)

    def record(self, where: str, text: str) -> None:
        """Keep ``text`` for the final scan."""
        self.seen.append((where, text))

    def vodflow(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 420
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI against the stack (``env`` overrides some of its variables); its output is kept for the scan."""
        result = vodflow(*args, env={**self.stack.env, **(env or {})}, timeout=timeout)
        self.record(f"vodflow {' '.join(args)} (stdout)", result.stdout)
        self.record(f"vodflow {' '.join(args)} (stderr)", result.stderr)
        return result


def canary_secrets(token: str, sandbox_port: int, closed_port: int) -> dict[str, str]:
    """Every secret vodflow reads from the environment, each set to a canary.

    The Slack webhook is the sandbox's inbox with the canary in its query (the inbox ignores the query), so a
    message that arrives proves the canary URL was used. Email points at a port where no SMTP server listens.
    """
    return {
        "VODFLOW_PG_PASSWORD": f"canary-pg-{token}",
        "VODFLOW_SLACK_WEBHOOK_URL": f"http://127.0.0.1:{sandbox_port}/inbox/slack?token=canary-slack-{token}",
        "VODFLOW_LUMINA_API_KEY": f"canary-lumina-{token}",
        "VODFLOW_ATLAS_API_KEY": f"canary-atlas-{token}",
        "VODFLOW_EVENTS_API_KEY": f"canary-events-{token}",
        "VODFLOW_SMTP_PASSWORD": f"canary-smtp-{token}",
        # The Prefect server behind basic auth, as docs/security.md advises for production: the server checks
        # the string, and every client of the stack (CLI, worker, flow runs, vodflow's own REST reads) sends it.
        "PREFECT_SERVER_API_AUTH_STRING": f"vodflow:canary-prefect-{token}",
        "PREFECT_API_AUTH_STRING": f"vodflow:canary-prefect-{token}",
    }


def _smtp_settings(closed_port: int) -> dict[str, str]:
    return {
        "VODFLOW_SMTP_HOST": "127.0.0.1",
        "VODFLOW_SMTP_PORT": str(closed_port),
        "VODFLOW_SMTP_SECURITY": "none",
        "VODFLOW_SMTP_USERNAME": "vodflow",
        "VODFLOW_ALERT_EMAIL_TO": "alerts@example.invalid",
    }


@pytest.fixture(scope="package")
def canary(server_dirs: Callable[[str], Path]) -> Iterator[CanaryStack]:
    """``vodflow up`` (with the deployments and automations) with every secret a canary."""
    data_dir = server_dirs("security-stack")
    ports = {key: free_port() for key in STACK_ENV_KEYS[1:]}
    token = secrets.token_hex(12)
    closed_port = free_port()
    values = canary_secrets(token, ports["VODFLOW_SANDBOX_PORT"], closed_port)
    env = {**stack_env(data_dir, ports), **values, **_smtp_settings(closed_port)}
    started = time.monotonic()
    first = vodflow("up", timeout=600, env=env)
    stack = Stack(data_dir, ports, first, time.monotonic() - started, recorded_pids(data_dir), env=env)
    stack.tree = snapshot_tree(stack.pids)
    canary = CanaryStack(stack, token, values, closed_port)
    canary.record("vodflow up (stdout)", first.stdout)
    canary.record("vodflow up (stderr)", first.stderr)
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        yield canary
    finally:
        stop_stack(stack)
