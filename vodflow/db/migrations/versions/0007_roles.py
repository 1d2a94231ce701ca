"""Least-privilege roles: vodflow_ingest, vodflow_dbt and bi_reader, their statement timeouts and their grants.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Three NOLOGIN group roles; people and services log in as users granted one or more of them (docs/security.md,
"Database roles"):

* ``vodflow_ingest``: the Python side (provider flows, EIDR matching and review, file drops, anomaly verdicts,
  watermarks). Reads and writes the tables of ``raw`` and ``ops`` (not ``ops.alembic_version``), uses their
  sequences and may create temporary tables (every load stages through one). Nothing on the dbt schemas: the flows
  that read marts (the anomaly check reads ``marts.metrics_daily``; the health report ``dim_assets``,
  ``fct_ingest_runs`` and ``fct_deliveries``) run as a user granted ``bi_reader`` too. Table-by-table grants on
  marts would not last: dbt recreates a mart on every ``--full-refresh``, and the new table has only the
  schema's default privileges.
* ``vodflow_dbt``: reads ``raw`` and the ``ops`` tables the project declares as sources, builds ``staging``,
  ``intermediate`` and ``marts`` (USAGE and CREATE on them, temporary tables for incremental models); writes
  nothing in ``raw`` or ``ops``. dbt runs as it when its profile sets ``role`` (``VODFLOW_DBT_ROLE``).
* ``bi_reader``: reads ``marts``, nothing else: what Metabase or any BI tool should log in with.

Roles belong to the server, not to a database: creation is skipped when a role exists (a second database on the
same server, or roles an administrator created beforehand), a statement timeout is set only on a role that has
none (an operator's own value survives), and the downgrade keeps a role that another database still uses.

A user without CREATEROLE (a managed PostgreSQL's restricted owner) fails the upgrade with a message naming what
to grant: the roles are a security promise, and an upgrade that silently skipped them would leave every reader on
the owner's account. The whole upgrade rolls back.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import Connection, text
from sqlalchemy.exc import ProgrammingError

from vodflow.db.errors import MigrationPrerequisiteError

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INGEST = "vodflow_ingest"
DBT = "vodflow_dbt"
BI_READER = "bi_reader"
ROLES = (INGEST, DBT, BI_READER)

# Role settings apply to sessions that log in as that role; members of a NOLOGIN group role do not inherit them, so
# the login users an operator creates get the same value set on them (docs/security.md). These are the reference.
STATEMENT_TIMEOUTS = {
    # A load's longest statements are the upsert of a whole extract or file and the wait for the provider's
    # advisory lock while another load of it commits (backfill windows queue there): seconds at 100k rows.
    # 15 minutes is far above that and well inside the ingest flow's hour, so a stuck statement fails its task
    # with a database error the run shows, instead of the flow being killed.
    INGEST: "15min",
    # A --full-refresh rebuilds the largest incremental mart in one statement; the transform flow gives dbt
    # 30 minutes, so a runaway statement is cancelled, naming its model, before the flow times out.
    DBT: "20min",
    # A dashboard question over the marts answers in seconds; an accidental cross join in a BI tool must not hold
    # a connection and a CPU for hours.
    BI_READER: "2min",
}

PIPELINE_SCHEMAS = "raw, ops"
# The dbt project's schemas (dbt_models/macros/generate_schema_name.sql), created here if dbt has not built them
# yet, so the grants have something to attach to.
DBT_SCHEMAS = ("staging", "intermediate", "marts")
# The ops tables dbt reads as sources (dbt_models/models/staging/ops/_ops__sources.yml); raw is read whole.
# A new ops source needs its grant in a migration: tests/security checks every declared source.
DBT_OPS_SOURCES = "ops.loads, ops.quarantine, ops.metric_evaluations"

_log = logging.getLogger("vodflow.db.migrations")


def _scalar(bind: Connection, sql: str, **params: object) -> object:
    return bind.execute(text(sql), params).scalar()


def _check_privileges(bind: Connection) -> None:
    """Refuse, with what to grant, when the migrating user cannot create or configure the roles."""
    user = str(_scalar(bind, "select current_user"))
    may_create = bool(_scalar(bind, "select rolsuper or rolcreaterole from pg_roles where rolname = current_user"))
    if may_create:
        return
    missing = [role for role in ROLES if not _scalar(bind, "select 1 from pg_roles where rolname = :r", r=role)]
    if missing:
        raise MigrationPrerequisiteError(
            f"migration 0007 creates the database roles {', '.join(missing)}, and {user} may not create roles: "
            f"run `vodflow db upgrade` as a user with CREATEROLE (as an administrator: ALTER ROLE {user} "
            f'CREATEROLE), or have an administrator create the roles first (docs/security.md, "Database roles")'
        )
    untimed = [role for role in ROLES if _statement_timeout(bind, role) is None]
    if untimed:
        statements = "; ".join(
            f"ALTER ROLE {role} SET statement_timeout = '{STATEMENT_TIMEOUTS[role]}'" for role in untimed
        )
        raise MigrationPrerequisiteError(
            f"the roles {', '.join(untimed)} have no statement_timeout and {user} may not alter roles: as an "
            f"administrator, {statements} (docs/security.md), or grant {user} CREATEROLE"
        )


def _statement_timeout(bind: Connection, role: str) -> str | None:
    return bind.execute(
        text(
            """
            select c from pg_db_role_setting s
              join pg_roles r on r.oid = s.setrole, unnest(s.setconfig) as c
             where r.rolname = :r and s.setdatabase = 0 and c like 'statement_timeout=%'
            """
        ),
        {"r": role},
    ).scalar()


def _create_roles(bind: Connection) -> None:
    for role in ROLES:
        # duplicate_object / unique_violation: another database's migration created it a moment ago (the
        # migrations' advisory lock is per database, so two databases may migrate at once).
        op.execute(
            f"""
            do $$
            begin
                if not exists (select from pg_roles where rolname = '{role}') then
                    create role {role} nologin;
                end if;
            exception when duplicate_object or unique_violation then null;
            end $$
            """
        )
        if _statement_timeout(bind, role) is None:
            op.execute(f"alter role {role} set statement_timeout = '{STATEMENT_TIMEOUTS[role]}'")


def _become_member_of_dbt(bind: Connection) -> None:
    """Default privileges "for role vodflow_dbt" may only be set by a member of it (or a superuser)."""
    if _scalar(bind, "select rolsuper from pg_roles where rolname = current_user"):
        return
    if _scalar(bind, "select pg_has_role(current_user, :r, 'MEMBER')", r=DBT):
        return
    user = str(_scalar(bind, "select current_user"))
    savepoint = bind.begin_nested()
    try:
        op.execute(f"grant {DBT} to current_user")
    except ProgrammingError as exc:  # permission denied to grant role: say what to do instead
        savepoint.rollback()
        raise MigrationPrerequisiteError(
            f"{user} must be a member of {DBT} to set the default privileges of the tables dbt creates: as an "
            f"administrator, GRANT {DBT} TO {user}"
        ) from exc
    savepoint.commit()


def _grant_database() -> None:
    op.execute(
        f"""
        do $$
        begin
            execute format('grant connect on database %I to {", ".join(ROLES)}', current_database());
            execute format('grant temporary on database %I to {INGEST}, {DBT}', current_database());
        end $$
        """
    )


def _grant_ingest() -> None:
    op.execute(f"grant usage on schema {PIPELINE_SCHEMAS} to {INGEST}")
    op.execute(f"grant select, insert, update, delete on all tables in schema {PIPELINE_SCHEMAS} to {INGEST}")
    # Which migrations are applied is the owner's business, not the loader's.
    op.execute(f"revoke all on ops.alembic_version from {INGEST}")
    op.execute(f"grant usage on all sequences in schema {PIPELINE_SCHEMAS} to {INGEST}")
    # Tables and sequences later migrations add (the migrating user creates them).
    op.execute(
        f"alter default privileges for role current_user in schema {PIPELINE_SCHEMAS} "
        f"grant select, insert, update, delete on tables to {INGEST}"
    )
    op.execute(
        f"alter default privileges for role current_user in schema {PIPELINE_SCHEMAS} "
        f"grant usage on sequences to {INGEST}"
    )


def _grant_dbt() -> None:
    op.execute(f"grant usage on schema {PIPELINE_SCHEMAS} to {DBT}")
    op.execute(f"grant select on all tables in schema raw to {DBT}")
    op.execute(f"alter default privileges for role current_user in schema raw grant select on tables to {DBT}")
    op.execute(f"grant select on {DBT_OPS_SOURCES} to {DBT}")
    for schema in DBT_SCHEMAS:
        op.execute(f"create schema if not exists {schema}")
        op.execute(f"grant usage, create on schema {schema} to {DBT}")


def _grant_bi_reader() -> None:
    op.execute(f"grant usage on schema marts to {BI_READER}")
    op.execute(f"grant select on all tables in schema marts to {BI_READER}")
    # Default privileges belong to the role that creates the table. dbt builds the marts as the user of its URL
    # (today the database owner, who runs this migration) or, with the profile's `role`, as vodflow_dbt: both are
    # covered, so every mart dbt creates or recreates (--full-refresh) is readable by bi_reader at once.
    for creator in ("current_user", DBT):
        op.execute(f"alter default privileges for role {creator} in schema marts grant select on tables to {BI_READER}")


def upgrade() -> None:
    bind = op.get_bind()
    _check_privileges(bind)
    _create_roles(bind)
    _become_member_of_dbt(bind)
    _grant_database()
    _grant_ingest()
    _grant_dbt()
    _grant_bi_reader()


def _revoke_all(bind: Connection) -> None:
    """Undo this database's grants, in the order they were made; a dbt schema dropped since is skipped."""
    roles = ", ".join(ROLES)
    op.execute(f"revoke all on all tables in schema {PIPELINE_SCHEMAS} from {roles}")
    op.execute(f"revoke all on all sequences in schema {PIPELINE_SCHEMAS} from {roles}")
    op.execute(f"revoke all on schema {PIPELINE_SCHEMAS} from {roles}")
    for kind in ("tables", "sequences"):
        op.execute(
            f"alter default privileges for role current_user in schema {PIPELINE_SCHEMAS} "
            f"revoke all on {kind} from {roles}"
        )
    existing: list[str] = list(
        bind.execute(
            text("select nspname from pg_namespace where nspname = any(:s) order by nspname"),
            {"s": list(DBT_SCHEMAS)},
        ).scalars()
    )
    for schema in existing:
        op.execute(f"revoke all on all tables in schema {schema} from {roles}")
        op.execute(f"revoke all on schema {schema} from {roles}")
        for creator in ("current_user", DBT):
            op.execute(
                f"alter default privileges for role {creator} in schema {schema} revoke all on tables from {roles}"
            )
    op.execute(
        f"""
        do $$
        begin
            execute format('revoke all on database %I from {roles}', current_database());
        end $$
        """
    )


