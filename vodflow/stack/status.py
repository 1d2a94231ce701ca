"""``vodflow status``: what is running, where, and what ran lately; read-only and quick."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from vodflow.alerts.failures import AlertFailure, AlertFailuresUnavailable, recent_alert_failures
from vodflow.db import embedded
from vodflow.settings import Settings
from vodflow.stack import api, procs
from vodflow.stack.layout import layout
from vodflow.stack.overview import CountsReader, Overview, deployments_overview
from vodflow.stack.services import POSTGRES, PREFECT_SERVER, all_services

#: How far back ``vodflow status`` looks for alert deliveries that failed.
ALERT_FAILURES_SINCE = timedelta(hours=24)

RUNNING = "running"
STOPPED = "stopped"
#: The process is ours and alive but does not answer its health check (still starting, or stuck).
UNHEALTHY = "unhealthy"
#: ``DATABASE_URL`` points at a server the stack does not manage.
EXTERNAL = "external"


@dataclass(frozen=True)
class ComponentStatus:
    """One row of the status table."""

    name: str
    state: str
    pid: int | None
    port: int | None
    url: str | None


@dataclass
class StackStatus:
    """The whole answer of ``vodflow status``."""

    data_dir: str
    components: list[ComponentStatus]
    flow_runs: list[api.FlowRunRow] = field(default_factory=list)
    flow_runs_error: str | None = None
    overview: Overview | None = None
    overview_error: str | None = None
    alert_failures: list[AlertFailure] = field(default_factory=list)
    alert_failures_error: str | None = None

    @property
    def all_running(self) -> bool:
        """Whether every component the stack manages is up and healthy."""
        return all(c.state in (RUNNING, EXTERNAL) for c in self.components)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``status --json``."""
        return {
            "data_dir": self.data_dir,
            "all_running": self.all_running,
            "components": [asdict(c) for c in self.components],
            "flow_runs": [asdict(r) for r in self.flow_runs],
            "flow_runs_error": self.flow_runs_error,
            "deployments": [asdict(d) for d in self.overview.deployments] if self.overview else [],
            "backfills": [asdict(b) for b in self.overview.backfills] if self.overview else [],
            "overview_error": self.overview_error,
            "alert_failures": [{**asdict(f), "occurred": f.occurred.isoformat()} for f in self.alert_failures],
            "alert_failures_error": self.alert_failures_error,
        }


def _postgres(settings: Settings) -> ComponentStatus:
    if settings.database_url:
        from vodflow.db.urls import database_url, redacted

        return ComponentStatus(POSTGRES, EXTERNAL, None, None, redacted(database_url(settings)))
    pid = embedded.running_pid(settings)
    url = f"postgresql://{settings.host}:{settings.pg_port}"
    return ComponentStatus(POSTGRES, RUNNING if pid else STOPPED, pid, settings.pg_port, url)


def stack_status(settings: Settings, *, flow_runs: int = 10) -> StackStatus:
    """Check each component (pid file, same process, health) and, if the server is up, list recent flow runs."""
    where = layout(settings)
    rows = [_postgres(settings)]
    for service in all_services(settings):
        record = procs.read_record(where.run_dir, service.name)
        proc = procs.live_process(record) if record else None
        if proc is None:
            state, pid = STOPPED, None
        else:
            state = RUNNING if service.health(proc.create_time()) else UNHEALTHY
            pid = proc.pid
        url = service.url if service.url else f"pool {settings.work_pool}" if service.name == "worker" else None
        rows.append(ComponentStatus(service.name, state, pid, service.port, url))
    result = StackStatus(str(settings.data_dir), rows)
    server = next(c for c in rows if c.name == PREFECT_SERVER)
    if server.state == RUNNING and flow_runs > 0:
        try:
            result.flow_runs = api.recent_flow_runs(settings, flow_runs)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            result.flow_runs_error = f"could not read flow runs: {exc}"
        try:
            result.overview = deployments_overview(settings, counts_of=_load_counts_reader(settings))
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            result.overview_error = f"could not read the deployments: {exc}"
        try:
            result.alert_failures = recent_alert_failures(settings, since=ALERT_FAILURES_SINCE)
        except AlertFailuresUnavailable as exc:
            result.alert_failures_error = f"could not read alert deliveries: {exc}"
    return result


def _load_counts_reader(settings: Settings) -> CountsReader:
    """Counts from ``ops.loads`` when the database answers; none (not an error) when it does not."""

    def read(flow_run_ids: list[str]) -> dict[str, dict[str, int]]:
        from sqlalchemy.exc import SQLAlchemyError

        from vodflow.db.engine import get_engine
        from vodflow.db.load_audit import counts_by_flow_run
        from vodflow.db.urls import database_url

        try:
            return counts_by_flow_run(get_engine(database_url(settings)), flow_run_ids)
        except (SQLAlchemyError, ValueError):
            return {}

    return read
