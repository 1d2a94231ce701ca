"""The imperfections real provider feeds have, shared by atlas, harbor and meridian (lumina keeps its own).

Every choice is a hash of ``(provider, key)`` (:func:`~vodflow.sandbox.catalogue.stable_fraction`), never
``random``: the same film is spelt the same way by the same provider on every run, and differently by two
providers, which is what cross-provider matching must cope with. Title imperfections (at most one per title)::

    upper          4%   "RAIDERS OF THE LOST ARK"
    lower          4%   "raiders of the lost ark"
    article_last   ~40% of titles that start with an article: "Matrix, The", "Education, An", "Jetée, La"
    hd_suffix      3%   "Bad Boys II (HD)"
    remastered     2%   "Shadowlands [Remastered]"
    typo           3%   two neighbouring letters swapped: "Raiders of the Lsot Ark"
    accents        50% of titles with accents: "Les Miserables" (combining marks dropped, not other symbols)

plus ``no_year``: the year is missing for 5% of titles. Which kinds apply is a parameter everywhere
(:class:`Imperfection`); ``None`` means all of them.

Also here: the generic :class:`Flaw` (a deliberately bad item and why) that the newer providers list through
``GET /admin/bad-items``, and a small English-name to ISO 639 table for providers that send codes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from vodflow.sandbox.catalogue import stable_fraction


class Imperfection(StrEnum):
    """A kind of realistic, non-breaking imperfection in a provider's title data."""

    UPPER = "upper"
    LOWER = "lower"
    ARTICLE_LAST = "article_last"
    HD_SUFFIX = "hd_suffix"
    REMASTERED = "remastered"
    TYPO = "typo"
    ACCENTS = "accents"
    NO_YEAR = "no_year"


ALL_IMPERFECTIONS: frozenset[Imperfection] = frozenset(Imperfection)

# (kind, share of all titles) in the order the hash is compared against; article_last only fires for titles
# that start with an article, so its effective share is about 40% of those.
_TITLE_SHARES: tuple[tuple[Imperfection, float], ...] = (
    (Imperfection.UPPER, 0.04),
    (Imperfection.LOWER, 0.04),
    (Imperfection.ARTICLE_LAST, 0.40),
    (Imperfection.HD_SUFFIX, 0.03),
    (Imperfection.REMASTERED, 0.02),
    (Imperfection.TYPO, 0.03),
)
_ACCENT_SHARE = 0.5
NO_YEAR_SHARE = 0.05
ARTICLES = ("The", "A", "An", "La", "Le", "Les", "El", "Il", "Der", "Die", "Das")


def select_imperfections(selected: Iterable[Imperfection | str] | None) -> frozenset[Imperfection]:
    """Validate a selection of imperfection names; ``None`` means all of them.

    Raises:
        ValueError: for an unknown name.
    """
    if selected is None:
        return ALL_IMPERFECTIONS
    return frozenset(Imperfection(str(kind)) for kind in selected)


