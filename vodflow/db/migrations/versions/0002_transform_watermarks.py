"""ops.transform_watermarks: how far each provider's raw rows have been built into the marts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table ops.transform_watermarks (
            provider text primary key,
            loaded_through timestamptz not null,
            built_at timestamptz not null default now()
        )
        """
    )


def downgrade() -> None:
    op.execute("drop table if exists ops.transform_watermarks")
