"""Provider values made storable in PostgreSQL, so that the evidence of what a hostile feed sent can be kept.

PostgreSQL's ``text`` and ``jsonb`` cannot hold NUL (U+0000; jsonb refuses even its JSON escape), and the
database's UTF-8 cannot encode an unpaired surrogate (U+D800..U+DFFF), which a JSON escape of a lone surrogate
puts into a Python string. orjson, which writes every payload, also refuses integers beyond 64 bits. A value like
that in a canonical column is quarantined by a named rule (:mod:`vodflow.canonical`), but the quarantined row
itself (its reasons, the provider's raw payload) and the payload of a row that loads must still be written:
otherwise one hostile character would fail the whole load and every good row with it.

So each NUL and unpaired surrogate becomes U+FFFD (the replacement character), an integer beyond 64 bits its
decimal text, NaN and infinities null. The evidence keeps its shape and shows where something unstorable was;
nothing is silently removed.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: In JSON text: an escaped backslash (kept as it is) or the escape of NUL (replaced). Matching the pair first
#: keeps a literal backslash followed by "u0000" (the six characters a title may really hold) intact.
_ESCAPED_NUL = re.compile(r"\\\\|\\u0000")
_INT64 = range(-(2**63), 2**64)
_OPTIONS = orjson.OPT_NON_STR_KEYS


def storable_text(text: str) -> str:
    """``text`` with each NUL and unpaired surrogate replaced by U+FFFD (the same object when there is none)."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def _storable_value(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(key)): _storable_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_value(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value not in _INT64:
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _replace_escaped_nul(match: re.Match[str]) -> str:
    return match.group() if match.group() == "\\\\" else "\\ufffd"


def jsonb_text(value: Any) -> str:
    """JSON text that PostgreSQL's jsonb accepts, for any value a provider sent (see the module docstring).

    The common case costs one orjson call; only a value orjson refuses (a surrogate, a huge integer) is walked.
    """
    try:
        text = orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        text = orjson.dumps(_storable_value(value), default=str, option=_OPTIONS).decode()
    return _ESCAPED_NUL.sub(_replace_escaped_nul, text) if "\\u0000" in text else text
