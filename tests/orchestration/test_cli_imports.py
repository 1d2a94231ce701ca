"""The CLI must point Prefect at the stack before Prefect is imported: its settings are read once, at import."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_does_not_import_prefect() -> None:
    code = "import sys, vodflow.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
