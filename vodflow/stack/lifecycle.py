"""``vodflow up`` and ``vodflow down``: bring the local stack up in dependency order, and take all of it down.

``up`` is idempotent: a part that is already running (pid file + same process + healthy) is kept, and only what
is missing is started, so a second ``up`` never starts a second copy of anything. ``down`` stops by pid, never by
name, and then checks that no process it started (or any descendant of one) is still alive.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

import psutil

from vodflow.db import embedded
from vodflow.settings import Settings
from vodflow.stack import procs
from vodflow.stack.errors import StackError, StartTimeoutError
from vodflow.stack.health import ensure_port_free, wait_healthy
from vodflow.stack.layout import StackLayout, layout
from vodflow.stack.lock import stack_lock
from vodflow.stack.prefect_objects import DBT_CONCURRENCY_LIMIT, ensure_concurrency_limit, ensure_work_pool
from vodflow.stack.progress import NullReporter, Reporter, step
from vodflow.stack.services import (
    POSTGRES,
    PREFECT_DB_UPGRADE_TIMEOUT,
    PREFECT_SERVER,
    WATCHER,
    Service,
    all_services,
    docs_server,
    prefect_database_upgrade_cmd,
    prefect_server,
    prefect_server_database_env,
    sandbox,
    watcher,
    worker,
)


def _running(service: Service, where: StackLayout) -> psutil.Process | None:
    record = procs.read_record(where.run_dir, service.name)
    return procs.live_process(record) if record else None


def _check_same_port(name: str, where: StackLayout, port: int, env_var: str) -> None:
    """A part already running on another port than the settings name would never pass its health check."""
    record = procs.read_record(where.run_dir, name)
    if record is not None and record.port is not None and record.port != port and procs.live_process(record):
        raise StackError(
            f"{name} is running on port {record.port} (pid {record.pid}) but {env_var} says {port}: "
            "run `vodflow down` first to change ports"
        )


def _preflight(settings: Settings, where: StackLayout) -> None:
    """Check every port we are about to bind BEFORE starting anything, so a clash costs nothing to fix."""
    if not settings.database_url:
        if embedded.running_pid(settings) is None:
            ensure_port_free(POSTGRES, settings.host, settings.pg_port, "VODFLOW_PG_PORT")
        else:
            _check_same_port(POSTGRES, where, settings.pg_port, "VODFLOW_PG_PORT")
    for service in all_services(settings):
        if service.port is None or not service.env_var:
            continue
        if _running(service, where) is None:
            ensure_port_free(service.name, settings.host, service.port, service.env_var)
        else:
            _check_same_port(service.name, where, service.port, service.env_var)


def _prefect_database_is_new(settings: Settings) -> bool:
    if "PREFECT_SERVER_DATABASE_CONNECTION_URL" in prefect_server_database_env(settings):
        return embedded.prefect_database_is_new(settings)
    return not (settings.prefect_home / "prefect.db").exists()


def _upgrade_prefect_database(settings: Settings, where: StackLayout) -> None:
    """Migrate Prefect's database before the first server start (a cold migrating start can outlast health checks)."""
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    log = where.log(PREFECT_SERVER)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            result = subprocess.run(
                prefect_database_upgrade_cmd(),
                env=prefect_server(settings).env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=PREFECT_DB_UPGRADE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StartTimeoutError(
                PREFECT_SERVER, PREFECT_DB_UPGRADE_TIMEOUT, log, "database upgrade did not finish"
            ) from exc
    if result.returncode != 0:
        raise StackError(f"prefect server database upgrade failed (code {result.returncode}); see {log}")


def _ensure_service(service: Service, settings: Settings, where: StackLayout) -> str:
    """Start ``service`` unless our copy is running; either way wait until it is healthy. Returns what happened."""
    log = where.log(service.name)
    proc = _running(service, where)
    if proc is not None:
        since = proc.create_time()
        wait_healthy(service.name, lambda: service.health(since), timeout=service.start_timeout, log=log)
        return f"already running, pid {proc.pid}"
    procs.remove_record(where.run_dir, service.name)  # stale: that process is gone (or the pid was reused)
    if service.port is not None and service.env_var:
        ensure_port_free(service.name, settings.host, service.port, service.env_var)
    if service.name == PREFECT_SERVER and _prefect_database_is_new(settings):
        _upgrade_prefect_database(settings, where)
    record, child = procs.spawn(
        service.name,
        service.cmd,
        env=service.env,
        cwd=service.cwd,
        run_dir=where.run_dir,
        log_dir=where.log_dir,
        port=service.port,
    )
    try:
        wait_healthy(
            service.name, lambda: service.health(record.create_time), timeout=service.start_timeout, log=log, proc=child
        )
    except BaseException:
        # Leave nothing half-started behind: the log keeps the evidence.
        leader = procs.live_process(record)
        if leader is not None:
            procs.terminate_tree(leader)
        child.poll()
        procs.remove_record(where.run_dir, service.name)
        raise
    procs.release(child)
    return f"started, pid {record.pid}"


def _ensure_postgres(settings: Settings, where: StackLayout) -> str:
    if settings.database_url:
        return "external (DATABASE_URL), not started"
    was_running = embedded.running_pid(settings)
    pid = embedded.start(settings)
    procs.write_record(where.run_dir, procs.record_for(POSTGRES, pid, settings.pg_port))
    return f"already running, pid {pid}" if was_running == pid else f"started, pid {pid}"


def _migrate(settings: Settings) -> str:
    from vodflow.db import migrate
    from vodflow.db.engine import get_engine
    from vodflow.db.urls import database_url

    url = database_url(settings)
    before = migrate.current_revision(url)
    migrate.upgrade(url)
    after = migrate.current_revision(url)
    get_engine(url).dispose()
    return "up to date" if before == after else f"{before or 'empty'} → {after}"


def _deploy(settings: Settings, where: StackLayout) -> str:
    """Deploy ``prefect.yaml``; a failure becomes one line, with prefect's full output kept in ``logs/deploy.log``."""
    from vodflow.deploy import DeployError, deploy_all

    try:
        deploy_all(settings)
    except (DeployError, subprocess.TimeoutExpired) as exc:
        log = where.log("deploy")
        log.write_text(f"{exc}\n")
        raise StackError(f"deploying the flows failed (the stack itself is up); see {log}") from exc
    return "prefect.yaml deployed"


def _apply_alerts(settings: Settings, where: StackLayout) -> str:
    """Alert channels and automations (``vodflow automations apply``); details in ``logs/automations.log``.

    The log and the outcome hold names and counts only: the webhook URL and SMTP password never leave the blocks.
    """
    from vodflow.alerts.apply import apply_alerts
    from vodflow.alerts.channels import SLACK_WEBHOOK_ENV, slack_webhook_url
    from vodflow.alerts.definitions import DefinitionError

    log = where.log("automations")
    env = dict(os.environ)
    inbox_note = ""
    if not env.get(SLACK_WEBHOOK_ENV, "").strip():  # no Slack of its own: this stack's sandbox inbox receives them
        env[SLACK_WEBHOOK_ENV] = slack_webhook_url(env, api_url=settings.prefect_api_url, settings=settings) or ""
        inbox_note = f"; Slack messages: {settings.sandbox_url}/inbox"
    try:
        result = apply_alerts(settings.prefect_api_url, env=env)
    except (DefinitionError, ValueError) as exc:
        log.write_text(f"{exc}\n")
        raise StackError(f"applying the alert automations failed (the stack itself is up); see {log}") from exc
    log.write_text("\n".join(result.lines()) + "\n" + (f"{inbox_note[2:]}\n" if inbox_note else ""))
    unconfigured = [line.split(":")[0] for line in result.channels if "not configured" in line]
    note = f"; not configured: {', '.join(unconfigured)}" if unconfigured else ""
    return f"{len(result.created) + len(result.updated) + len(result.unchanged)} applied{note}{inbox_note}"


def up(settings: Settings, *, deploy: bool = True, reporter: Reporter | None = None) -> None:
    """Bring the stack up (or complete it): PostgreSQL, migrations, Prefect server, sandbox, pool, limit, worker.

    The dbt docs server starts with the sandbox (it only serves files; generating the docs is not part of ``up``).
    Last the drop-folder watcher, whose events start file ingestions.

    Raises:
        StackError: a port is taken, a part did not become healthy, or another ``up``/``down`` is running.
        EmbeddedPostgresError: the local PostgreSQL could not be initialised or started.
    """
    report = reporter or NullReporter()
    where = layout(settings)
    with stack_lock(where.lock_file):
        where.log_dir.mkdir(parents=True, exist_ok=True)
        _preflight(settings, where)
        with step(report, POSTGRES, "starting") as current:
            current.outcome = _ensure_postgres(settings, where)
        with step(report, "migrations", "applying") as current:
            current.outcome = _migrate(settings)
        for service in (prefect_server(settings), sandbox(settings), docs_server(settings)):
            with step(report, service.name, "starting") as current:
                current.outcome = _ensure_service(service, settings, where)
        with step(report, "work-pool", f"ensuring {settings.work_pool}") as current:
            current.outcome = f"{settings.work_pool}: {ensure_work_pool(settings)}"
        with step(report, "concurrency-limit", f"ensuring {DBT_CONCURRENCY_LIMIT}") as current:
            created = ensure_concurrency_limit(settings)
            current.outcome = f"{DBT_CONCURRENCY_LIMIT} (1 slot): {'created' if created else 'exists'}"
        with step(report, "worker", "starting") as current:
            current.outcome = _ensure_service(worker(settings), settings, where)
        with step(report, WATCHER, "starting") as current:
            current.outcome = _ensure_service(watcher(settings), settings, where)
        if deploy:
            with step(report, "deployments", "deploying") as current:
                current.outcome = _deploy(settings, where)
            with step(report, "automations", "applying") as current:
                current.outcome = _apply_alerts(settings, where)


@dataclass(frozen=True)
class Leftover:
    """A process ``down`` could not stop: reported so a person can deal with it."""

    pid: int
    name: str
    cmdline: str


@dataclass
class DownResult:
    """What ``down`` did, and whether anything survived it."""

    stopped: list[str] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)


