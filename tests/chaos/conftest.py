"""The chaos suite's fixtures: a local stack of its own (its tests stop and restart its parts), and the file
providers' drop folders and database (shared with tests/providers) for the flow-level tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.providers.conftest import drops, stack
from tests.stack.helpers import Stack, start_stack, stop_stack

__all__ = ["chaos_stack", "drops", "stack"]


@pytest.fixture(scope="package")
def chaos_stack(server_dirs: Callable[[str], Path]) -> Iterator[Stack]:
    """A full local stack with the deployments; lumina pages of 100 (a read spans 20 requests), CSV chunks of
    2,000 rows (a load's transaction spans many chunks, long enough to be cut), lost runs crashed after 45 s,
    waiting drops re-announced every 15 s (in one run, one of 20 drop events produced no run: the re-scan is the
    safety net for that, and the load test waits for it)."""
    stack = start_stack(
        server_dirs("chaos-stack"),
        extra_env={
            "VODFLOW_LUMINA_PAGE_SIZE": "100",
            "VODFLOW_DROP_CHUNK_ROWS": "2000",
            "VODFLOW_ALERT_LOST_RUN_SECONDS": "45",  # a run without heartbeats (every 30 s) is crashed after 45 s
            "VODFLOW_DROP_RESCAN_SECONDS": "15",  # the watcher's safety net re-announces a file still waiting
        },
    )
    try:
        assert stack.first_up.returncode == 0, stack.first_up.stdout + stack.first_up.stderr
        yield stack
    finally:
        stop_stack(stack)
