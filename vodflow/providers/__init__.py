"""Providers: one module each (client + mapping to the canonical record), registered by name."""

from __future__ import annotations

from vodflow.providers.atlas import ATLAS
from vodflow.providers.base import Provider
from vodflow.providers.harbor import HARBOR
from vodflow.providers.lumina import LUMINA
from vodflow.providers.meridian import MERIDIAN

PROVIDERS: dict[str, Provider] = {provider.name: provider for provider in (LUMINA, ATLAS, HARBOR, MERIDIAN)}


#: Sources with an ``ingest-<name>`` deployment: the providers, and feeds that are not asset catalogues.
FEEDS: tuple[str, ...] = ("events",)
INGESTIBLE: tuple[str, ...] = (*PROVIDERS, *FEEDS)


class UnknownProviderError(KeyError):
    """A provider name that is not registered."""

    def __str__(self) -> str:
        return f"unknown provider {self.args[0]!r}; known: {', '.join(INGESTIBLE)}"


def check_ingestible(name: str) -> None:
    """Refuse a name that has no ``ingest-<name>`` deployment, listing those that do."""
    if name not in INGESTIBLE:
        raise UnknownProviderError(name)


def get_provider(name: str) -> Provider:
    """The registered provider called ``name``."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownProviderError(name) from None
