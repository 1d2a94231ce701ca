"""Runtime settings, read from environment variables on every call.

Why functions and not a module-level object: tests, the CLI and the worker's flow-run subprocesses each set
their own environment (data folder, ports); reading at call time keeps one process from leaking its choices
into another's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The Prefect global concurrency limit that serialises dbt invocations (one slot): dbt runs in one process
#: must not overlap, and ``strict`` acquisition makes a missing limit an error instead of "no limit".
DBT_CONCURRENCY_LIMIT = "vodflow-dbt"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Everything a vodflow process needs to find its stack."""

    data_dir: Path
    host: str
    pg_port: int
    prefect_port: int
    sandbox_port: int
    docs_port: int
    database_url: str | None = field(repr=False)  # may hold a password: never in a repr or a traceback
    dbt_project_dir: Path
    work_pool: str

    @property
    def prefect_home(self) -> Path:
        """Prefect's own home (its SQLite database, logs) for the local stack."""
        return self.data_dir / "prefect"

    @property
    def prefect_api_url(self) -> str:
        """The local Prefect server's API URL."""
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def prefect_ui_url(self) -> str:
        """The local Prefect server's UI URL."""
        return f"http://{self.host}:{self.prefect_port}"

    @property
    def sandbox_url(self) -> str:
        """The provider sandbox's base URL."""
        return f"http://{self.host}:{self.sandbox_port}"

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's target folder, under the data folder so two stacks never share compiled state."""
        return self.data_dir / "dbt" / "target"

    @property
    def dbt_log_dir(self) -> Path:
        """dbt's log folder, under the data folder."""
        return self.data_dir / "dbt" / "logs"

    @property
    def dbt_docs_target_dir(self) -> Path:
        """Where ``dbt docs generate`` works: its own target folder, so docs never touch a build's artifacts."""
        return self.data_dir / "dbt-docs" / "target"

    @property
    def dbt_docs_dir(self) -> Path:
        """The published docs site (index.html, manifest.json, catalog.json): the only folder the docs server serves."""
        return self.data_dir / "dbt-docs" / "site"

    @property
    def docs_url(self) -> str:
        """The docs server's URL (``vodflow docs``, or the stack's ``dbt-docs`` service)."""
        return f"http://{self.host}:{self.docs_port}/"


def get_settings() -> Settings:
    """Read the settings from the environment (``VODFLOW_*``, ``DATABASE_URL``)."""
    data_dir = Path(os.environ.get("VODFLOW_DATA_DIR", ".vodflow")).expanduser().resolve()
    return Settings(
        data_dir=data_dir,
        host=os.environ.get("VODFLOW_HOST", "127.0.0.1"),
        pg_port=_int_env("VODFLOW_PG_PORT", 54329),
        prefect_port=_int_env("VODFLOW_PREFECT_PORT", 4210),
        sandbox_port=_int_env("VODFLOW_SANDBOX_PORT", 8765),
        docs_port=_int_env("VODFLOW_DOCS_PORT", 8580),
        database_url=os.environ.get("DATABASE_URL") or None,
        dbt_project_dir=Path(os.environ.get("VODFLOW_DBT_PROJECT_DIR", PROJECT_ROOT / "dbt_models")).resolve(),
        work_pool=os.environ.get("VODFLOW_WORK_POOL", "vodflow-process"),
    )
