"""A real ``prefect server start`` for the alert tests, and loopback receivers standing in for Slack and SMTP.

Why not the session's ``prefect_server`` (prefect_test_harness): it does run the trigger, action and event
persister services, but it is shared by every test of the session, and the automations applied here would
announce other modules' failing flows. This module gets a server of its own (its own PREFECT_HOME, UI URL for the
run links), started and stopped by pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from vodflow.net import free_port
from vodflow.settings import PROJECT_ROOT
from vodflow.stack.health import http_ok

SERVER_START_TIMEOUT = 240.0


@dataclass
class PrefectServer:
    api_url: str
    ui_url: str
    env: dict[str, str]


def _server_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_UI_URL": f"http://127.0.0.1:{port}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
            "PREFECT_LOGGING_COLORS": "false",
        }
    )
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its children: its own process group, by its pid."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def alerts_server(server_dirs: Callable[[str], Path]) -> Iterator[PrefectServer]:
    home = server_dirs("alerts-prefect")
    port = free_port()
    env = _server_env(home, port)
    log = (home / "server.log").open("wb")
    subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        timeout=300,
        check=True,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not http_ok(f"{env['PREFECT_API_URL']}/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}")
            time.sleep(0.5)
        yield PrefectServer(api_url=env["PREFECT_API_URL"], ui_url=env["PREFECT_UI_URL"], env=env)
    finally:
        _stop(proc)
        log.close()


@dataclass
class Received:
    at: float
    text: str
    wall: float = field(default_factory=time.time)


@dataclass
class SlackReceiver:
    """An HTTP server that records what a Slack incoming webhook would have received."""

    url: str
    messages: list[Received] = field(default_factory=list)
    status: int = 200
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def matching(self, needle: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if needle in m.text]

    def wait_for(self, needle: str, timeout: float = 30.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(needle)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no Slack message with {needle!r} in {timeout} s; got {[m.text for m in self.messages]}")


@pytest.fixture(scope="session")
def slack_receiver() -> Iterator[SlackReceiver]:
    port = free_port()
    receiver = SlackReceiver(url=f"http://127.0.0.1:{port}/services/T000/B000/secret-token")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.requests += 1
                status = receiver.status
                if status < 400:
                    receiver.messages.append(Received(time.monotonic(), json.loads(body)["text"]))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"internal_error")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class SmtpReceiver:
    host: str
    port: int
    messages: list[tuple[float, Message]] = field(default_factory=list)

    def matching(self, needle: str) -> list[Message]:
        return [m for _, m in self.messages if needle in str(m["Subject"])]

    def wait_for(self, needle: str, timeout: float = 30.0) -> tuple[float, Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, message in list(self.messages):
                if needle in str(message["Subject"]):
                    return at, message
            time.sleep(0.05)
        raise AssertionError(f"no email with {needle!r} in its subject in {timeout} s")


@pytest.fixture(scope="session")
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(host="127.0.0.1", port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            receiver.messages.append(
                (time.monotonic(), message_from_bytes(envelope.content.replace(b"\r\n", b"\n"), policy=policy.default))
            )
            return "250 OK"

    controller = Controller(Handler(), hostname=receiver.host, port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT
