"""One ``up`` or ``down`` at a time per data folder: two at once could each start their own copy of a server."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from vodflow.stack.errors import StackError


@contextlib.contextmanager
def stack_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; fail at once (not wait) if another command holds it.

    The kernel drops the lock when the process dies, so a crashed ``up`` never leaves a stale lock behind; children
    do not inherit it because ``subprocess`` closes inherited descriptors.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StackError(f"another `vodflow up` or `vodflow down` is running for {path.parent.parent}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
