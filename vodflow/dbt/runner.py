"""Run ``dbt build`` in-process through prefect-dbt, one invocation at a time.

``PrefectDbtRunner`` mirrors every dbt node as a Prefect task (and a Prefect asset) when called inside a flow.
dbt's in-process API shares an adapter factory, so two invocations in one process must never overlap: a
module-level lock serialises them in this process, and the Prefect global concurrency limit ``vodflow-dbt``
serialises them across processes (flow runs started by a worker, the CLI, tests). The limit is acquired with
``strict=True``: if it does not exist the build fails instead of running unguarded, so the stack (and the tests)
call :func:`ensure_dbt_concurrency_limit` first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect_dbt.core import DbtHookContext, PrefectDbtRunner, PrefectDbtSettings

from vodflow.db.urls import database_url
from vodflow.dbt.profile import dbt_env, environ
from vodflow.settings import DBT_CONCURRENCY_LIMIT, Settings, get_settings

CONCURRENCY_LIMIT_NAME = DBT_CONCURRENCY_LIMIT
#: How long a build waits for another process's build to finish before giving up.
SLOT_TIMEOUT_SECONDS = 20 * 60

#: dbt settings for every invocation: plain-text logs, and no usage statistics (the machines have no internet).
DBT_RUNTIME_ENV = {
    "DBT_USE_COLORS": "false",
    "DBT_USE_COLORS_FILE": "false",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}

#: The schemas the project builds into (dbt_models/macros/generate_schema_name.sql).
DBT_SCHEMAS = ("staging", "intermediate", "marts")

FAILURE_STATUSES = frozenset({"error", "fail", "runtime error"})
WARNING_STATUSES = frozenset({"warn"})

_lock = threading.Lock()
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DbtNodeResult:
    """What one dbt node (model, test, unit test, seed, snapshot) did in a build."""

    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str | None
    execution_time: float


@dataclass(frozen=True)
class DbtBuildSummary:
    """The outcome of one ``dbt build``: plain data, JSON-serialisable with :meth:`to_dict`."""

    command: list[str]
    success: bool
    elapsed_seconds: float
    nodes: list[DbtNodeResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[DbtNodeResult] = field(default_factory=list)
    warnings: list[DbtNodeResult] = field(default_factory=list)
    error: str | None = None
    covered_by_earlier_build: bool = False
    """dbt did not run: once this build held the dbt slot, a build that ran while it waited had covered its rows."""

    @property
    def selected(self) -> list[str]:
        """Unique IDs of the nodes the build ran, in the order dbt finished them.

        Ephemeral models and exposures (no-ops: they only name who reads the marts) are left out.
        """
        return [node.unique_id for node in self.nodes if node.resource_type != "exposure"]

    def of_type(self, resource_type: str) -> list[DbtNodeResult]:
        """The nodes of one resource type (``model``, ``test``, ``unit_test``…)."""
        return [node for node in self.nodes if node.resource_type == resource_type]

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-compatible data."""
        return asdict(self)

    @classmethod
    def from_run_results(
        cls,
        command: list[str],
        run_results: dict[str, dict[str, Any]],
        *,
        success: bool,
        elapsed_seconds: float,
        error: str | None = None,
    ) -> DbtBuildSummary:
        """Build a summary from prefect-dbt's per-node results (``unique_id`` → status, message, time)."""
        nodes = [_node_result(unique_id, result) for unique_id, result in run_results.items()]
        return cls(
            command=list(command),
            success=success,
            elapsed_seconds=round(elapsed_seconds, 3),
            nodes=nodes,
            counts=dict(Counter(node.status for node in nodes)),
            failures=[node for node in nodes if node.status in FAILURE_STATUSES],
            warnings=[node for node in nodes if node.status in WARNING_STATUSES],
            error=error,
        )


