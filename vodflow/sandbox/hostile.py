"""Hostile provider answers: what a feed can send that must neither hurt the pipeline nor vanish.

Three fault kinds play them on a JSON answer (``POST /admin/faults``), after the provider's own answer is built:

* ``hostile_rows``: the answer's items take, in turn, the titles of :data:`HOSTILE_TITLES` (SQL that would drop
  a table were it ever spliced into a statement, NUL, terminal escapes, a bidi override, an unpaired surrogate,
  a megabyte...). What the pipeline does with each is in ``docs/security.md`` ("Hostile input").
* ``invalid_utf8``: the first item's title holds bytes that are not UTF-8: an encoded surrogate (which Python's
  ``json.loads`` on bytes lets through) and a Latin-1 byte.
* ``nesting_bomb``: the whole answer is :data:`NESTING_DEPTH` nested arrays (a parser that recurses overflows).

Deterministic, like the rest of the sandbox: the same answer always becomes the same hostile answer.
"""

from __future__ import annotations

import json
from typing import Any

NESTING_DEPTH = 100_000
#: One megabyte of title: far beyond any limit a title has.
ONE_MEGABYTE = 1 << 20
#: Title name → title. SQL-looking ones are data to be stored verbatim; the rest break a named rule or are kept.
HOSTILE_TITLES: dict[str, str] = {
    "sql_drop_table": "Robert'); DROP TABLE raw.assets; --",
    "sql_or_true": "' OR '1'='1'; drop schema ops cascade; --",
    "sql_dollar_quote": "$$; TRUNCATE raw.assets; $$ \\x27; COPY raw.assets TO PROGRAM 'id'; --",
    "nul": "Before\x00After",
    "terminal_escape": "\x1b[2J\x1b[31mCleared\x07",
    "c1_control": "Caf\u0083 Society",
    "bidi_override": "Holiday \u202egpj.exe",
    "unpaired_surrogate": "Broken \ud800 Text",
    "literal_backslash_u0000": "C:\\u0000\\new",
    "one_megabyte": "A" * ONE_MEGABYTE,
    "mixed_direction": "Amélie \u2067\u0644\u064a\u0644\u0649\u2069 \u200f\u6771\u4eac \u200d\U0001f3ac\ttab",
}
_TITLE_NAMES = tuple(HOSTILE_TITLES)
#: Stands in for the invalid bytes while the answer is still JSON text (plain ASCII, in no real answer).
_MARKER = "@@vodflow-sandbox-invalid-utf8@@"
#: An encoded surrogate (U+D800 as UTF-8 would spell it, which UTF-8 forbids) and a Latin-1 "é".
INVALID_UTF8 = b"Broken \xed\xa0\x80 Caf\xe9"


def _items(page: Any) -> list[Any]:
    """The list of items in an answer: a bare list, or the first list among the page's values."""
    if isinstance(page, list):
        return page
    if isinstance(page, dict):
        return next((value for value in page.values() if isinstance(value, list)), [])
    return []


def hostile_title(position: int) -> tuple[str, str]:
    """The (name, title) the ``hostile_rows`` fault gives the item at ``position`` (from 0) of an answer."""
    name = _TITLE_NAMES[position % len(_TITLE_NAMES)]
    return name, HOSTILE_TITLES[name]


def hostile_items(items: list[Any]) -> list[Any]:
    """Copies of ``items``, each object with a ``title`` given the hostile title of its position."""
    result = []
    for position, item in enumerate(items):
        if isinstance(item, dict) and "title" in item:
            item = {**item, "title": hostile_title(position)[1]}
        result.append(item)
    return result


def _dump(page: Any) -> bytes:
    # ASCII with escapes: an unpaired surrogate and NUL travel as "\ud800" and "\u0000", as a JSON feed sends them.
    return json.dumps(page, ensure_ascii=True).encode()


def hostile_rows(body: bytes) -> bytes:
    """The ``hostile_rows`` fault: the answer with its items' titles replaced (see :func:`hostile_items`)."""
    page = json.loads(body)
    items = _items(page)
    items[:] = hostile_items(items)
    return _dump(page)


def invalid_utf8(body: bytes) -> bytes:
    """The ``invalid_utf8`` fault: the first item with a title gets :data:`INVALID_UTF8` as its title."""
    page = json.loads(body)
    for item in _items(page):
        if isinstance(item, dict) and "title" in item:
            item["title"] = _MARKER
            break
    return _dump(page).replace(_MARKER.encode(), INVALID_UTF8)


def nesting_bomb() -> bytes:
    """The ``nesting_bomb`` fault's whole answer: well-formed JSON, :data:`NESTING_DEPTH` arrays deep."""
    return b"[" * NESTING_DEPTH + b"]" * NESTING_DEPTH
