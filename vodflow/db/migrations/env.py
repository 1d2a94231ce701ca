"""Alembic environment: runs migrations on the connection handed over by :mod:`vodflow.db.migrate`."""

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table_schema="ops", transactional_ddl=True)
with context.begin_transaction():
    # One migrator at a time: two `vodflow up` or test sessions racing must not both create the schema.
    connection.execute(text("select pg_advisory_xact_lock(hashtext('vodflow.migrations'))"))
    connection.execute(text("create schema if not exists ops"))
    context.run_migrations()