def _used_elsewhere(bind: Connection, role: str) -> bool:
    """Whether another database on the server still holds grants to (or objects of) ``role``."""
    return bool(
        _scalar(
            bind,
            """
            select exists (
                select from pg_shdepend d
                 where d.refclassid = 'pg_authid'::regclass
                   and d.refobjid = (select oid from pg_roles where rolname = :r)
                   and (d.dbid not in (0, (select oid from pg_database where datname = current_database()))
                        or (d.dbid = 0 and d.classid = 'pg_database'::regclass
                            and d.objid <> (select oid from pg_database where datname = current_database())))
            )
            """,
            r=role,
        )
    )


def downgrade() -> None:
    # The dbt schemas stay: they may predate this migration, and they hold the marts. What dbt built as
    # vodflow_dbt goes to the migrating user, so the role can be dropped without dropping a mart.
    bind = op.get_bind()
    if not _scalar(bind, "select 1 from pg_roles where rolname = :r", r=DBT):
        return
    _revoke_all(bind)
    op.execute(f"reassign owned by {DBT} to current_user")
    for role in ROLES:
        if _used_elsewhere(bind, role):
            _log.warning("kept role %s: another database on this server still uses it", role)
            continue
        # Whatever else this database granted it (by hand), then the role itself; its members lose it. Only a
        # user with the role's privileges may DROP OWNED; a CREATEROLE user without them drops the role directly.
        if _scalar(bind, "select pg_has_role(current_user, :r, 'USAGE')", r=role):
            op.execute(f"drop owned by {role}")
        op.execute(f"drop role {role}")
