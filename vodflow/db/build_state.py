"""What the marts were last built from: lets a no-op ingestion skip dbt, and a first build find missing relations.

The watermark is the newest ``loaded_at`` of a provider's raw rows (or a feed's: the supply-chain events), or
``last_seen_at`` of its quarantined rows, read *before* a successful build started, so rows committed during a
build are never counted as built. A failed build
records nothing, so the next run builds again even if it loads nothing new.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text

#: Raw tables that are not per-provider slices of raw.assets: the feeds (vodflow.providers.FEEDS).
_FEED_TABLES = {"events": "raw.supply_chain_events"}


def _newest_raw_row(provider: str) -> str:
    """SQL for the newest moment ``provider`` (or feed) loaded a row or quarantined one; ``:p`` is the provider.

    Quarantined rows count: the marts report them (quarantine shares, the health report), so a run that only
    quarantined still needs a build. A feed's table holds only that feed's rows.
    """
    table = _FEED_TABLES.get(provider)
    loaded = (
        f"select max(loaded_at) from {table}"
        if table
        else ("select max(loaded_at) from raw.assets where provider = :p")
    )
    quarantined = "select max(last_seen_at) from ops.quarantine where provider = :p"
    return f"select greatest(({loaded}), ({quarantined}))"


def raw_loaded_through(engine: Engine, provider: str) -> datetime | None:
    """The newest ``loaded_at`` of the provider's (or feed's) raw rows (None if it has none)."""
    with engine.connect() as conn:
        return conn.execute(text(_newest_raw_row(provider)), {"p": provider}).scalar()


def marts_are_current(engine: Engine, provider: str) -> bool:
    """True when the last successful build covered every raw row of ``provider``."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    f"""
                    select coalesce(({_newest_raw_row(provider)}), '-infinity')
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


def missing_relations(engine: Engine, models: list[str], schemas: tuple[str, ...]) -> list[str]:
    """The dbt models among ``models`` that have no table or view in any of ``schemas`` yet.

    A selected build (``source:atlas+``) reaches shared models that read models outside the selection (every
    provider's staging view, the supply-chain marts): on a fresh database those do not exist yet, so the runner
    adds them to the selection instead of failing the build.
    """
    with engine.connect() as conn:
        existing: set[str] = set(
            conn.execute(
                # pg_class, not information_schema.tables: the latter hides relations the user has no privilege
                # on, and a pipeline user (docs/security.md) may read none of the staging views dbt built.
                text(
                    "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                    "where n.nspname = any(:schemas) and c.relkind in ('r', 'v', 'm', 'p', 'f')"
                ),
                {"schemas": list(schemas)},
            ).scalars()
        )
    return [name for name in models if name not in existing]
