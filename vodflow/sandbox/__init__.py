"""Provider sandbox: a local, deterministic stand-in for vodflow's content providers, with fault injection.

Tests and the local stack use it through :class:`SandboxServer` (in-process) or ``python -m vodflow.sandbox``,
and drive it with :class:`SandboxAdmin`. See ``README.md`` next to this file.
"""

from vodflow.sandbox.admin import SandboxAdmin
from vodflow.sandbox.server import SandboxServer

__all__ = ["SandboxAdmin", "SandboxServer"]
