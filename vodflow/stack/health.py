"""Health checks and waiting: a component counts as up only when it answers, not when its process exists."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from vodflow.net import port_is_free
from vodflow.stack.errors import ComponentExitedError, PortTakenError, StartTimeoutError

POLL_SECONDS = 0.3


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether ``GET url`` answers 2xx.

    ``trust_env=False``: a proxy from the environment must never sit between us and a loopback server.
    """
    try:
        response = httpx.get(url, timeout=timeout, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.is_success


def wait_healthy(
    component: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    log: Path | None,
    proc: subprocess.Popen[bytes] | None = None,
) -> float:
    """Poll ``check`` until it passes; returns the seconds waited.

    Raises:
        ComponentExitedError: ``proc`` exited first (no point waiting out the timeout).
        StartTimeoutError: ``check`` still fails after ``timeout`` seconds; the message names ``log``.
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if check():
            return time.monotonic() - started
        if proc is not None and proc.poll() is not None and log is not None:
            raise ComponentExitedError(component, proc.returncode, log)
        if time.monotonic() >= deadline:
            raise StartTimeoutError(component, timeout, log)
        time.sleep(POLL_SECONDS)


def ensure_port_free(component: str, host: str, port: int, env_var: str) -> None:
    """Fail with a one-line error when another program holds ``port`` (we only call this for parts not running)."""
    if not port_is_free(host, port):
        raise PortTakenError(component, host, port, env_var)
