"""Title normalisation: the one key that both the registry and provider titles are reduced to.

Feeds spell the same work many ways: ``The Matrix``, ``MATRIX, THE``, ``The Matrix (HD)``, ``Amélie`` vs
``Amelie``. Matching compares normalised titles, so the same function must run on both sides: the registry
loader stores its result in ``title_norm`` (searched by equality and by pg_trgm), the matcher applies it to the
query. Any change to the rules must bump :data:`NORMALISER_VERSION`, which is part of every registry record's
hash, so the next registry load rewrites the stored keys instead of silently comparing old keys with new ones.

What is removed, and why:

* case (``casefold``) and accents (NFKD, combining marks dropped; a few letters that do not decompose, such as
  ``ß``, ``æ``, ``ø``, ``ł``, are spelt out), because feeds strip them inconsistently;
* trailing bracketed groups, ``(HD)``, ``[Remastered]``, ``{4K}``, because they describe the delivery or the
  edition, not the work (all trailing groups go: a year in brackets is compared as a year, not as text);
* one leading article (English, French, Spanish, Italian, German ``der``/``das``), also when moved to the end
  (``Matrix, The``). German ``die`` is not stripped: ``Die Hard`` is English;
* punctuation: dots and apostrophes inside a word are dropped (``L.A.`` -> ``la``, ``Charlotte's`` ->
  ``charlottes``), every other non-word character becomes a space; ``&`` becomes ``and``.

Scripts other than Latin are kept as they are (case-folded), so non-Latin titles still compare exactly.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

NORMALISER_VERSION = 1
"""Bump when the rules below change: registry records then hash differently and are rewritten on reload."""

_ARTICLES = ("the", "a", "an", "le", "la", "les", "el", "los", "las", "il", "gli", "der", "das")
_SPELT_OUT = str.maketrans(
    {
        **{"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"},
        **{"ẞ": "SS", "Æ": "AE", "Œ": "OE", "Ø": "O", "Ł": "L", "Đ": "D", "Ð": "D", "Þ": "TH"},
    }
)
_APOSTROPHES = "'’‘`´ʼ"
_TRAILING_BRACKETS = re.compile(r"\s*(?:\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\})\s*$")
_MOVED_ARTICLE = re.compile(rf"^(?P<rest>.+?),\s*(?P<article>{'|'.join(_ARTICLES)}|l[{_APOSTROPHES}])$")
_LEADING_ARTICLE = re.compile(rf"^(?:(?:{'|'.join(_ARTICLES)})\s+|l[{_APOSTROPHES}](?=\w))")
_INNER_MARK = re.compile(rf"(?<=\w)[.{_APOSTROPHES}](?=\w)")
_NON_WORD = re.compile(r"[\W_]+")


def strip_accents(text: str) -> str:
    """``text`` without diacritics, ``ß`` and friends spelt out (case is kept)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).translate(_SPELT_OUT)


def _strip_trailing_brackets(text: str) -> str:
    while True:
        stripped = _TRAILING_BRACKETS.sub("", text)
        if stripped == text or not stripped.strip():
            return text
        text = stripped


def _collapse(text: str) -> str:
    text = _INNER_MARK.sub("", text.replace("&", " and "))
    return " ".join(_NON_WORD.sub(" ", text).split())


@lru_cache(maxsize=8192)
def normalise_title(title: str) -> str:
    """The comparison key of a title: see the module docstring for the rules.

    Never returns an empty string for a non-blank title: when stripping articles or brackets would leave
    nothing (a film called ``The``), the less stripped form is kept.
    """
    text = strip_accents(unicodedata.normalize("NFKC", title).casefold()).strip()
    text = _strip_trailing_brackets(text)
    moved = _MOVED_ARTICLE.match(text)
    if moved:
        text = moved.group("rest")
    else:
        without_article = _LEADING_ARTICLE.sub("", text, count=1)
        if _collapse(without_article):
            text = without_article
    return _collapse(text) or _collapse(strip_accents(title.casefold())) or title.strip().casefold()


def normalise_name(name: str) -> str:
    """A person's name for comparison (directors): case, accents and punctuation removed, order kept."""
    return _collapse(strip_accents(unicodedata.normalize("NFKC", name).casefold()))
