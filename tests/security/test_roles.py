"""Least-privilege database roles (migration 0007), proved with real statements on the session's PostgreSQL.

Each refusal test acts as a role with ``SET LOCAL ROLE`` inside a transaction that is rolled back, and runs each
statement in a savepoint: the test asserts PostgreSQL's own ``InsufficientPrivilege``, and nothing survives it.
The sufficiency test logs in as the pipeline user docs/security.md describes and runs a real load, a real dbt
build (the profile's ``role``) and a BI read.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ProgrammingError

from tests.dbt.conftest import run_dbt
from tests.ingest.batches import ctx, item, load
from vodflow.db import migrate
from vodflow.db.build_state import missing_relations
from vodflow.db.engine import get_engine
from vodflow.db.errors import MigrationPrerequisiteError
from vodflow.db.urls import database_url, libpq_uri
from vodflow.dbt import dbt_env
from vodflow.dbt.runner import DBT_SCHEMAS
from vodflow.settings import Settings, get_settings

INGEST, DBT, BI_READER = "vodflow_ingest", "vodflow_dbt", "bi_reader"
STATEMENT_TIMEOUTS = {INGEST: "15min", DBT: "20min", BI_READER: "2min"}

# A row raw.assets accepts, and a load audit row ops.loads accepts (its counts add up: all zero).
INSERT_ASSET = (
    "insert into raw.assets (provider, provider_asset_id, asset_type, title, provider_updated_at, payload, "
    "row_hash, load_id, extracted_at) "
    "values ('security', 'SEC-1', 'movie', 'Probe', now(), '{}', 'h', gen_random_uuid(), now())"
)
INSERT_LOAD = (
    "insert into ops.loads (load_id, provider, status, started_at) "
    "values (gen_random_uuid(), 'security', 'succeeded', now())"
)


@pytest.fixture(scope="module")
def roles(postgres: Settings) -> Iterator[Engine]:
    """The session's database as migration 0007 leaves it.

    The ``db`` fixture drops the dbt schemas (and with them their grants and default privileges) before other
    tests; taking 0007 back and applying it again restores them, as on a fresh database.
    """
    engine = get_engine()
    with engine.begin() as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(text(f"drop schema if exists {schema} cascade"))
    migrate.downgrade(revision="0006")
    migrate.upgrade()
    yield engine


@contextmanager
def session() -> Iterator[psycopg.Cursor[Any]]:
    """A superuser cursor in a transaction that is always rolled back."""
    with psycopg.connect(libpq_uri(database_url())) as conn:
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.rollback()


def act_as(cur: psycopg.Cursor[Any], role: str | None) -> None:
    """Act as ``role`` until the transaction ends (``None``: back to the login user)."""
    cur.execute("reset role" if role is None else f"set local role {role}")


def refused(cur: psycopg.Cursor[Any], sql: str) -> None:
    """``sql`` fails with PostgreSQL's permission error (in a savepoint, so the transaction goes on)."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege), cur.connection.transaction():
        cur.execute(sql)


def allowed(cur: psycopg.Cursor[Any], sql: str) -> None:
    """``sql`` runs (a failure shows PostgreSQL's own error)."""
    cur.execute(sql)


def scalar(cur: psycopg.Cursor[Any], sql: str) -> Any:
    row = cur.execute(sql).fetchone()
    return row[0] if row else None


def make_marts_tables(cur: psycopg.Cursor[Any]) -> None:
    """A mart built by the owner (dbt's default user) and one built by vodflow_dbt, as dbt would create them."""
    cur.execute("create table marts.probe_by_owner as select 1 as n")
    act_as(cur, DBT)
    cur.execute("create table marts.probe_by_dbt as select 2 as n")
    cur.execute("create view staging.probe_view as select provider from raw.assets")
    act_as(cur, None)


def test_each_role_is_a_group_role_with_its_statement_timeout(roles: Engine) -> None:
    with session() as cur:
        rows = cur.execute(
            "select rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolconfig "
            "from pg_roles where rolname = any(%s) order by rolname",
            (list(STATEMENT_TIMEOUTS),),
        ).fetchall()
    assert [row[0] for row in rows] == sorted(STATEMENT_TIMEOUTS)
    for name, can_login, is_super, create_role, create_db, bypass_rls, config in rows:
        assert (can_login, is_super, create_role, create_db, bypass_rls) == (False, False, False, False, False)
        assert config == [f"statement_timeout={STATEMENT_TIMEOUTS[name]}"], name


