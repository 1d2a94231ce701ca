"""Database URLs: which server to use, and how to show its URL without leaking the password."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from vodflow.settings import Settings, get_settings

DATABASE_NAME = "vodflow"
SUPERUSER = "postgres"


class DatabaseNotConfiguredError(RuntimeError):
    """Neither ``DATABASE_URL`` nor an initialised local database is available."""


def sqlalchemy_url(raw: str) -> URL:
    """Parse a URL and make sure it uses the psycopg 3 driver."""
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername != "postgresql+psycopg":
        raise ValueError(f"DATABASE_URL must point at PostgreSQL, got driver {url.drivername!r}")
    return url


def embedded_url(settings: Settings) -> URL:
    """URL of the local (embedded) server under the data folder."""
    password_file = settings.data_dir / "pg" / "superuser-password"
    if not password_file.exists():
        raise DatabaseNotConfiguredError(
            f"no local database under {settings.data_dir}: run `vodflow up` (or set DATABASE_URL)"
        )
    return URL.create(
        "postgresql+psycopg",
        username=SUPERUSER,
        password=password_file.read_text().strip(),
        host=settings.host,
        port=settings.pg_port,
        database=DATABASE_NAME,
    )


def database_url(settings: Settings | None = None) -> URL:
    """The URL every vodflow process uses: ``DATABASE_URL`` if set, else the embedded server."""
    settings = settings or get_settings()
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    return embedded_url(settings)


def libpq_uri(url: URL) -> str:
    """A plain ``postgresql://`` URI that psql, BI tools and libpq understand."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def redacted(url: URL) -> str:
    """The URL with its password hidden: the only form that may appear in logs."""
    return url.render_as_string(hide_password=True)
