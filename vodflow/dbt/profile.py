"""The dbt profile's connection, taken from vodflow's database URL.

``dbt_models/profiles.yml`` reads every connection detail from environment variables; this module is the one
place that fills them, so dbt always talks to the same database as the rest of vodflow.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.engine import URL

from vodflow.envvars import temporary_environ

#: Names of the variables ``dbt_models/profiles.yml`` reads.
HOST = "VODFLOW_DBT_HOST"
PORT = "VODFLOW_DBT_PORT"
USER = "VODFLOW_DBT_USER"
DBNAME = "VODFLOW_DBT_DBNAME"
SSLMODE = "VODFLOW_DBT_SSLMODE"
#: dbt scrubs the values of ``DBT_ENV_SECRET_*`` variables from its logs and never stores them in artifacts.
PASSWORD = "DBT_ENV_SECRET_VODFLOW_DBT_PASSWORD"  # noqa: S105 - the variable's name, not a password

DEFAULT_PORT = 5432


def _query_value(url: URL, key: str) -> str | None:
    value = url.query.get(key)
    if isinstance(value, tuple):
        return value[-1] if value else None
    return value


def dbt_env(url: URL) -> dict[str, str]:
    """Map a database URL to the environment variables that ``dbt_models/profiles.yml`` reads.

    A host given as a query parameter (``?host=/run/postgresql``, a Unix socket directory) is honoured, and so
    is ``sslmode``.

    Args:
        url: The SQLAlchemy URL of the database (e.g. ``vodflow.db.urls.database_url()``).

    Returns:
        The variables, password included: pass them to dbt's environment, never to a log.

    Raises:
        ValueError: If the URL names no database or no user.
    """
    if not url.database:
        raise ValueError("the database URL names no database")
    if not url.username:
        raise ValueError("the database URL names no user")
    host = url.host or _query_value(url, "host") or "localhost"
    port = url.port or int(_query_value(url, "port") or DEFAULT_PORT)
    env = {
        HOST: host,
        PORT: str(port),
        USER: url.username,
        PASSWORD: url.password if isinstance(url.password, str) else "",
        DBNAME: url.database,
    }
    sslmode = _query_value(url, "sslmode")
    if sslmode:
        env[SSLMODE] = sslmode
    return env


def environ(values: dict[str, str]) -> AbstractContextManager[None]:
    """Set environment variables for the duration of the block, then restore the previous values.

    dbt reads ``env_var()`` from the process environment, so the variables must be in ``os.environ`` while it
    runs; restoring them afterwards keeps the password out of the environment of anything started later.
    """
    return temporary_environ(values)
