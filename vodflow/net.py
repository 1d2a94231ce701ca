"""Small network helpers shared by the local stack and the tests."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

#: Where Linux says which local ports it hands to outgoing connections.
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: How many ports below the ephemeral range :func:`free_port` chooses from, split into slices by process id.
_SPAN = 12_000
_SLICES = 16
_handed_out: set[int] = set()


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` (so we may bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ephemeral_port_floor() -> int | None:
    """The lowest port the kernel gives outgoing connections, when it says (Linux); else None."""
    try:
        return int(_EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, for a server that binds it later (tests and throwaway servers).

    Chosen below the kernel's ephemeral range, never handed out twice by one process, and from a slice of that span
    picked by process id. A port from ``bind(port 0)`` is an ephemeral one: while a stack started (the Prefect
    server takes 20 s), an outgoing connection of another test took the port its sandbox was to bind. Below the
    range no connection takes it, and two processes (pytest-xdist workers) mostly draw from different slices.
    Without that range (not Linux, or a range starting too low) the kernel picks, as before.
    """
    floor = ephemeral_port_floor()
    if floor is not None and floor - _SPAN >= 1024:
        size = _SPAN // _SLICES
        start = floor - _SPAN + (os.getpid() % _SLICES) * size
        candidates = [port for port in range(start, start + size) if port not in _handed_out]
        random.shuffle(candidates)
        for port in candidates:
            if port_is_free(host, port):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
    return chosen