class DbtBuildError(RuntimeError):
    """A dbt build failed: a model errored, a test of severity error failed, or dbt could not run at all."""

    def __init__(self, summary: DbtBuildSummary) -> None:
        self.summary = summary
        lines = [f"dbt {' '.join(summary.command)} failed"]
        lines += [f"{node.resource_type} {node.name}: {node.status}: {node.message}" for node in summary.failures]
        if summary.error and not summary.failures:
            lines.append(summary.error)
        super().__init__("\n".join(lines))


def _node_result(unique_id: str, result: dict[str, Any]) -> DbtNodeResult:
    resource_type, name = node_type_and_name(unique_id)
    message = result.get("message")
    return DbtNodeResult(
        unique_id=unique_id,
        resource_type=resource_type,
        name=name,
        status=str(result.get("status", "")),
        message=str(message) if message is not None else None,
        execution_time=round(float(result.get("execution_time") or 0.0), 3),
    )


def node_type_and_name(unique_id: str) -> tuple[str, str]:
    """Split a dbt unique ID into its resource type and a readable name.

    ``model.vodflow.dim_assets`` → (``model``, ``dim_assets``); generic tests drop their hash suffix;
    sources and unit tests keep their two-part name (``lumina.assets``, ``dim_assets.<test>``).
    """
    parts = unique_id.split(".")
    if len(parts) < 3:
        return parts[0], unique_id
    if parts[0] in ("source", "unit_test") and len(parts) >= 4:
        return parts[0], f"{parts[2]}.{parts[3]}"
    return parts[0], parts[2]


def build_args(select: list[str] | None, *, full_refresh: bool, vars: dict[str, Any] | None) -> list[str]:
    """The ``dbt build`` arguments for a selection (``None`` or empty: the whole project); flags are refused.

    Unit tests are left out: they check the models' logic on fixed inputs, not the data, so CI runs them
    (``dbt test --select test_type:unit``) and the pipeline does not pay for them on every load.
    """
    args = ["build", "--exclude-resource-type", "unit_test"]
    if select and any(not selector or selector.startswith("-") for selector in select):
        raise ValueError(f"not a dbt selector: {select!r}")
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    if vars:
        args += ["--vars", json.dumps(vars, sort_keys=True)]
    return args


def dbt_settings(settings: Settings) -> PrefectDbtSettings:
    """prefect-dbt settings: the project (with its own profiles.yml) and a target folder under the data folder."""
    return PrefectDbtSettings(
        project_dir=settings.dbt_project_dir,
        profiles_dir=settings.dbt_project_dir,
        target_path=settings.dbt_target_dir,
    )


def build(
    select: list[str] | None = None,
    *,
    full_refresh: bool = False,
    vars: dict[str, Any] | None = None,
    unless: Callable[[], bool] | None = None,
) -> DbtBuildSummary:
    """Run ``dbt build`` on vodflow's database and return what it did.

    Inside a flow run every dbt node shows as a Prefect task. Builds never overlap: this process's lock, then the
    ``vodflow-dbt`` global concurrency limit (which must exist, see :func:`ensure_dbt_concurrency_limit`).

    Args:
        select: dbt selectors (``["source:lumina+"]``); ``None`` builds the whole project.
        full_refresh: Rebuild incremental models from scratch.
        vars: dbt project variables (``{"lookback_minutes": "120"}``). A change of vars makes dbt re-parse.
        unless: Asked once the build holds the dbt slot: if true, dbt does not run (a build that ran meanwhile did
            this one's work) and the summary says ``covered_by_earlier_build``.

    Returns:
        The build's summary.

    Raises:
        DbtBuildError: A model or a test of severity error failed, or dbt could not run; ``.summary`` holds the
            results of the nodes that did run.
        ConcurrencySlotAcquisitionError: (from ``prefect.concurrency``) The concurrency limit is missing.
        TimeoutError: Another build held the limit for longer than ``SLOT_TIMEOUT_SECONDS``.
    """
    settings = get_settings()
    if select:
        select = [*select, *_missing_models(select, settings)]
    args = build_args(select, full_refresh=full_refresh, vars=vars)
    with exclusive_dbt(settings):
        if unless is not None and unless():
            return DbtBuildSummary(command=args, success=True, elapsed_seconds=0.0, covered_by_earlier_build=True)
        return _invoke(args, settings)


