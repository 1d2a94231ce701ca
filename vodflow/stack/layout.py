"""Where the stack keeps its runtime files under the data folder: one place, so up, down and status agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vodflow.settings import Settings


@dataclass(frozen=True)
class StackLayout:
    """The stack's folders and files under ``settings.data_dir``."""

    data_dir: Path

    @property
    def run_dir(self) -> Path:
        """Pid files (``<name>.pid``) and the lock that keeps two ``up``/``down`` from interleaving."""
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        """One log per component (``<name>.log``): the first place to look when something does not start."""
        return self.data_dir / "logs"

    @property
    def sandbox_dir(self) -> Path:
        """The provider sandbox's state (drops, cursors), kept between restarts."""
        return self.data_dir / "sandbox"

    @property
    def lock_file(self) -> Path:
        """Held (flock) while ``up`` or ``down`` runs."""
        return self.run_dir / "stack.lock"

    def log(self, name: str) -> Path:
        """The log file of component ``name``."""
        return self.log_dir / f"{name}.log"


def layout(settings: Settings) -> StackLayout:
    """The layout for these settings."""
    return StackLayout(settings.data_dir)