def strip_accents(text: str) -> str:
    """``Les Misérables`` -> ``Les Miserables``: combining marks dropped, every other character kept."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _article_last(title: str) -> str | None:
    first, _, rest = title.partition(" ")
    if first in ARTICLES and rest:
        return f"{rest}, {first}"
    return None


def _typo(title: str, provider: str, key: object) -> str | None:
    pairs = [
        i
        for i in range(len(title) - 1)
        if title[i].isalpha() and title[i + 1].isalpha() and title[i].lower() != title[i + 1].lower()
    ]
    if not pairs:
        return None
    i = pairs[int(stable_fraction(provider, "typo-at", key) * len(pairs))]
    return title[:i] + title[i + 1] + title[i] + title[i + 2 :]


def title_imperfection(title: str, provider: str, key: object, enabled: frozenset[Imperfection]) -> Imperfection | None:
    """Which title imperfection (if any) a provider applies to the title of ``key``; accents are separate."""
    share = stable_fraction(provider, "title-imperfection", key)
    threshold = 0.0
    for kind, kind_share in _TITLE_SHARES:
        lower, threshold = threshold, threshold + kind_share
        if not lower <= share < threshold:
            continue
        if kind not in enabled:
            return None
        if kind is Imperfection.ARTICLE_LAST and _article_last(title) is None:
            return None
        if kind is Imperfection.TYPO and _typo(title, provider, key) is None:
            return None
        if kind in (Imperfection.UPPER, Imperfection.LOWER) and title.upper() == title.lower():
            return None
        return kind
    return None


def imperfect_title(
    title: str, provider: str, key: object, enabled: frozenset[Imperfection] = ALL_IMPERFECTIONS
) -> str:
    """``title`` as ``provider`` spells it: at most one title imperfection, then perhaps accents stripped."""
    kind = title_imperfection(title, provider, key, enabled)
    result = title
    if kind is Imperfection.UPPER:
        result = title.upper()
    elif kind is Imperfection.LOWER:
        result = title.lower()
    elif kind is Imperfection.ARTICLE_LAST:
        result = _article_last(title) or title
    elif kind is Imperfection.HD_SUFFIX:
        result = f"{title} (HD)"
    elif kind is Imperfection.REMASTERED:
        result = f"{title} [Remastered]"
    elif kind is Imperfection.TYPO:
        result = _typo(title, provider, key) or title
    if (
        Imperfection.ACCENTS in enabled
        and not result.isascii()
        and stable_fraction(provider, "accents", key) < _ACCENT_SHARE
    ):
        result = strip_accents(result)
    return result


def drops_year(provider: str, key: object, enabled: frozenset[Imperfection] = ALL_IMPERFECTIONS) -> bool:
    """Whether ``provider`` leaves the year of ``key`` out (5%)."""
    return Imperfection.NO_YEAR in enabled and stable_fraction(provider, "no-year", key) < NO_YEAR_SHARE


# English names as the source spells them -> (ISO 639-1, ISO 639-2/T). Names not listed are sent as names.
LANGUAGE_CODES: dict[str, tuple[str, str]] = {
    "English": ("en", "eng"),
    "French": ("fr", "fra"),
    "Spanish": ("es", "spa"),
    "Japanese": ("ja", "jpn"),
    "Italian": ("it", "ita"),
    "German": ("de", "deu"),
    "Hindi": ("hi", "hin"),
    "Arabic": ("ar", "ara"),
    "Mandarin": ("zh", "zho"),
    "Standard Chinese": ("zh", "zho"),
    "Chinese": ("zh", "zho"),
    "Korean": ("ko", "kor"),
    "Swedish": ("sv", "swe"),
    "Danish": ("da", "dan"),
    "Russian": ("ru", "rus"),
    "Portuguese": ("pt", "por"),
    "Persian": ("fa", "fas"),
    "Dutch": ("nl", "nld"),
    "Hebrew": ("he", "heb"),
    "Czech": ("cs", "ces"),
    "Hungarian": ("hu", "hun"),
    "Polish": ("pl", "pol"),
    "Catalan": ("ca", "cat"),
    "Thai": ("th", "tha"),
    "Serbian": ("sr", "srp"),
    "Romanian": ("ro", "ron"),
    "Afrikaans": ("af", "afr"),
    "Norwegian": ("no", "nor"),
    "Turkish": ("tr", "tur"),
    "Finnish": ("fi", "fin"),
    "Greek": ("el", "ell"),
    "Modern Greek": ("el", "ell"),
}


def language_value(
    languages: Sequence[str], provider: str, key: object, code_share: float, three_letter_share: float = 0.5
) -> str | None:
    """The first language as a provider sends it: a code for some films, else the English name.

    ``code_share`` of the films whose language is in :data:`LANGUAGE_CODES` get a code (``three_letter_share``
    of those ISO 639-2/T, the rest ISO 639-1); the others, and languages not in the table, the English name.
    ``None`` when there is no language.
    """
    if not languages:
        return None
    name = languages[0]
    codes = LANGUAGE_CODES.get(name)
    share = stable_fraction(provider, "language-form", key)
    if codes is None or share >= code_share:
        return name
    return codes[1] if share < code_share * three_letter_share else codes[0]


_CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def wrong_check_character(canonical: str, provider: str) -> str:
    """A canonical EIDR ID with its check character replaced by another (deterministic) one."""
    correct = canonical[-1]
    shift = 1 + int(stable_fraction(provider, "wrong-check", canonical) * (len(_CHECK_ALPHABET) - 1))
    return canonical[:-1] + _CHECK_ALPHABET[(_CHECK_ALPHABET.index(correct) + shift) % len(_CHECK_ALPHABET)]


@dataclass(frozen=True)
class Flaw:
    """An item a provider breaks on purpose (``kind``) and why (``reason``): it must end in quarantine."""

    id: str
    kind: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """JSON form used by ``GET /admin/bad-items``, the same as lumina's."""
        return {"id": self.id, "kind": self.kind, "reason": self.reason}


def pick_bad(keys: Sequence[str], kinds: Sequence[str], provider: str, share: float = 0.01) -> dict[str, str]:
    """Deliberately bad keys and their kinds: ~``share`` of ``keys`` but at least one of each kind.

    The same rule as lumina's catalogue: a fixed count of the keys ranked by a hash, kinds dealt in turn.
    """
    count = min(len(keys), max(len(kinds), round(len(keys) * share)))
    ranked = sorted(keys, key=lambda key: stable_fraction(provider, "bad", key))
    return {key: kinds[i % len(kinds)] for i, key in enumerate(ranked[:count])}
