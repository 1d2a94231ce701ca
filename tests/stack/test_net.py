"""Ports for servers that bind later: never one an outgoing connection may take meanwhile."""

from __future__ import annotations

import socket

from vodflow.net import ephemeral_port_floor, free_port, port_is_free


def test_free_ports_are_below_the_ephemeral_range_distinct_and_bindable() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    floor = ephemeral_port_floor()
    if floor is not None and floor >= 13_024:  # else the kernel picks (documented fallback)
        assert all(1024 <= port < floor for port in ports), (floor, ports)
    for port in ports[:5]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.bind(("127.0.0.1", port))
            server.listen()
            assert not port_is_free("127.0.0.1", port)
            assert free_port() != port
