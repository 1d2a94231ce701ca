"""EIDR identity: the registry extract, match results and the review queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

* ``raw.eidr_registry``: the registry reference data (one row per EIDR ID), with ``title_norm`` (the matcher's
  normalised title, computed by the loader) indexed for each search route: btree for exact lookups; pg_trgm GIN
  for similarity search over every year; and pg_trgm GiST led by ``release_year`` (btree_gist), one for film-like
  records and one for series, seasons and episodes, for similarity search within a few years of the asset's.
  The year-led GiST is what makes fuzzy search affordable at registry scale: it only visits the years that can
  still produce a match, where GIN has to recheck every title sharing a common trigram. The two partial indexes
  keep a film's search out of the (in a real registry, far more numerous) episodes.
* ``raw.eidr_matches``: the latest decision per asset that had no valid EIDR ID (duplicate / potential / none),
  its score, method, reason and candidates; ``decided_by`` says whether the matcher or a person decided.
* ``ops.eidr_review``: potential matches awaiting a person, and the decisions people took; a decision outlives
  every later re-run and overrides the matcher.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_EIDR_PATTERN = r"^10\.5240/([0-9A-F]{4}-){5}[0-9A-Z]$"
_FILM_LIKE = "(referent_type is null or lower(referent_type) in ('movie', 'short', 'tv', 'web'))"
_SERIAL = "(referent_type is null or lower(referent_type) in ('series', 'season', 'episode'))"


def upgrade() -> None:
    op.execute("create extension if not exists pg_trgm")
    op.execute("create extension if not exists btree_gist")
    op.execute(
        f"""
        create table raw.eidr_registry (
            eidr_id text primary key check (eidr_id ~ '{_EIDR_PATTERN}'),
            referent_type text,
            title text not null,
            title_norm text not null,
            release_year integer,
            runtime_minutes double precision,
            directors text[] not null default '{{}}',
            language text,
            country text,
            imdb_id text,
            parent_eidr_id text,
            record_hash text not null,
            first_loaded_at timestamptz not null default now(),
            loaded_at timestamptz not null default now()
        )
        """
    )
    op.execute("create index eidr_registry_title_norm_idx on raw.eidr_registry (title_norm)")
    op.execute("create index eidr_registry_title_trgm_idx on raw.eidr_registry using gin (title_norm gin_trgm_ops)")
    op.execute("create index eidr_registry_imdb_idx on raw.eidr_registry (imdb_id) where imdb_id is not null")
    # The predicates must stay word for word what vodflow.eidr.pg_registry writes, or the planner cannot use them.
    op.execute(
        f"create index eidr_registry_film_year_trgm_idx on raw.eidr_registry "
        f"using gist (release_year, title_norm gist_trgm_ops) where {_FILM_LIKE}"
    )
    op.execute(
        f"create index eidr_registry_serial_year_trgm_idx on raw.eidr_registry "
        f"using gist (release_year, title_norm gist_trgm_ops) where {_SERIAL}"
    )
    op.execute(
        f"""
        create table raw.eidr_matches (
            provider text not null,
            provider_asset_id text not null,
            outcome text not null check (outcome in ('duplicate', 'potential', 'none')),
            eidr_id text check (eidr_id ~ '{_EIDR_PATTERN}'),
            score double precision not null,
            method text not null,
            reason text not null,
            candidates jsonb not null default '[]',
            asset_row_hash text,
            matched_at timestamptz not null default now(),
            decided_by text not null,
            primary key (provider, provider_asset_id),
            constraint eidr_matches_id_iff_duplicate check ((outcome = 'duplicate') = (eidr_id is not null))
        )
        """
    )
    op.execute("create index eidr_matches_outcome_idx on raw.eidr_matches (outcome)")
    op.execute(
        f"""
        create table ops.eidr_review (
            review_id bigserial primary key,
            provider text not null,
            provider_asset_id text not null,
            status text not null default 'pending' check (status in ('pending', 'accepted', 'rejected')),
            score double precision,
            candidates jsonb not null default '[]',
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now(),
            decided_eidr_id text check (decided_eidr_id ~ '{_EIDR_PATTERN}'),
            decided_by text,
            decided_at timestamptz,
            unique (provider, provider_asset_id),
            constraint eidr_review_accept_has_id check ((status = 'accepted') = (decided_eidr_id is not null)),
            constraint eidr_review_decision_has_author check ((status = 'pending') = (decided_by is null))
        )
        """
    )
    op.execute("create index eidr_review_status_idx on ops.eidr_review (status, review_id)")


def downgrade() -> None:
    op.execute("drop table if exists ops.eidr_review, raw.eidr_matches, raw.eidr_registry")
