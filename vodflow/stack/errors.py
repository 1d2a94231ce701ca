"""The errors the local stack reports to a person: each one carries a single line saying what to do."""

from __future__ import annotations

from pathlib import Path


class StackError(RuntimeError):
    """A known failure of ``vodflow up``/``down``; the CLI prints its message as one line, without a traceback."""


class PortTakenError(StackError):
    """Another program listens on a port the stack needs, so starting would clobber or fail confusingly."""

    def __init__(self, component: str, host: str, port: int, env_var: str) -> None:
        self.component = component
        self.host = host
        self.port = port
        self.env_var = env_var
        super().__init__(
            f"port {port} on {host} (needed by {component}) is taken by another program: set {env_var} to a free port"
        )


class StartTimeoutError(StackError):
    """A component did not become healthy in time; the message names its log so the cause is one step away."""

    def __init__(self, component: str, seconds: float, log: Path | None, reason: str = "") -> None:
        self.component = component
        self.seconds = seconds
        self.log = log
        where = f"; see {log}" if log is not None else ""
        why = f" ({reason})" if reason else ""
        super().__init__(f"{component} was not healthy after {seconds:.0f} s{why}{where}")


class ComponentExitedError(StackError):
    """A child process died while we waited for it: waiting longer would only delay the same error."""

    def __init__(self, component: str, returncode: int | None, log: Path) -> None:
        self.component = component
        self.returncode = returncode
        self.log = log
        code = f" with code {returncode}" if returncode is not None else ""
        super().__init__(f"{component} exited{code} while starting; see {log}")
