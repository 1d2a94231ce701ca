"""EIDR ID validation and normalisation.

An EIDR content ID is ``10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C``: twenty upper-case hex digits
in five groups and a check character from ``0-9A-Z`` computed with ISO/IEC 7064
MOD 37,36 (hybrid system) over the twenty hex digits alone. A wrong check character
makes the ID a bad value: it is reported, never treated as a near match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "10.5240/"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUES = {char: value for value, char in enumerate(_ALPHABET)}
_MODULUS = 36
CANONICAL_PATTERN = r"10\.5240/[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-Z]"
_CANONICAL = re.compile(r"^10\.5240/([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-Z])$")
_URL_FORMS = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:|urn:doi:|info:doi/)", re.IGNORECASE)


def check_character(hex20: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character over the twenty hex digits of an EIDR ID."""
    product = _MODULUS
    for char in hex20:
        total = (product + _VALUES[char]) % _MODULUS
        product = ((total or _MODULUS) * 2) % (_MODULUS + 1)
    return _ALPHABET[(_MODULUS + 1 - product) % _MODULUS]


def format_id(hex20: str) -> str:
    """Build a canonical EIDR ID (with its check character) from twenty hex digits."""
    digits = hex20.upper()
    if not re.fullmatch(r"[0-9A-F]{20}", digits):
        raise ValueError(f"expected 20 hex digits, got {hex20!r}")
    groups = "-".join(digits[i : i + 4] for i in range(0, 20, 4))
    return f"{PREFIX}{groups}-{check_character(digits)}"


@dataclass(frozen=True)
class EidrCheck:
    """The outcome of checking one provider-supplied value."""

    value: str
    normalised: str | None
    reason: str | None

    @property
    def is_valid(self) -> bool:
        """Whether the value is a well-formed EIDR ID with a correct check character."""
        return self.reason is None


def normalise(value: str) -> str:
    """Bring provider spellings (lower case, spaces, ``doi:``/URL forms, no prefix) to canonical form.

    The result is not necessarily valid: call :func:`check` for a verdict.
    """
    if _CANONICAL.match(value):  # the common case, already canonical: nothing to rewrite
        return value
    text = _URL_FORMS.sub("", value.strip())
    text = re.sub(r"\s+", "", text).upper()
    if not text.startswith(PREFIX):
        text = PREFIX + text
    body = text[len(PREFIX) :].replace("-", "")
    if len(body) == 21:
        return f"{PREFIX}{'-'.join(body[i : i + 4] for i in range(0, 20, 4))}-{body[20]}"
    return text


def check(value: str) -> EidrCheck:
    """Validate one value: format first, then the check character."""
    normalised = normalise(value)
    match = _CANONICAL.match(normalised)
    if match is None:
        return EidrCheck(value, None, "eidr_format: not 10.5240/ + 20 hex digits in 5 groups + check character")
    hex20 = "".join(match.groups()[:5])
    expected = check_character(hex20)
    if match.group(6) != expected:
        return EidrCheck(value, None, f"eidr_check_character: got {match.group(6)}, expected {expected}")
    return EidrCheck(value, normalised, None)


def is_valid(value: str) -> bool:
    """Whether ``value`` (in any accepted spelling) is a valid EIDR ID."""
    return check(value).is_valid


def has_valid_check_character(canonical: str) -> bool:
    """Check character test for a value already in canonical form (the hot path of schema validation)."""
    hex20 = canonical[8:12] + canonical[13:17] + canonical[18:22] + canonical[23:27] + canonical[28:32]
    return check_character(hex20) == canonical[33:]
