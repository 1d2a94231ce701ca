"""The replayable state shared by the atlas, meridian and events stores (lumina has its own, older, store).

Like lumina's: the initial catalogue is a pure function of the store's parameters, and every publish appends
operations to a log saved as JSON (``<provider>.json`` in the state dir, written atomically). Replaying the log
rebuilds the same state, so a restarted sandbox serves what it served before, and the same admin calls always
yield the same data apart from timestamps (the wall-clock time of the call, never before the end of the window).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

from vodflow.sandbox.catalogue import WINDOW_END
from vodflow.sandbox.store import PublishResult, write_json_atomically

STATE_VERSION = 1

Op = dict[str, Any]
"""One logged operation: JSON-ready."""


class JsonItem(Protocol):
    """Anything listed by ``GET /admin/bad-items``."""

    def to_json(self) -> dict[str, str]:
        """JSON form."""
        ...


class ProviderStore(Protocol):
    """What the server needs from every provider store (lumina's included)."""

    def publish(self, new: int, changed: int) -> PublishResult:
        """Add ``new`` and change ``changed`` items, stamped now."""
        ...

    def reset(self) -> None:
        """Back to the initial catalogue."""
        ...

    def bad_items(self) -> Sequence[JsonItem]:
        """The deliberately bad items served now."""
        ...


def check_state_file(state_dir: Path | None, provider: str, params: dict[str, Any]) -> None:
    """Refuse, early, a state file written for other parameters (what :class:`OpLogStore` would refuse).

    Raises:
        ValueError: if ``<provider>.json`` exists and is unreadable or was written for other parameters.
    """
    if state_dir is None:
        return
    path = Path(state_dir) / f"{provider}.json"
    if not path.exists():
        return
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        version, written_for = state["version"], state["params"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable sandbox state file {path}: {exc}") from exc
    if version != STATE_VERSION:
        raise ValueError(f"{path}: state version {version}, expected {STATE_VERSION}")
    if written_for != params:
        raise ValueError(
            f"{path} was written for {provider} {written_for}, not {params}: use the same sizes or another state dir"
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OpLogStore(ABC):
    """A thread-safe store whose state is its initial catalogue plus a replayed log of operations.

    Subclasses build the initial state (:meth:`_initial`), apply one operation (:meth:`_apply`) and plan a
    publish (:meth:`_plan`); this class handles locking, the log, persistence and the publish clock.

    Args:
        params: what the initial catalogue depends on (e.g. its size); a state file written for other
            parameters is refused, as lumina refuses one written for another size.
        state_dir: where ``<provider>.json`` lives; ``None`` keeps the state in memory only.
        clock: returns "now" (aware datetime); injectable so tests can pin time.
    """

    provider: ClassVar[str]

    def __init__(
        self, params: dict[str, Any], state_dir: Path | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._params = params
        self._clock = clock or _utc_now
        self._lock = threading.RLock()
        self._path = None if state_dir is None else Path(state_dir) / f"{self.provider}.json"
        self._seq = 0
        self._ops: list[Op] = []
        self._load()
        self._rebuild()

    # -- to implement ------------------------------------------------------------------------------------------

    @abstractmethod
    def _initial(self) -> None:
        """Set the derived state to the initial catalogue."""

    @abstractmethod
    def _apply(self, op: Op) -> None:
        """Apply one logged operation to the derived state."""

    @abstractmethod
    def _plan(self, seq: int, stamp: datetime, new: int, changed: int) -> tuple[list[Op], PublishResult]:
        """The operations of publish number ``seq`` (not yet applied) and what to answer.

        Raises:
            PublishError: if the request cannot be honoured.
        """

    # -- persistence -------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._path is None or not self._path.exists():
            return
        check_state_file(self._path.parent, self.provider, self._params)
        try:
            state = json.loads(self._path.read_text(encoding="utf-8"))
            seq, ops = state["publish_seq"], state["ops"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable sandbox state file {self._path}: {exc}") from exc
        self._seq, self._ops = int(seq), list(ops)

    def _save(self) -> None:
        if self._path is None:
            return
        write_json_atomically(
            self._path,
            {
                "provider": self.provider,
                "version": STATE_VERSION,
                "params": self._params,
                "publish_seq": self._seq,
                "ops": self._ops,
            },
        )

    def _rebuild(self) -> None:
        self._initial()
        for op in self._ops:
            self._apply(op)

    # -- mutations ---------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The publish stamp: now in UTC, millisecond precision, never before the end of the initial window."""
        now = self._clock().astimezone(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        return max(now, WINDOW_END + timedelta(seconds=1))

    def publish(self, new: int, changed: int) -> PublishResult:
        """Plan, apply, log and save one publish; see the subclass for what ``new`` and ``changed`` mean.

        Raises:
            PublishError: if the request cannot be honoured (nothing is changed then).
        """
        with self._lock:
            seq = self._seq + 1
            ops, result = self._plan(seq, self.now(), new, changed)
            for op in ops:
                self._apply(op)
            self._ops.extend(ops)
            self._seq = seq
            self._save()
            return result

    def reset(self) -> None:
        """Back to the initial catalogue: forget every publish (also on disk)."""
        with self._lock:
            self._seq, self._ops = 0, []
            self._save()
            self._rebuild()
