"""The end-to-end package runs on the session's shared local stack (``shared_stack`` in tests/conftest.py).

Its modules run in this order: test_backfills (orchestration), test_storm (one message per anomaly), test_views
(what a person sees in a browser); then the demo and the chaos faults use the same stack.
"""

from __future__ import annotations

import pytest

from tests.stack.helpers import Stack


@pytest.fixture(scope="session")
def stack(shared_stack: Stack) -> Stack:
    """The session's shared stack."""
    return shared_stack
