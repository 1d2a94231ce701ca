"""Schemas raw and ops: provider assets, load audit, cursors and quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create schema if not exists raw")
    op.execute("create schema if not exists ops")
    op.execute(
        """
        create table raw.assets (
            provider text not null,
            provider_asset_id text not null,
            asset_type text not null check (asset_type in ('movie', 'series', 'season', 'episode')),
            title text not null,
            original_title text,
            parent_provider_asset_id text,
            season_number integer,
            episode_number integer,
            release_year integer,
            runtime_minutes integer,
            language text,
            genres text[],
            rating text,
            eidr_id text,
            imdb_id text,
            isan text,
            provider_updated_at timestamptz not null,
            payload jsonb not null,
            row_hash text not null,
            load_id uuid not null,
            extracted_at timestamptz not null,
            first_loaded_at timestamptz not null default now(),
            loaded_at timestamptz not null default now(),
            primary key (provider, provider_asset_id)
        )
        """
    )
    op.execute("create index assets_loaded_at_idx on raw.assets (loaded_at)")
    op.execute("create index assets_provider_updated_idx on raw.assets (provider, provider_updated_at)")
    op.execute(
        """
        create table ops.loads (
            load_id uuid primary key,
            provider text not null,
            flow_run_id uuid,
            status text not null check (status in ('succeeded', 'failed')),
            started_at timestamptz not null,
            finished_at timestamptz not null default now(),
            window_start timestamptz,
            window_end timestamptz,
            cursor_before timestamptz,
            cursor_after timestamptz,
            served integer not null default 0,
            deduplicated integer not null default 0,
            received integer not null default 0,
            inserted integer not null default 0,
            updated integer not null default 0,
            unchanged integer not null default 0,
            stale integer not null default 0,
            quarantined integer not null default 0,
            error text,
            constraint loads_counts_add_up check (
                status = 'failed' or received = inserted + updated + unchanged + quarantined
            )
        )
        """
    )
    op.execute("create index loads_provider_finished_idx on ops.loads (provider, finished_at desc)")
    op.execute(
        """
        create table ops.ingest_cursors (
            provider text primary key,
            cursor_value timestamptz not null,
            load_id uuid not null,
            updated_at timestamptz not null default now()
        )
        """
    )
    op.execute(
        """
        create table ops.quarantine (
            quarantine_id bigserial primary key,
            provider text not null,
            provider_asset_id text,
            row_hash text not null,
            reasons jsonb not null,
            raw_row jsonb not null,
            first_load_id uuid not null,
            last_load_id uuid not null,
            first_seen_at timestamptz not null default now(),
            last_seen_at timestamptz not null default now(),
            times_seen integer not null default 1,
            unique (provider, row_hash)
        )
        """
    )
    op.execute("create index quarantine_provider_seen_idx on ops.quarantine (provider, last_seen_at)")


def downgrade() -> None:
    op.execute("drop table if exists ops.quarantine, ops.ingest_cursors, ops.loads, raw.assets")
    op.execute("drop schema if exists raw")
