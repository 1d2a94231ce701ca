"""Providers: one module each (client + mapping to the canonical record), registered by name."""

from __future__ import annotations

from vodflow.providers.atlas import ATLAS
from vodflow.providers.base import Provider
from vodflow.providers.lumina import LUMINA

PROVIDERS: dict[str, Provider] = {provider.name: provider for provider in (LUMINA, ATLAS)}


class UnknownProviderError(KeyError):
    """A provider name that is not registered."""

    def __str__(self) -> str:
        return f"unknown provider {self.args[0]!r}; known: {', '.join(sorted(PROVIDERS))}"


def get_provider(name: str) -> Provider:
    """The registered provider called ``name``."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownProviderError(name) from None
