"""The chaos suite's fixtures: a local stack of its own for the stack faults (they stop and restart its parts),
and the file providers' drop folders and database (shared with tests/providers) for the flow-level tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.providers.conftest import drops, stack
from tests.stack.helpers import TEST_STACK_ENV, Stack, pause_schedules, running_stack

__all__ = ["chaos_stack", "drops", "stack"]


@pytest.fixture(scope="package")
def chaos_stack(server_dirs: Callable[[str], Path]) -> Iterator[Stack]:
    """A full local stack with the deployments and the test settings (``TEST_STACK_ENV``): lumina pages of 100 (a
    read spans many requests), CSV chunks of 2,000 rows (a load's transaction spans many chunks, long enough to be
    cut), lost runs crashed after 60 s, waiting drops that no run has in hand re-announced every 15 s (the safety
    net for a drop event that produced no run, or a run that crashed before it read its file).

    A stack of its own, not the end-to-end package's: these tests kill and restart its parts. Its schedules are
    off (``pause_schedules``): each fault is measured against the runs its test starts (the backfill test starts
    the live schedule's runs itself), and a scheduled run landing between a test's two looks (the incremental build
    and the rebuild it must equal) would change what they compare."""
    with running_stack(server_dirs("chaos-stack"), extra_env=TEST_STACK_ENV) as stack:
        assert pause_schedules(stack) > 0
        yield stack