@contextmanager
def exclusive_dbt(settings: Settings | None = None) -> Iterator[None]:
    """Hold the right to invoke dbt: this process's lock, then the ``vodflow-dbt`` global concurrency limit.

    Every in-process dbt invocation (build, docs generate) runs inside this, with the database's credentials in
    the environment the profile reads; nothing else may invoke dbt concurrently in this process.
    """
    settings = settings or get_settings()
    env = {**DBT_RUNTIME_ENV, **dbt_env(database_url(settings))}
    with (
        _lock,
        concurrency(CONCURRENCY_LIMIT_NAME, occupy=1, strict=True, timeout_seconds=SLOT_TIMEOUT_SECONDS),
        environ(env),
    ):
        yield


def _missing_models(select: list[str], settings: Settings) -> list[str]:
    """Models of the project that have no relation in the database yet (a fresh database, a new model).

    A selection such as ``source:atlas+`` reaches shared marts that read models outside it (every provider's
    staging view, the supply-chain marts); adding the missing ones lets any provider's first build succeed on a
    fresh database, and a model added by an upgrade gets built by the next selected build.
    """
    from sqlalchemy.exc import OperationalError

    from vodflow.db.build_state import missing_relations
    from vodflow.db.engine import get_engine

    models = sorted(path.stem for path in (settings.dbt_project_dir / "models").rglob("*.sql"))
    try:
        missing = missing_relations(get_engine(), models, DBT_SCHEMAS)
    except OperationalError:  # the database is unreachable: let dbt report it, as for any build
        return []
    return [model for model in missing if model not in select]


def _invoke(args: list[str], settings: Settings) -> DbtBuildSummary:
    Path(settings.dbt_target_dir).mkdir(parents=True, exist_ok=True)
    Path(settings.dbt_log_dir).mkdir(parents=True, exist_ok=True)
    # A fresh runner per build: it caches the manifest it reads from the target folder.
    runner = PrefectDbtRunner(settings=dbt_settings(settings), raise_on_failure=True)
    run_results: dict[str, dict[str, Any]] = {}

    def capture(ctx: DbtHookContext) -> None:
        # run_end fires before prefect-dbt raises on failure, so the results survive a failed build.
        run_results.update(ctx.run_results or {})

    runner.on_run_end(capture)
    started = time.perf_counter()
    try:
        runner.invoke(args, log_path=str(settings.dbt_log_dir))
    except ValueError as exc:  # how prefect-dbt reports a failed node or a dbt that could not run
        summary = DbtBuildSummary.from_run_results(
            args, run_results, success=False, elapsed_seconds=time.perf_counter() - started, error=str(exc)
        )
        raise DbtBuildError(summary) from exc
    return DbtBuildSummary.from_run_results(
        args, run_results, success=True, elapsed_seconds=time.perf_counter() - started
    )


def ensure_dbt_concurrency_limit(limit: int = 1) -> bool:
    """Create the ``vodflow-dbt`` global concurrency limit if it is missing; idempotent and safe to race.

    An existing limit is left as it is (a person may have changed it on purpose), with a warning if it no
    longer serialises builds.

    Returns:
        True if this call created the limit.
    """
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_global_concurrency_limit_by_name(CONCURRENCY_LIMIT_NAME)
        except ObjectNotFound:
            existing = None
        if existing is not None:
            if not existing.active or existing.limit != limit:
                _log.warning(
                    "concurrency limit %s is %s with limit %s: dbt builds may overlap across processes",
                    CONCURRENCY_LIMIT_NAME,
                    "active" if existing.active else "inactive",
                    existing.limit,
                )
            return False
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=CONCURRENCY_LIMIT_NAME, limit=limit)
            )
        except ObjectAlreadyExists:
            return False
        return True
