"""raw.supply_chain_events: delivered, QC passed/failed and published events, stored once per event_id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table raw.supply_chain_events (
            event_id uuid primary key,
            source text not null,
            provider text not null,
            provider_asset_id text not null,
            event_type text not null check (event_type in ('delivered', 'qc_passed', 'qc_failed', 'published')),
            reason text,
            platform text,
            occurred_at timestamptz not null,
            payload jsonb not null,
            load_id uuid not null,
            extracted_at timestamptz not null,
            loaded_at timestamptz not null default now()
        )
        """
    )
    op.execute(
        "create index supply_chain_events_asset_idx "
        "on raw.supply_chain_events (provider, provider_asset_id, occurred_at)"
    )
    op.execute("create index supply_chain_events_loaded_at_idx on raw.supply_chain_events (loaded_at)")


def downgrade() -> None:
    op.execute("drop table if exists raw.supply_chain_events")
