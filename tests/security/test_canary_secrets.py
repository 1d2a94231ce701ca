"""Every secret set to a canary; the happy path and the failure paths run; the canary is found nowhere it must not be.

On the package's stack (tests/security/conftest.py), whose database password, Slack webhook, provider API keys
and SMTP password are canaries. The tests run in file order: a lumina ingestion through its deployment with its
dbt build and the Data Health Check; a provider fault that fails a run (its alert reaches the inbox through the
canary webhook); a Slack webhook that refuses the post while a run fails because the database is unreachable;
the command line and the library with a ``DATABASE_URL`` that names an unreachable server or a wrong password.
The last test reads everything back — files under the data folder and the project, every Prefect record, the
inbox, the health report, the ``ops`` tables, every command's output and exception — and finds no canary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from functools import partial
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from tests.security import scan
from tests.security.conftest import CanaryStack
from tests.waiting import wait_for
from vodflow.sandbox.admin import SandboxAdmin
from vodflow.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

#: A day the sandbox serves lumina titles for.
WINDOW = ("2026-03-01T00:00:00+00:00", "2026-03-02T00:00:00+00:00")
_STARTED = time.time()


def _libpq(canary: CanaryStack) -> str:
    """The stack's database as its superuser, built here rather than printed by ``vodflow db url``."""
    password = canary.secrets["VODFLOW_PG_PASSWORD"]
    return f"postgresql://postgres:{password}@127.0.0.1:{canary.stack.ports['VODFLOW_PG_PORT']}/vodflow"


def _sandbox(canary: CanaryStack) -> SandboxAdmin:
    return SandboxAdmin(canary.stack.url("VODFLOW_SANDBOX_PORT"))


def _python(canary: CanaryStack, code: str, env: dict[str, str] | None = None, timeout: float = 600) -> Any:
    """Run ``code`` (its last line of output is JSON) as a user's script would; its output is kept for the scan."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**canary.stack.env, "PREFECT_API_URL": canary.stack.api_url, **(env or {})},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    canary.record("python script (stdout)", result.stdout)
    canary.record("python script (stderr)", result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_stack_came_up_with_the_canaries(canary: CanaryStack) -> None:
    assert canary.stack.first_up.returncode == 0
    # The database really is protected by the canary: the password file holds it, and it opens the database.
    password_file = canary.stack.data_dir / "pg" / "superuser-password"
    assert password_file.read_text().strip() == canary.secrets["VODFLOW_PG_PASSWORD"]
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    with psycopg.connect(_libpq(canary), connect_timeout=10) as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)
    # The Slack and email blocks hold theirs (read back with include_secrets, the one way to see them).
    blocks = scan.block_documents_with_secrets(canary.stack.api_url, canary.api_headers)
    assert canary.secrets["VODFLOW_SLACK_WEBHOOK_URL"] in blocks
    assert canary.secrets["VODFLOW_SMTP_PASSWORD"] in blocks
    # The Prefect server asks for its credentials (its health probe excepted), and the stack's clients have them.
    api = canary.stack.api_url
    assert httpx.post(f"{api}/flow_runs/filter", json={}, trust_env=False, timeout=10).status_code == 401
    assert httpx.get(f"{api}/health", trust_env=False, timeout=10).status_code == 200


def test_happy_path_ingestion_dbt_build_and_health_report(canary: CanaryStack) -> None:
    result = canary.vodflow("ingest", "lumina", "--wait", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": Completed" in result.stdout
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["status"] == "succeeded" and counts["inserted"] > 0
    # The run sent the lumina API key (a canary) with every request it made.
    assert _sandbox(canary).requests("lumina")
    with psycopg.connect(_libpq(canary), connect_timeout=10) as conn:
        built = conn.execute("select count(*) from marts.dim_assets where provider = 'lumina'").fetchone()
    assert built is not None and built[0] > 0, "the ingestion's dbt build wrote no mart rows"

    report = canary.vodflow("health", "--no-open", timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    path = next(line.split(None, 1)[1] for line in report.stdout.splitlines() if line.startswith("report "))
    assert path.endswith(".html") and str(canary.stack.data_dir) in path
    assert "could not be asked" not in report.stdout, report.stdout  # the report read the alert events, with auth
    assert "<html" in open(path, encoding="utf-8").read().lower()


def test_a_provider_fault_fails_the_run_and_its_alert_reaches_slack(canary: CanaryStack) -> None:
    admin = _sandbox(canary)
    admin.inject_fault("truncated", times=-1)
    try:
        result = canary.vodflow("ingest", "lumina", "--wait", "--start", WINDOW[0], "--end", WINDOW[1], timeout=600)
    finally:
        admin.clear_faults()
    assert result.returncode == 1, result.stdout + result.stderr
    assert ": Failed" in result.stdout
    run_name = result.stdout.split("flow run ", 1)[1].split(" (", 1)[0]
    # The failure alert went through the webhook whose URL carries the canary: it is in use, and it works.
    message = wait_for(
        lambda: [m for m in admin.inbox() if run_name in json.dumps(m)], 90, "the failure alert in the inbox", every=1
    )
    assert "provider lumina" in json.dumps(message), message


def test_a_refused_slack_post_while_the_database_is_unreachable(canary: CanaryStack) -> None:
    token = canary.token
    failing = f"http://127.0.0.1:{canary.closed_port}/services/T0/B0/canary-slackfail-{token}"
    applied = canary.vodflow("automations", "apply", env={"VODFLOW_SLACK_WEBHOOK_URL": failing}, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert failing in scan.block_documents_with_secrets(canary.stack.api_url, canary.api_headers)

    # A run of the deployment whose database port is wrong (a job variable: the run's environment only).
    run = _python(
        canary,
        f"""
