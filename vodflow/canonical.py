"""The canonical asset record every provider is mapped to, and the pandera schema that guards it.

Every rule has a name, and the name is what a quarantined row's reason says, so operators can group and count
reasons without parsing messages. Type conversion happens before pandera (``to_typed_frame``) so a value that is
not a number is one named reason (``runtime_minutes_not_integer``) instead of a cascade of dtype errors. The
schema is strict about columns: a mapping that forgets or invents a column is a bug and fails the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pandera.pandas as pa

from vodflow.contracts import ASSET_TYPES
from vodflow.eidr.ids import CANONICAL_PATTERN, has_valid_check_character

CANONICAL_COLUMNS: tuple[str, ...] = (
    "provider",
    "provider_asset_id",
    "asset_type",
    "title",
    "original_title",
    "parent_provider_asset_id",
    "season_number",
    "episode_number",
    "release_year",
    "runtime_minutes",
    "language",
    "genres",
    "rating",
    "eidr_id",
    "imdb_id",
    "isan",
    "provider_updated_at",
    "payload",
)
KEY_COLUMNS = ("provider", "provider_asset_id")
INTEGER_COLUMNS = ("season_number", "episode_number", "release_year", "runtime_minutes")
TIMESTAMP_COLUMNS = ("provider_updated_at",)
TEXT_COLUMNS = tuple(
    c for c in CANONICAL_COLUMNS if c not in (*INTEGER_COLUMNS, *TIMESTAMP_COLUMNS, "genres", "payload")
)
#: Longest title (and original title) kept; a longer one is quarantined (``title_max_length``), its reason
#: naming its length and this limit. Real titles stay far below it; a megabyte "title" is an attack or a bug.
MAX_TITLE_LENGTH = 1000
#: Beyond this a float no longer holds every integer; no integer column comes anywhere near it.
_MAX_EXACT_INTEGER = 2**53
MAX_GENRE_LENGTH = 100
MAX_GENRES = 50
#: Characters a text value may not hold (``<column>_no_control_characters``): C0 controls but tab, line feed and
#: carriage return (whitespace that harms nothing downstream; a quoted CSV value may span lines), DEL, and the
#: C1 controls U+0080..U+009F (never text: what a Windows-1252 file read as Latin-1 leaves behind). NUL is among
#: them, and must be: PostgreSQL's text cannot store it.
_CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
#: Bidirectional embeddings and overrides U+202A..U+202E (``<column>_no_bidi_override``): an override makes a
#: title display as other text than it holds ("Trojan Source" spoofing). The isolates U+2066..U+2069 and the
#: marks U+200E, U+200F, U+061C are kept: mixed-direction titles need them and they reorder nothing by force.
_BIDI_OVERRIDES = "[\u202a-\u202e]"
#: Unpaired surrogates (``<column>_valid_unicode``): a JSON escape such as ``\\ud800`` yields one; it is no
#: character, and UTF-8 (the database's encoding) cannot store it.
_SURROGATES = "[\ud800-\udfff]"


def to_typed_frame(records: Sequence[dict[str, Any]]) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """Build the canonical frame with real dtypes; return it with the conversion failures per row position.

    Integers may arrive as ``"90"`` or ``90.0`` (accepted) or ``"ninety"`` / ``90.5`` (reason
    ``<column>_not_integer``) or beyond 2**53 (``<column>_out_of_range``); timestamps as ISO 8601 strings with
    offsets (else ``<column>_not_timestamp``).
    """
    frame = pd.DataFrame.from_records(list(records), columns=list(CANONICAL_COLUMNS))
    frame.index = pd.RangeIndex(len(frame))
    failures: dict[int, list[str]] = {}

    def note(mask: pd.Series, reason: str) -> None:
        for position in mask[mask].index:
            failures.setdefault(int(position), []).append(reason)

    for column in INTEGER_COLUMNS:
        raw = frame[column]
        numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
        fractional = numbers.notna() & (numbers % 1 != 0)
        # A number like 1e30 would overflow the integer dtype and fail the whole batch: one reason, one row.
        huge = ~fractional & (numbers.abs() > _MAX_EXACT_INTEGER)
        note((raw.notna() & numbers.isna()) | fractional, f"{column}_not_integer")
        note(huge, f"{column}_out_of_range")
        numbers = numbers.where(~fractional & ~huge)
        frame[column] = numbers.round().astype("Int64")
    for column in TIMESTAMP_COLUMNS:
        raw = frame[column]
        parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
        note(raw.notna() & parsed.isna(), f"{column}_not_timestamp")
        frame[column] = parsed.astype(pd.DatetimeTZDtype("ns", "UTC"))
    for column in TEXT_COLUMNS:
        # pandas' string dtype keeps the string checks vectorised (object columns are checked value by value).
        frame[column] = frame[column].astype(pd.StringDtype())
    return frame, failures


def _check(name: str, fn: Callable[[pd.Series], pd.Series]) -> pa.Check:
    return pa.Check(fn, name=name, error=name)


def _max_length_check(column: str, max_length: int, fn: Callable[[pd.Series], pd.Series]) -> pa.Check:
    # The limit rides along as a statistic, so a quarantine reason can name it (vodflow.ingest.validate).
    name = f"{column}_max_length"
    return pa.Check(fn, name=name, error=name, statistics={"max_length": max_length})


def _text_checks(column: str, max_length: int, *, not_blank: bool = False) -> list[pa.Check]:
    """The rules every free-text column obeys, each with its own name (module constants say why)."""
    checks = [
        _max_length_check(column, max_length, lambda s: s.str.len() <= max_length),
        _check(f"{column}_no_control_characters", lambda s: ~s.str.contains(_CONTROL_CHARACTERS, regex=True)),
        _check(f"{column}_no_bidi_override", lambda s: ~s.str.contains(_BIDI_OVERRIDES, regex=True)),
        _check(f"{column}_valid_unicode", lambda s: ~s.str.contains(_SURROGATES, regex=True)),
    ]
    if not_blank:
        checks.insert(0, _check(f"{column}_not_blank", lambda s: s.str.strip().str.len() > 0))
    return checks


_GENRE_TEXT = re.compile(f"{_CONTROL_CHARACTERS}|{_BIDI_OVERRIDES}|{_SURROGATES}")


def _genres_ok(values: pd.Series) -> pd.Series:
    """At most ``MAX_GENRES`` genres, each a string of at most ``MAX_GENRE_LENGTH`` characters and the text rules.

    Genres load into a ``text[]`` column, where a NUL or a surrogate in one genre would fail the whole load.
    """

    def ok(genres: Any) -> bool:
        return (
            isinstance(genres, list)
            and len(genres) <= MAX_GENRES
            and all(isinstance(g, str) and len(g) <= MAX_GENRE_LENGTH and not _GENRE_TEXT.search(g) for g in genres)
        )

    return values.map(ok)


def _eidr_check_character_ok(values: pd.Series) -> pd.Series:
    # Only well-formed IDs are judged here; malformed ones already fail ``eidr_format``.
    well_formed = values.str.fullmatch(CANONICAL_PATTERN)
    return ~well_formed | values.map(lambda v: has_valid_check_character(v) if len(v) == 34 else False)


def _parent_required(frame: pd.DataFrame) -> pd.Series:
    needs_parent = frame["asset_type"].isin(["season", "episode"])
    return ~needs_parent | frame["parent_provider_asset_id"].notna()


def build_schema(now: datetime | None = None) -> pa.DataFrameSchema:
    """The canonical schema; ``now`` bounds plausible release years (a parameter so tests are stable)."""
    max_year = (now or datetime.now(UTC)).year + 2

    def in_range(name: str, low: int, high: int) -> pa.Check:
        return _check(name, lambda s: (s >= low) & (s <= high))

    return pa.DataFrameSchema(
        {
            "provider": pa.Column(
                pd.StringDtype(), _check("provider_name", lambda s: s.str.fullmatch(r"[a-z][a-z0-9_]*"))
            ),
            "provider_asset_id": pa.Column(pd.StringDtype(), _text_checks("provider_asset_id", 200, not_blank=True)),
            "asset_type": pa.Column(pd.StringDtype(), _check("asset_type_known", lambda s: s.isin(ASSET_TYPES))),
            "title": pa.Column(pd.StringDtype(), _text_checks("title", MAX_TITLE_LENGTH, not_blank=True)),
            "original_title": pa.Column(
                pd.StringDtype(), _text_checks("original_title", MAX_TITLE_LENGTH), nullable=True
            ),
            "parent_provider_asset_id": pa.Column(
                pd.StringDtype(), _text_checks("parent_provider_asset_id", 200), nullable=True
            ),
            "season_number": pa.Column("Int64", in_range("season_number_range", 0, 1000), nullable=True),
            "episode_number": pa.Column("Int64", in_range("episode_number_range", 0, 100_000), nullable=True),
            "release_year": pa.Column("Int64", in_range("release_year_plausible", 1870, max_year), nullable=True),
            "runtime_minutes": pa.Column("Int64", in_range("runtime_minutes_positive", 1, 2000), nullable=True),
            "language": pa.Column(
                pd.StringDtype(), _check("language_iso639", lambda s: s.str.fullmatch(r"[a-z]{2,3}")), nullable=True
            ),
            "genres": pa.Column(object, _check("genres_text", _genres_ok), nullable=True),
            "rating": pa.Column(pd.StringDtype(), _text_checks("rating", 20), nullable=True),
            "eidr_id": pa.Column(
                pd.StringDtype(),
                [
                    _check("eidr_format", lambda s: s.str.fullmatch(CANONICAL_PATTERN)),
                    _check("eidr_check_character", _eidr_check_character_ok),
                ],
                nullable=True,
            ),
            "imdb_id": pa.Column(
                pd.StringDtype(), _check("imdb_id_format", lambda s: s.str.fullmatch(r"tt\d{7,10}")), nullable=True
            ),
            "isan": pa.Column(pd.StringDtype(), _text_checks("isan", 40), nullable=True),
            "provider_updated_at": pa.Column(pd.DatetimeTZDtype("ns", "UTC"), nullable=False),
            "payload": pa.Column(object),
        },
        checks=[pa.Check(_parent_required, name="parent_required", error="parent_required")],
        strict=True,
        ordered=False,
        coerce=False,
        name="canonical_asset",
    )
