"""Walk a paginated API to its end, safely.

Ends on an empty page or a missing next token; a next token seen before raises instead of spinning; an item
served twice with the same content (a page repeated, an item that moved across a page boundary) is kept once
and counted, so the audit still adds up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Token = str | int


class PaginationLoopError(RuntimeError):
    """The provider sent a next-page token we already followed."""


@dataclass
class Page:
    """One page: its items and the token of the next page (None at the end)."""

    items: list[Any]
    next_token: Token | None


@dataclass
class Extracted:
    """Everything one extraction read."""

    items: list[Any] = field(default_factory=list)
    repeated: int = 0
    pages: int = 0


def _fingerprint(item: Any) -> str:
    return hashlib.sha1(json.dumps(item, sort_keys=True, default=str).encode(), usedforsecurity=False).hexdigest()


def paginate(
    provider: str,
    fetch: Callable[[Token], Page],
    first: Token,
    *,
    on_page: Callable[[int, int], None] | None = None,
    max_pages: int = 100_000,
) -> Extracted:
    """Follow pages from ``first`` until the end; ``on_page(page_number, items_so_far)`` reports progress."""
    result = Extracted()
    seen_tokens: set[Token] = {first}
    seen_items: set[str] = set()
    token: Token | None = first
    while token is not None:
        if result.pages >= max_pages:
            raise PaginationLoopError(f"provider {provider}: more than {max_pages} pages")
        page = fetch(token)
        result.pages += 1
        for item in page.items:
            fingerprint = _fingerprint(item)
            if fingerprint in seen_items:
                result.repeated += 1
                continue
            seen_items.add(fingerprint)
            result.items.append(item)
        if on_page is not None:
            on_page(result.pages, len(result.items))
        if not page.items or page.next_token is None:
            break
        if page.next_token in seen_tokens:
            raise PaginationLoopError(f"provider {provider}: page token {page.next_token!r} repeated after {token!r}")
        seen_tokens.add(page.next_token)
        token = page.next_token
    return result
