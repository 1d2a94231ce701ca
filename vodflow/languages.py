"""Language normalisation: providers send English names ("French"), ISO 639-2/3 or 639-1 codes; we store one code.

The stored code is ISO 639-1 where the language has one, else ISO 639-3. A value that cannot be recognised is
returned unchanged so the schema check ``language_iso639`` rejects it with the provider's own spelling visible.
"""

from __future__ import annotations

from functools import lru_cache

from iso639 import Language, LanguageNotFoundError

# Names real feeds use that ISO 639 spells differently (Wikidata labels, marketing names).
_ALIASES = {
    "mandarin": "zh",
    "standard chinese": "zh",
    "putonghua": "zh",
    "chinese": "zh",
    "standard taiwanese mandarin": "zh",
    "cantonese": "yue",
    "bangla": "bn",
    "modern greek": "el",
    "greek": "el",
    "kurdish language": "ku",
    "flemish dutch": "nl",
    "flemish": "nl",
    "taiwanese hokkien": "nan",
    "singaporean hokkien": "nan",
    "hakka chinese": "hak",
    "sichuanese": "zh",
    "multiple languages": "mul",
    "egyptian arabic": "arz",
    "moroccan arabic": "ary",
    "classical arabic": "ar",
    "sesotho": "st",
    "slovene": "sl",
    "abkhaz": "ab",
    "jamaican patois": "jam",
    "swahili": "sw",
    "māori": "mi",
    "maori": "mi",
    "nahuatl": "nah",
    "aramaic": "arc",
    "ancient greek": "grc",
    "mooré": "mos",
    "moore": "mos",
    "aboriginal english": "en",
    "australian aboriginal english": "en",
    "sign language": "sgn",
    "american sign language": "ase",
    "jin": "cjy",
    "isan": "tts",
    "shuwa": "shu",
    "embera": "emb",
    "artistic language": "art",
    "constructed language": "art",
}
_REGIONAL_PREFIXES = ("american ", "australian ", "brazilian ", "quebec ", "british ", "canadian ", "swiss ")


def _code(language: Language) -> str:
    return str(language.part1 or language.part3)


@lru_cache(maxsize=4096)
def normalise_language(value: str | None) -> str | None:
    """An ISO 639 code for ``value``, None for empty, or ``value`` itself if unrecognised."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    key = text.casefold()
    if key in _ALIASES:
        return _ALIASES[key]
    for prefix in _REGIONAL_PREFIXES:
        if key.startswith(prefix) and key != prefix.strip():
            return normalise_language(text[len(prefix) :])
    candidates = (key,) if len(key) <= 3 and key.isalpha() else (text, text.title())
    for candidate in candidates:
        try:
            return _code(Language.match(candidate))
        except LanguageNotFoundError:
            continue
    return text
