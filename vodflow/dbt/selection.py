"""Which part of the dbt project an ingestion changes: the selectors its dbt sub-flow builds.

A provider's rows are its own dbt source on raw.assets (``source:lumina``); a feed has its own table and source
(the supply-chain events are ``source:supply_chain``). Every run also writes the load audit, so
``source:ops.loads+`` (fct_ingest_runs, metrics_daily) is rebuilt with it. Nothing else is: another provider's
staging models are not in the selection.
"""

from __future__ import annotations

#: The dbt source of each feed in vodflow.providers.FEEDS (providers' sources are named after them).
FEED_SOURCES = {"events": "supply_chain"}
#: The load audit's descendants, rebuilt after every ingestion.
AUDIT_SELECTOR = "source:ops.loads+"


def source_name(provider: str) -> str:
    """The dbt source a provider (or feed) loads into."""
    return FEED_SOURCES.get(provider, provider)


def selection_for(provider: str) -> list[str]:
    """The dbt selectors an ingestion of ``provider`` (or a feed) builds: its source's descendants and the audit's."""
    return [f"source:{source_name(provider)}+", AUDIT_SELECTOR]
