"""What the marts were last built from: lets a no-op ingestion skip dbt, and a first build find missing views.

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


def missing_staging_models(engine: Engine, models: list[str]) -> list[str]:
    """Staging views the shared marts read that do not exist yet (a provider that never ran, a fresh database).

    A provider's build selects ``source:<provider>+``, which reaches the shared marts; those union every
    provider's staging view, so any view still missing is added to the selection instead of failing the build.
    """
    with engine.connect() as conn:
        existing: set[str] = set(
            conn.execute(
                text("select table_name from information_schema.views where table_schema = 'staging'")
            ).scalars()
        )
    return [name for name in models if name not in existing]
