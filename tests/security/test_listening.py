"""The local stack listens on loopback only: nothing of it can be reached from another machine by default.

On the package's stack (tests/security/conftest.py): every listening socket of every process the stack started
(and their children) is bound to 127.0.0.1 or ::1, PostgreSQL, the Prefect server, the sandbox and the docs
server each listen on their port, and a connection to this machine's other addresses on those ports is refused.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil
import pytest

from tests.security.conftest import CanaryStack
from vodflow.settings import get_settings

pytestmark = pytest.mark.slow

#: Component (pid file name) → the port variable it listens on.
SERVERS = {
    "postgres": "VODFLOW_PG_PORT",
    "prefect-server": "VODFLOW_PREFECT_PORT",
    "sandbox": "VODFLOW_SANDBOX_PORT",
    "dbt-docs": "VODFLOW_DOCS_PORT",
}


def _listeners(canary: CanaryStack) -> list[tuple[str, int, str, int]]:
    """(component, pid, address, port) of every listening TCP socket of the stack's processes and their children."""
    found = []
    for name, (pid, _) in canary.stack.pids.items():
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                connections = proc.net_connections(kind="inet")
            except psutil.NoSuchProcess:  # a flow run that ended while we looked
                continue
            for conn in connections:
                if conn.status == psutil.CONN_LISTEN:
                    found.append((name, proc.pid, conn.laddr.ip, conn.laddr.port))
    return found


def _other_addresses() -> list[str]:
    """This machine's addresses that are not loopback (link-local ones need a scope to connect to: left out)."""
    addresses = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ipaddress.ip_address(entry.address.split("%")[0])
            if not (address.is_loopback or address.is_link_local):
                addresses.append(str(address))
    return addresses


def test_the_default_host_is_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VODFLOW_HOST", raising=False)
    assert get_settings().host == "127.0.0.1"


def test_every_listener_of_the_stack_is_on_loopback(canary: CanaryStack) -> None:
    listeners = _listeners(canary)
    exposed = [entry for entry in listeners if not ipaddress.ip_address(entry[2]).is_loopback]
    assert exposed == [], f"listening beyond loopback: {exposed}"
    for name, key in SERVERS.items():
        port = canary.stack.ports[key]
        mine = {(address, listened) for component, _, address, listened in listeners if component == name}
        assert ("127.0.0.1", port) in mine, f"{name} does not listen on 127.0.0.1:{port}: {sorted(mine)}"


def test_other_addresses_of_this_machine_are_refused(canary: CanaryStack) -> None:
    ports = [canary.stack.ports[key] for key in SERVERS.values()]
    reached = []
    for address in _other_addresses():
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        for port in ports:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(3)
                try:
                    sock.connect((address, port))
                except OSError:  # refused (nothing listens there), or unroutable: either way not reached
                    continue
                reached.append(f"{address}:{port}")
    assert reached == [], f"the stack answers on a non-loopback address: {reached}"
    # Loopback does answer on the same ports: the refusals above are about the address, not a dead stack.
    for port in ports:
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            pass