def test_ingest_writes_raw_and_ops(roles: Engine) -> None:
    with session() as cur:
        act_as(cur, INGEST)
        allowed(cur, INSERT_ASSET)
        allowed(cur, "update raw.assets set title = 'Probe 2' where provider = 'security'")
        allowed(cur, INSERT_LOAD)
        allowed(cur, "update ops.loads set error = 'probe' where provider = 'security'")
        allowed(
            cur,
            "insert into ops.ingest_cursors (provider, cursor_value, load_id) "
            "values ('security', now(), gen_random_uuid())",
        )
        # bigserial keys: the sequences are usable.
        allowed(
            cur,
            "insert into ops.quarantine (provider, row_hash, reasons, raw_row, first_load_id, last_load_id) "
            "values ('security', 'h', '[]', '{}', gen_random_uuid(), gen_random_uuid())",
        )
        allowed(cur, "delete from raw.assets where provider = 'security'")
        # Every load stages its rows through a temporary table.
        allowed(cur, "create temp table stage_probe on commit drop as select * from raw.assets with no data")
        assert scalar(cur, "select count(*) from ops.loads where provider = 'security'") == 1


def test_ingest_is_refused_outside_raw_and_ops(roles: Engine) -> None:
    with session() as cur:
        make_marts_tables(cur)
        act_as(cur, INGEST)
        refused(cur, "insert into marts.probe_by_owner values (3)")
        refused(cur, "select * from marts.probe_by_owner")
        refused(cur, "select * from marts.probe_by_dbt")
        refused(cur, "select * from staging.probe_view")
        refused(cur, "create table staging.probe (n int)")
        refused(cur, "create table marts.probe (n int)")
        refused(cur, "create table raw.probe (n int)")
        refused(cur, "create schema probe")
        refused(cur, "drop table raw.assets")
        refused(cur, "truncate raw.assets")
        refused(cur, "alter table raw.assets add column probe int")
        refused(cur, "update ops.alembic_version set version_num = version_num")


def test_dbt_reads_its_sources_and_builds_its_schemas(roles: Engine) -> None:
    with session() as cur:
        act_as(cur, DBT)
        allowed(cur, "select count(*) from raw.assets")
        allowed(cur, "select count(*) from raw.supply_chain_events")
        allowed(cur, "select count(*) from ops.loads")
        allowed(cur, "create view staging.probe as select provider, title from raw.assets")
        allowed(cur, "create or replace view staging.probe as select provider, title, language from raw.assets")
        allowed(cur, "create view intermediate.probe as select provider from staging.probe")
        allowed(cur, "create table marts.probe as select provider, count(*) as n from intermediate.probe group by 1")
        # dbt's table materialisation: build aside, swap by renames, drop the old one; incremental models merge
        # through a temporary table.
        allowed(cur, "create table marts.probe__dbt_tmp as select * from marts.probe")
        allowed(cur, "alter table marts.probe rename to probe__dbt_backup")
        allowed(cur, "alter table marts.probe__dbt_tmp rename to probe")
        allowed(cur, "drop table marts.probe__dbt_backup cascade")
        allowed(cur, "create temp table probe__dbt_tmp as select * from marts.probe")
        allowed(cur, "insert into marts.probe select * from probe__dbt_tmp")


def test_dbt_is_refused_writing_raw_and_ops(roles: Engine) -> None:
    with session() as cur:
        cur.execute(INSERT_ASSET)
        act_as(cur, DBT)
        refused(cur, INSERT_ASSET.replace("SEC-1", "SEC-2"))
        refused(cur, "update raw.assets set title = 'x' where provider = 'security'")
        refused(cur, "delete from raw.assets where provider = 'security'")
        refused(cur, "truncate raw.assets")
        refused(cur, "drop table raw.assets")
        refused(cur, "create table raw.probe (n int)")
        refused(cur, INSERT_LOAD)
        refused(cur, "update ops.ingest_cursors set cursor_value = now()")
        refused(cur, "create table ops.probe (n int)")
        # Not a dbt source: not readable either.
        refused(cur, "select * from ops.ingest_cursors")
        refused(cur, "select * from ops.eidr_review")


