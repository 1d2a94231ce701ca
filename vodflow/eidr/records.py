"""Registry records: one line of the JSON Lines extract, parsed, checked and reduced to what matching needs.

The extract is what a registry export (or a data vendor) hands over, one JSON object per line::

    {"eidr_id": "10.5240/...", "referent_type": "Movie", "title": "...", "release_year": 1999,
     "runtime_minutes": 136.0, "directors": ["..."], "language": "en", "country": "US", "imdb_id": "tt0133093"}

Only ``eidr_id`` and ``title`` are required. A line that is not a JSON object, lacks either, or carries an
invalid EIDR ID is a :class:`RecordError` (the loader reports it with its line number and skips it). An optional
field whose value cannot be used (a year that is not a number, an IMDb ID of the wrong shape) is dropped and
noted, because losing the whole record over a bad runtime would hide a good title from the matcher.
Optional extensions: ``parent_eidr_id`` (season -> series, episode -> season), so that episodes can be matched
under their parent.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from vodflow.eidr.ids import CANONICAL_PATTERN, check, has_valid_check_character
from vodflow.eidr.titles import NORMALISER_VERSION, normalise_title

MIN_YEAR = 1870
MAX_YEAR = 2100
_IMDB_ID = re.compile(r"^tt\d{7,10}$")
_CANONICAL = re.compile(f"^{CANONICAL_PATTERN}$")


class RecordError(ValueError):
    """A registry line that cannot become a record; it is reported and skipped."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no = line_no
        self.reason = reason


@dataclass(frozen=True)
class RegistryRecord:
    """One registry entry as matching sees it; ``title_norm`` is :func:`normalise_title` of ``title``."""

    eidr_id: str
    title: str
    title_norm: str
    referent_type: str | None = None
    release_year: int | None = None
    runtime_minutes: float | None = None
    directors: tuple[str, ...] = ()
    language: str | None = None
    country: str | None = None
    imdb_id: str | None = None
    parent_eidr_id: str | None = None

    def record_hash(self) -> str:
        """Content hash, including the normaliser version, so a reload knows changed from unchanged."""
        body = json.dumps(
            [
                NORMALISER_VERSION,
                self.referent_type,
                self.title,
                self.title_norm,
                self.release_year,
                self.runtime_minutes,
                list(self.directors),
                self.language,
                self.country,
                self.imdb_id,
                self.parent_eidr_id,
            ],
            ensure_ascii=False,
        )
        return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class ParsedLine:
    """A record and the optional fields that had to be dropped from its line."""

    record: RegistryRecord
    dropped: tuple[str, ...] = field(default=())


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # "1984", "300": some exports write such titles as numbers
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _year(value: Any) -> int | None:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        value = value.strip()[:4]
    number = float(value)
    if not number.is_integer() or not MIN_YEAR <= number <= MAX_YEAR:
        raise ValueError
    return int(number)


def _runtime(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError
    return round(number, 2)


def _directors(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError
    return tuple(name.strip() for name in value if name.strip())


def _label(value: Any) -> str:
    """Language or country: a string, or a list of strings (kept as one comma-separated label)."""
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        value = ", ".join(part.strip() for part in value if part.strip())
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value.strip()


def _imdb(value: Any) -> str:
    text = str(value).strip().lower()
    if not _IMDB_ID.match(text):
        raise ValueError
    return text


def _parent(value: Any) -> str:
    verdict = check(str(value))
    if verdict.normalised is None:
        raise ValueError
    return verdict.normalised


_OPTIONAL: dict[str, Any] = {
    "release_year": _year,
    "runtime_minutes": _runtime,
    "directors": _directors,
    "imdb_id": _imdb,
    "parent_eidr_id": _parent,
    "referent_type": _label,
    "language": _label,
    "country": _label,
}


def _eidr_id(value: Any) -> str | None:
    """The canonical ID, or None if invalid; extracts are mostly canonical already, so that is checked first."""
    if isinstance(value, str) and _CANONICAL.match(value):
        return value if has_valid_check_character(value) else None
    return check(str(value)).normalised


def parse_line(text: str, line_no: int) -> ParsedLine:
    """Parse one line of the extract.

    Raises:
        RecordError: the line is not a JSON object, lacks ``eidr_id`` or ``title``, or the ID is invalid.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(line_no, f"not JSON ({exc.args[0] if exc.args else exc})") from None
    if not isinstance(data, dict):
        raise RecordError(line_no, "not a JSON object")
    raw_id, title = data.get("eidr_id"), _text(data.get("title"))
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise RecordError(line_no, "missing eidr_id")
    if title is None:
        raise RecordError(line_no, "missing title")
    eidr_id = _eidr_id(raw_id)
    if eidr_id is None:
        raise RecordError(line_no, f"invalid eidr_id {raw_id!r}: {check(str(raw_id)).reason}")
    values: dict[str, Any] = {}
    dropped: list[str] = []
    for name, convert in _OPTIONAL.items():
        raw = data.get(name)
        if raw is None or raw == [] or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            values[name] = convert(raw)
        except (TypeError, ValueError, OverflowError):
            dropped.append(name)
    record = RegistryRecord(
        eidr_id=eidr_id,
        title=title,
        title_norm=normalise_title(title),
        **values,
    )
    return ParsedLine(record, tuple(dropped))
