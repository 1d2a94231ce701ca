"""Deploy ``prefect.yaml`` to a Prefect server: the same file for the local process pool and Kubernetes.

``vodflow.deploy.kubernetes`` renders and checks the Kubernetes Jobs that file produces, offline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vodflow.settings import PROJECT_ROOT, Settings
from vodflow.stack.env import child_env


class DeployError(RuntimeError):
    """``prefect deploy`` failed; the message carries the tail of its output."""


def deploy_all(settings: Settings, prefect_file: Path | None = None, timeout_s: float = 300) -> None:
    """Run ``prefect deploy --all`` for ``prefect_file`` (default: the project's) against the stack's server."""
    prefect_file = prefect_file or PROJECT_ROOT / "prefect.yaml"
    env = child_env(settings)
    if not env.get("VODFLOW_WORK_POOL"):
        raise DeployError("VODFLOW_WORK_POOL is empty: it names the work pool every deployment uses")
    command = [
        sys.executable,
        "-m",
        "prefect",
        "--no-prompt",
        "deploy",
        "--all",
        "--prefect-file",
        str(prefect_file),
    ]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if result.returncode != 0:
        raise DeployError(f"prefect deploy failed: {(result.stdout + result.stderr).strip()[-1500:]}")
