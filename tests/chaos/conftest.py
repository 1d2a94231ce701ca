"""The chaos suite's fixtures: a local stack of its own for the stack faults (they stop and restart its parts),
and the file providers' drop folders and database (shared with tests/providers) for the flow-level tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.providers.conftest import drops, stack
from tests.stack.helpers import TEST_STACK_ENV, Stack, running_stack

__all__ = ["chaos_stack", "drops", "stack"]


@pytest.fixture(scope="package")
def chaos_stack(server_dirs: Callable[[str], Path]) -> Iterator[Stack]:
    """A full local stack with the deployments and the test settings (``TEST_STACK_ENV``): lumina pages of 100 (a
    read spans many requests), CSV chunks of 2,000 rows (a load's transaction spans many chunks, long enough to be
    cut), lost runs crashed after 60 s, waiting drops re-announced every 15 s (in one run, one of 20 drop events
    produced no run: the re-scan is the safety net for that, and the load test waits for it).

    Not the session's shared stack: on it, after the end-to-end tests' hundreds of runs, the Prefect server
    (SQLite) timed out requests under the load test's 20 concurrent runs."""
    with running_stack(server_dirs("chaos-stack"), extra_env=TEST_STACK_ENV) as stack:
        yield stack