def _describe(proc: psutil.Process) -> Leftover:
    try:
        return Leftover(proc.pid, proc.name(), " ".join(proc.cmdline())[:200])
    except psutil.Error:
        return Leftover(proc.pid, "?", "?")


def _stop_service(service: Service, where: StackLayout, tracked: list[psutil.Process]) -> str:
    record = procs.read_record(where.run_dir, service.name)
    leader = procs.live_process(record) if record else None
    if leader is None:
        procs.remove_record(where.run_dir, service.name)
        return "not running"
    tracked.extend(procs.process_tree(leader))
    procs.terminate_tree(leader)
    procs.remove_record(where.run_dir, service.name)
    return f"stopped, pid {leader.pid}"


def _stop_postgres(settings: Settings, where: StackLayout, tracked: list[psutil.Process]) -> str:
    if settings.database_url:
        return "external (DATABASE_URL), left alone"
    pid = embedded.running_pid(settings)
    if pid is None:
        procs.remove_record(where.run_dir, POSTGRES)
        return "not running"
    try:
        tree = procs.process_tree(psutil.Process(pid))
    except psutil.NoSuchProcess:
        tree = []
    tracked.extend(tree)
    try:
        embedded.stop(settings)
    except embedded.EmbeddedPostgresError:
        # pg_ctl could not stop it cleanly: fall back to signals; the final check reports anything that survives.
        procs.kill_all(tree, grace=10.0)
    procs.remove_record(where.run_dir, POSTGRES)
    return f"stopped, pid {pid}"


def down(settings: Settings, *, reporter: Reporter | None = None) -> DownResult:
    """Stop the watcher, worker, docs server, sandbox, Prefect server and PostgreSQL; prove nothing is left.

    Raises:
        StackError: another ``up``/``down`` is running.
    """
    report = reporter or NullReporter()
    where = layout(settings)
    result = DownResult()
    tracked: list[psutil.Process] = []
    if not settings.data_dir.exists():  # nothing was ever started here; do not create the folder either
        names = [service.name for service in reversed(all_services(settings))] + [POSTGRES]
        result.stopped = [f"{name}: not running" for name in names]
        return result
    with stack_lock(where.lock_file):
        for service in reversed(all_services(settings)):
            with step(report, service.name, "stopping") as current:
                current.outcome = _stop_service(service, where, tracked)
            result.stopped.append(f"{service.name}: {current.outcome}")
        with step(report, POSTGRES, "stopping") as current:
            current.outcome = _stop_postgres(settings, where, tracked)
        result.stopped.append(f"{POSTGRES}: {current.outcome}")
        # Anything tracked that is still alive is a leak: one last kill, then report what resisted.
        survivors = procs.kill_all(tracked)
        result.leftovers = [_describe(proc) for proc in survivors]
    return result
