"""The end-to-end package: one full local stack (``vodflow up`` with the deployments) for all its modules.

A cold start with the deployments takes a minute or more, so the modules here share one stack (package scope):
test_backfills (orchestration), test_demo_anomaly (the alert demo), test_views (what a person sees in a browser),
in that order. Its environment is ``stack.env``, passed to subprocesses explicitly, so the session's own database
and Prefect server stay what they were. A test that changes the stack's configuration (a schedule, a channel)
puts it back before it ends. The stack's schedules stay on: tests must tolerate a scheduled run beside theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.stack.helpers import Stack, start_stack, stop_stack


@pytest.fixture(scope="package")
def stack(server_dirs: Callable[[str], Path]) -> Iterator[Stack]:
    """The package's shared local stack."""
    stack = start_stack(server_dirs("e2e-stack"))
    try:
        assert stack.first_up.returncode == 0, stack.first_up.stdout + stack.first_up.stderr
        yield stack
    finally:
        stop_stack(stack)
