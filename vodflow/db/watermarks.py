"""Whether a provider's marts already contain every raw row: lets a no-op ingestion skip its dbt build.

The watermark is the newest ``raw.assets.loaded_at`` of a provider read *before* a successful build started, so
rows committed during a build are never counted as built. A failed build records nothing, so the next run
builds again even if it loads nothing new.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text


def raw_loaded_through(engine: Engine, provider: str) -> datetime | None:
    """The newest ``loaded_at`` of the provider's raw rows (None if it has none)."""
    with engine.connect() as conn:
        return conn.execute(text("select max(loaded_at) from raw.assets where provider = :p"), {"p": provider}).scalar()


def marts_are_current(engine: Engine, provider: str) -> bool:
    """True when the last successful build covered every raw row of ``provider``."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    """
                    select coalesce((select max(loaded_at) from raw.assets where provider = :p), '-infinity')
                        <= coalesce((select loaded_through from ops.transform_watermarks where provider = :p),
                                    '-infinity')
                    """
                ),
                {"p": provider},
            ).scalar()
        )


def record_build(engine: Engine, provider: str, loaded_through: datetime | None) -> None:
    """Remember that a build covering rows up to ``loaded_through`` succeeded (never moves backwards)."""
    if loaded_through is None:
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                insert into ops.transform_watermarks as w (provider, loaded_through) values (:p, :t)
                on conflict (provider) do update
                   set loaded_through = greatest(w.loaded_through, excluded.loaded_through), built_at = now()
                """
            ),
            {"p": provider, "t": loaded_through},
        )
