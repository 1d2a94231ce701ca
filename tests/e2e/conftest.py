"""The end-to-end package runs on one full local stack, shared by its modules.

Its modules run in the order of ``SHARED_STACK_MODULES`` (tests/conftest.py): test_backfills (orchestration),
test_storm (one message per anomaly), test_views (what a person sees in a browser), test_anomaly_demo (``vodflow
demo anomaly`` on a running stack).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.stack.helpers import TEST_STACK_ENV, Stack, running_stack


@pytest.fixture(scope="package")
def stack(server_dirs: Callable[[str], Path]) -> Iterator[Stack]:
    """One full local stack (``vodflow up`` with the deployments) for the whole package: a cold start costs a
    minute or more of two cores, so the modules share it, and it stops when the package's last test has run. Its
    environment is ``stack.env``, passed to subprocesses explicitly; the session's own database and Prefect server
    stay what they were. A test that changes the stack's configuration (a schedule, a channel) puts it back before
    it ends. Its schedules stay on: tests must tolerate a scheduled run beside theirs."""
    with running_stack(server_dirs("shared-stack"), extra_env=TEST_STACK_ENV) as shared:
        yield shared
