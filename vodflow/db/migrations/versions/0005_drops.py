"""ops.drop_files: the ledger of provider files (CSV drops, ADI packages) and what became of each.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

One row per file handled: its name as it landed, SHA-256 and size, the outcome (loaded or rejected, with the
reason), the load that wrote its rows (``ops.loads``) and where the file went (``archive/…`` or ``rejected/…``,
relative to the drop folder). The same content dropped twice has two rows with one checksum. ``sha256`` and
``bytes`` are null only for what was never read: a symlink or a special file, rejected unopened.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table ops.drop_files (
            drop_file_id bigserial primary key,
            provider text not null,
            file_name text not null,
            sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
            bytes bigint check (bytes >= 0),
            outcome text not null check (outcome in ('loaded', 'rejected')),
            stored_as text not null,
            reason text,
            load_id uuid,
            flow_run_id uuid,
            processed_at timestamptz not null default now(),
            constraint drop_files_rejected_have_a_reason check (outcome = 'loaded' or reason is not null)
        )
        """
    )
    op.execute("create index drop_files_provider_name_idx on ops.drop_files (provider, file_name, processed_at desc)")
    op.execute("create index drop_files_provider_sha_idx on ops.drop_files (provider, sha256)")


def downgrade() -> None:
    op.execute("drop table if exists ops.drop_files")