def _declared_sources() -> list[str]:
    tables = []
    for path in (get_settings().dbt_project_dir / "models").rglob("_*__sources.yml"):
        for source in yaml.safe_load(Path(path).read_text())["sources"]:
            schema = source.get("schema", source["name"])
            tables += [f"{schema}.{table.get('identifier', table['name'])}" for table in source["tables"]]
    return sorted(tables)


def test_dbt_may_read_every_source_the_project_declares_and_write_none(roles: Engine) -> None:
    sources = _declared_sources()
    assert "raw.assets" in sources
    assert "ops.loads" in sources
    with session() as cur:
        for table in sources:
            assert scalar(cur, f"select has_table_privilege('{DBT}', '{table}', 'SELECT')"), table
            for write in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                assert not scalar(cur, f"select has_table_privilege('{DBT}', '{table}', '{write}')"), (table, write)


def test_bi_reader_reads_marts_only(roles: Engine) -> None:
    with session() as cur:
        make_marts_tables(cur)
        act_as(cur, BI_READER)
        # Marts built by either creator are readable at once: the schema's default privileges.
        assert scalar(cur, "select n from marts.probe_by_owner") == 1
        assert scalar(cur, "select n from marts.probe_by_dbt") == 2
        refused(cur, "select * from raw.assets")
        refused(cur, "select * from ops.loads")
        refused(cur, "select * from staging.probe_view")
        refused(cur, "insert into marts.probe_by_owner values (3)")
        refused(cur, "update marts.probe_by_dbt set n = 3")
        refused(cur, "delete from marts.probe_by_owner")
        refused(cur, "truncate marts.probe_by_dbt")
        refused(cur, "create table marts.probe (n int)")
        refused(cur, "drop table marts.probe_by_owner")


def _roles_state(cur: psycopg.Cursor[Any]) -> list[tuple[Any, ...]]:
    return cur.execute(
        "select rolname, rolconfig, "
        "has_database_privilege(rolname, current_database(), 'CONNECT'), "
        "has_schema_privilege(rolname, 'marts', 'USAGE'), has_schema_privilege(rolname, 'raw', 'USAGE') "
        "from pg_roles where rolname = any(%s) order by rolname",
        (list(STATEMENT_TIMEOUTS),),
    ).fetchall()


def test_the_migration_goes_down_and_up_again(roles: Engine) -> None:
    migrate.upgrade()  # at head already: nothing to do
    with session() as cur:
        before = _roles_state(cur)
    assert len(before) == 3
    try:
        migrate.downgrade(revision="0006")
        with session() as cur:
            assert _roles_state(cur) == []
            # The roles are gone, and so is every grant to them (DROP ROLE refuses a role that still holds one);
            # no default privileges are left either.
            assert scalar(cur, "select count(*) from pg_default_acl") == 0
        assert migrate.current_revision() == "0006"
    finally:
        migrate.upgrade()
    with session() as cur:
        assert _roles_state(cur) == before
    assert migrate.current_revision() == "0007"


@contextmanager
def other_database(name: str, owner: str = "postgres") -> Iterator[URL]:
    """A second database on the session's server, dropped afterwards (with whatever engines reached it)."""
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"create database {name} owner {owner}"))
    url = database_url().set(database=name)
    try:
        yield url
    finally:
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"drop database if exists {name} with (force)"))