import json
from prefect.deployments import run_deployment
run = run_deployment("ingest-lumina/ingest-lumina", timeout=300,
                     job_variables={{"env": {{"VODFLOW_PG_PORT": "{canary.closed_port}"}}}})
print(json.dumps({{"id": str(run.id), "state": run.state.type.value, "message": run.state.message}}))
""",
    )
    assert run["state"] == "FAILED", run
    assert "OperationalError" in run["message"], run

    # The failure's alert could not be delivered: the server recorded why, in words that hold no URL.
    def failed_delivery() -> list[dict[str, Any]]:
        status = canary.vodflow("status", "--json", timeout=120)
        failures = json.loads(status.stdout)["alert_failures"] if status.returncode == 0 else []
        return [f for f in failures if "unreachable" in f["detail"] or "answered" in f["detail"]]

    failures = wait_for(failed_delivery, 90, "the failed Slack delivery in vodflow status", every=1)
    assert all(f["automation"].startswith("vodflow") for f in failures), failures


def test_a_database_url_that_fails_never_shows_its_password(canary: CanaryStack) -> None:
    """The command line and the library with a DATABASE_URL whose server is not there, or whose password is wrong."""
    token = canary.token
    pg_port = canary.stack.ports["VODFLOW_PG_PORT"]
    unreachable = f"postgresql+psycopg://postgres:canary-dburl-{token}@127.0.0.1:{canary.closed_port}/vodflow"
    wrong_password = f"postgresql+psycopg://postgres:canary-wrongpw-{token}@127.0.0.1:{pg_port}/vodflow"
    for url in (unreachable, wrong_password):
        upgraded = canary.vodflow("db", "upgrade", env={"DATABASE_URL": url}, timeout=120)
        assert upgraded.returncode != 0, upgraded.stdout + upgraded.stderr
    status = canary.vodflow("status", env={"DATABASE_URL": unreachable}, timeout=120)
    assert "postgres:***@127.0.0.1" in status.stdout, status.stdout + status.stderr
    health = canary.vodflow("health", "--no-open", env={"DATABASE_URL": unreachable}, timeout=300)
    assert health.returncode != 0, health.stdout + health.stderr
    anomalies = canary.vodflow("anomaly", "list", env={"DATABASE_URL": unreachable}, timeout=120)
    assert anomalies.returncode != 0, anomalies.stdout + anomalies.stderr

    # The same in this process: the exceptions themselves, their causes and their tracebacks.
    from vodflow.db import migrate
    from vodflow.db.engine import get_engine
    from vodflow.db.urls import redacted, sqlalchemy_url

    for raw in (unreachable, wrong_password):
        url = sqlalchemy_url(raw)
        assert "***" in redacted(url) and token not in redacted(url)
        for attempt in (partial(_connect, url), partial(migrate.upgrade, url)):
            with pytest.raises(Exception) as raised:
                attempt()
            canary.record(f"exception from {redacted(url)}", "".join(traceback.format_exception(raised.value)))
            canary.record(f"repr of the exception from {redacted(url)}", repr(raised.value))
        get_engine(url).dispose()


def _connect(url: URL) -> None:
    from vodflow.db.engine import get_engine

    with get_engine(url).connect():
        pass


def test_the_canary_is_nowhere_it_must_not_be(canary: CanaryStack) -> None:
    stack = canary.stack
    time.sleep(3)  # the server's event persister writes in batches of a few seconds
    pg = stack.data_dir / "pg"
    password_file = pg / "superuser-password"
    sandbox = stack.url("VODFLOW_SANDBOX_PORT")
    inbox = _sandbox(canary).inbox()
    assert inbox, "no Slack message reached the inbox: the canary webhook was never used"
    sources: list[scan.Source] = [
        *scan.files(stack.data_dir, skip=[password_file, pg / "data"]),
        *scan.files(PROJECT_ROOT, newer_than=_STARTED),  # anything a run left in the checkout (dbt logs, targets)
        *scan.prefect_records(stack.api_url, canary.api_headers),
        scan.http_text(f"{sandbox}/inbox.json"),
        scan.http_text(f"{sandbox}/inbox"),
        scan.http_text(stack.url("VODFLOW_DOCS_PORT", "/health/")),
        *scan.ops_tables(_libpq(canary)),
        *scan.database_tables(_libpq(canary).rsplit("/", 1)[0] + "/prefect", "prefect database"),
        *scan.command_lines(pid for pid, _ in stack.pids.values()),
        *canary.seen,
    ]
    assert len(sources) > 100, f"the scan read only {len(sources)} sources"
    names = [where for where, _ in sources]
    assert any(name == "prefect database.flow_run" for name in names), "Prefect's own database was not scanned"
    assert any("dbt" in name for name in names), "dbt's logs and target were not scanned"
    assert any(name.startswith("prefect log ") for name in names), "no Prefect log record was scanned"
    for kind in ("flow run", "task run", "log", "artifact", "block document", "event", "deployment"):
        assert any(name.startswith(f"prefect {kind} ") for name in names), f"no Prefect {kind} was scanned"
    assert any(name.startswith("command line") for name in names), "no command line was scanned"

    assert scan.findings(canary.needles, sources) == []

    # Controls: the same scan finds the canary where it belongs, so it is able to find it anywhere.
    assert scan.findings(canary.needles, scan.files(pg, skip=[pg / "data"])), "the scan missed the password file"
    blocks = scan.block_documents_with_secrets(stack.api_url, canary.api_headers)
    assert scan.findings(canary.needles, [("blocks", blocks)]), "the scan missed the secrets in the blocks"
    scan.plant_log(stack.api_url, canary.api_headers, f"planted by the test: {canary.secrets['VODFLOW_PG_PASSWORD']}")
    planted = scan.findings(canary.needles, scan.prefect_records(stack.api_url, canary.api_headers))
    assert [line.split(":")[0].rsplit(" ", 1)[0] for line in planted] == ["prefect log"], planted