def test_a_second_database_on_the_server_shares_the_roles(roles: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with session() as cur:
        before = _roles_state(cur)
        oids = cur.execute("select rolname, oid from pg_roles where rolname = any(%s)", (list(STATEMENT_TIMEOUTS),))
        oids_before = sorted(oids.fetchall())
        # An operator's own timeout must survive another database's migration.
        cur.execute(f"alter role {BI_READER} set statement_timeout = '3min'")
        cur.connection.commit()
    try:
        with other_database("vodflow_security_second") as url:
            migrate.upgrade(url)
            engine = get_engine(url)
            with engine.connect() as conn:
                assert conn.execute(text(f"select has_schema_privilege('{BI_READER}', 'marts', 'USAGE')")).scalar()
                assert conn.execute(text(f"select has_table_privilege('{INGEST}', 'raw.assets', 'INSERT')")).scalar()
            with caplog.at_level(logging.WARNING, logger="vodflow.db.migrations"):
                migrate.downgrade(url, revision="0006")
            engine.dispose()
            assert caplog.text.count("another database on this server still uses it") == 3
        with session() as cur:
            oids = cur.execute("select rolname, oid from pg_roles where rolname = any(%s)", (list(STATEMENT_TIMEOUTS),))
            assert sorted(oids.fetchall()) == oids_before
            after = _roles_state(cur)
        # The first database keeps every grant; bi_reader keeps the operator's timeout.
        assert [row[2:] for row in after] == [row[2:] for row in before]
        assert dict((row[0], row[1]) for row in after)[BI_READER] == ["statement_timeout=3min"]
    finally:
        with session() as cur:
            cur.execute(f"alter role {BI_READER} set statement_timeout = '2min'")
            cur.connection.commit()


def _login_user(cur: psycopg.Cursor[Any], name: str, *grants: str) -> URL:
    """A LOGIN user with a random password and ``grants`` (``GRANT`` statements, ``{user}`` for its name).

    Returns its URL on the session's database.
    """
    password = secrets.token_hex(16)
    cur.execute(f"drop role if exists {name}")
    cur.execute(f"create role {name} login password '{password}'")
    for grant in grants:
        cur.execute(grant.format(user=name))
    cur.connection.commit()
    return database_url().set(username=name, password=password)


def _drop_login_user(name: str) -> None:
    with session() as cur:
        cur.execute(f"drop owned by {name}")
        cur.execute(f"drop role {name}")
        cur.connection.commit()


def test_a_user_without_createrole_is_told_what_to_grant(roles: Engine) -> None:
    owner = "vodflow_security_owner"
    with session() as cur:
        owner_url = _login_user(cur, owner)
        cur.execute(f"alter role {owner} nocreaterole")
        cur.connection.commit()
    try:
        with other_database("vodflow_security_managed", owner=owner) as url:
            url = url.set(username=owner, password=owner_url.password)
            migrate.downgrade(revision="0006")  # no roles on the server at all
            with pytest.raises(MigrationPrerequisiteError, match=f"ALTER ROLE {owner} CREATEROLE"):
                migrate.upgrade(url)
            assert migrate.current_revision(url) is None  # the whole upgrade rolled back
            migrate.upgrade()  # the roles exist again (an administrator created them)
            with session() as cur:
                cur.execute(f"alter role {BI_READER} reset statement_timeout")
                cur.connection.commit()
            with pytest.raises(
                MigrationPrerequisiteError, match=f"ALTER ROLE {BI_READER} SET statement_timeout = '2min'"
            ):
                migrate.upgrade(url)
            with session() as cur:
                cur.execute(f"alter role {BI_READER} set statement_timeout = '2min'")
                cur.connection.commit()
            with pytest.raises(MigrationPrerequisiteError, match=f"GRANT {DBT} TO {owner}"):
                migrate.upgrade(url)
            with session() as cur:
                cur.execute(f"grant {DBT} to {owner}")
                cur.connection.commit()
            migrate.upgrade(url)  # the documented path for a managed PostgreSQL
            assert migrate.current_revision(url) == "0007"
            get_engine(url).dispose()
    finally:
        migrate.upgrade()
        with session() as cur:
            cur.execute(f"alter role {BI_READER} set statement_timeout = '{STATEMENT_TIMEOUTS[BI_READER]}'")
            cur.connection.commit()
        _drop_login_user(owner)


def lumina_items(first: int, count: int) -> list[dict[str, Any]]:
    return [item(n, title=f"Security film {n}", updated_at="2026-03-01T00:00:00Z") for n in range(first, first + count)]


def _load(engine: Engine, items: list[dict[str, Any]]) -> uuid.UUID:
    context = ctx()
    assert load(engine, items, context).inserted == len(items)
    return context.load_id


def test_the_pipeline_runs_as_the_documented_users(roles: Engine, tmp_path: Path) -> None:
    """Load as a user granted vodflow_ingest, build with dbt as vodflow_dbt, read the mart as a BI user.

    The pipeline user is the one docs/security.md describes: vodflow_ingest and bi_reader inherited (the Python
    flows write raw/ops and read marts), vodflow_dbt only through SET ROLE (the dbt profile's ``role``).
    """
    pipeline, metabase = "vodflow_security_pipeline", "vodflow_security_metabase"
    with session() as cur:
        cursor_before = cur.execute("select * from ops.ingest_cursors where provider = 'lumina'").fetchone()
        # As docs/security.md says: the Python side inherits ingest and bi_reader; dbt SETs ROLE vodflow_dbt.
        pipeline_url = _login_user(
            cur,
            pipeline,
            f"grant {INGEST}, {BI_READER} to {{user}}",
            f"grant {DBT} to {{user}} with inherit false, set true",
            f"alter role {{user}} set statement_timeout = '{STATEMENT_TIMEOUTS[INGEST]}'",
        )
        metabase_url = _login_user(
            cur,
            metabase,
            f"grant {BI_READER} to {{user}}",
            f"alter role {{user}} set statement_timeout = '{STATEMENT_TIMEOUTS[BI_READER]}'",
        )
    pipeline_engine = create_engine(pipeline_url)
    metabase_engine = create_engine(metabase_url)
    load_ids: list[uuid.UUID] = []
    try:
        load_ids.append(_load(pipeline_engine, lumina_items(990001, 3)))
        dbt_env_vars = {**dbt_env(pipeline_url), "VODFLOW_DBT_ROLE": DBT}
        # cautious: only the tests whose every parent is built (not fct_supply_chain's test on dim_assets).
        build = ["build", "--select", "+dim_assets", "--indirect-selection", "cautious"]
        build += ["--exclude-resource-type", "unit_test"]
        first = run_dbt(build, tmp_path, env=dbt_env_vars)
        assert first.returncode == 0, first.stdout[-4000:]
        # The second build of the incremental mart merges through a temporary table.
        load_ids.append(_load(pipeline_engine, lumina_items(990004, 2)))
        second = run_dbt(build, tmp_path, env=dbt_env_vars)
        assert second.returncode == 0, second.stdout[-4000:]
        with roles.connect() as conn:
            owners = conn.execute(
                text(
                    "select distinct pg_get_userbyid(c.relowner) from pg_class c "
                    "join pg_namespace n on n.oid = c.relnamespace "
                    "where n.nspname = any(:s) and c.relkind in ('r', 'v')"
                ),
                {"s": list(DBT_SCHEMAS)},
            ).scalars()
            assert list(owners) == [DBT]
        with metabase_engine.connect() as conn:
            titles = conn.execute(
                text("select title from marts.dim_assets where provider_asset_id like 'LUM-99000%' order by 1")
            ).scalars()
            assert list(titles) == [f"Security film {n}" for n in range(990001, 990006)]
        with metabase_engine.connect() as conn:
            assert conn.execute(text("show statement_timeout")).scalar() == STATEMENT_TIMEOUTS[BI_READER]
            with pytest.raises(ProgrammingError) as refusal:
                conn.execute(text("select * from raw.assets"))
            assert isinstance(refusal.value.orig, psycopg.errors.InsufficientPrivilege)
        # The Python side, as the pipeline user, reads the marts it needs and sees every relation dbt built.
        with pipeline_engine.connect() as conn:
            assert conn.execute(text("select count(*) from marts.dim_assets")).scalar() >= 5
        assert (
            missing_relations(pipeline_engine, ["stg_lumina__assets", "int_assets_unioned", "dim_assets"], DBT_SCHEMAS)
            == []
        )
    finally:
        pipeline_engine.dispose()
        metabase_engine.dispose()
        with roles.begin() as conn:
            ids = [str(load_id) for load_id in load_ids]
            conn.execute(text("delete from raw.assets where load_id = any(cast(:ids as uuid[]))"), {"ids": ids})
            conn.execute(text("delete from ops.loads where load_id = any(cast(:ids as uuid[]))"), {"ids": ids})
            conn.execute(text("delete from ops.ingest_cursors where provider = 'lumina'"))
            if cursor_before is not None:
                conn.execute(
                    text("insert into ops.ingest_cursors values (:p, :c, :l, :u)"),
                    dict(zip(("p", "c", "l", "u"), cursor_before, strict=True)),
                )
        _drop_login_user(pipeline)
        _drop_login_user(metabase)
