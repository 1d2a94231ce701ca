"""The catalogue CSV the batch matcher reads: harbor's CSV drop contract.

The header must be exactly :data:`CATALOGUE_COLUMNS`, in that order. A file that breaks the contract fails as a
whole, with the offending column named (and the line, for values): a batch answer computed from a misread file
would be worse than none. The ``eidr_id`` column is the exception: its value is judged per row (the batch
reports an invalid ID as the outcome ``invalid``), because flagging bad IDs is part of the job.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vodflow.contracts import ASSET_TYPES, CATALOGUE_CSV_HEADER

CATALOGUE_COLUMNS = CATALOGUE_CSV_HEADER
_IMDB_ID = re.compile(r"^tt\d{7,10}$")
_REQUIRED = ("provider_asset_id", "asset_type", "title", "updated_at")


class CatalogueError(ValueError):
    """The catalogue breaks the CSV contract; the message names the column."""


@dataclass(frozen=True)
class CatalogueRow:
    """One catalogue line, typed; ``eidr_id`` is the provider's value as sent (judged later)."""

    line_no: int
    provider_asset_id: str
    asset_type: str
    title: str
    release_year: int | None
    runtime_minutes: int | None
    language: str | None
    genres: str | None
    imdb_id: str | None
    eidr_id: str | None
    updated_at: datetime


def check_header(header: list[str]) -> None:
    """Raise :class:`CatalogueError` naming the first column that breaks the contract."""
    names = [name.strip() for name in header]
    for name in CATALOGUE_COLUMNS:
        if name not in names:
            raise CatalogueError(f"catalogue header: missing column '{name}'")
    for name in names:
        if name not in CATALOGUE_COLUMNS:
            raise CatalogueError(f"catalogue header: unexpected column '{name}'")
        if names.count(name) > 1:
            raise CatalogueError(f"catalogue header: column '{name}' appears {names.count(name)} times")
    for position, (got, expected) in enumerate(zip(names, CATALOGUE_COLUMNS, strict=True), start=1):
        if got != expected:
            raise CatalogueError(f"catalogue header: column {position} is '{got}', expected '{expected}'")


def _integer(value: str, column: str, line_no: int) -> int | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer():
        raise CatalogueError(f"line {line_no}: column '{column}': {value!r} is not an integer")
    return int(number)


def _row(values: dict[str, str], line_no: int) -> CatalogueRow:
    for column in _REQUIRED:
        if not values[column]:
            raise CatalogueError(f"line {line_no}: column '{column}' is empty")
    if values["asset_type"] not in ASSET_TYPES:
        raise CatalogueError(
            f"line {line_no}: column 'asset_type': {values['asset_type']!r} is not one of {', '.join(ASSET_TYPES)}"
        )
    imdb_id = values["imdb_id"].lower() or None
    if imdb_id is not None and not _IMDB_ID.match(imdb_id):
        raise CatalogueError(f"line {line_no}: column 'imdb_id': {values['imdb_id']!r} is not an IMDb ID")
    try:
        updated_at = datetime.fromisoformat(values["updated_at"])
    except ValueError:
        raise CatalogueError(
            f"line {line_no}: column 'updated_at': {values['updated_at']!r} is not an ISO 8601 timestamp"
        ) from None
    return CatalogueRow(
        line_no=line_no,
        provider_asset_id=values["provider_asset_id"],
        asset_type=values["asset_type"],
        title=values["title"],
        release_year=_integer(values["release_year"], "release_year", line_no),
        runtime_minutes=_integer(values["runtime_minutes"], "runtime_minutes", line_no),
        language=values["language"] or None,
        genres=values["genres"] or None,
        imdb_id=imdb_id,
        eidr_id=values["eidr_id"] or None,
        updated_at=updated_at,
    )


def _field_count_message(line_no: int, count: int) -> str:
    expected = len(CATALOGUE_COLUMNS)
    if count < expected:
        return (
            f"line {line_no}: {count} fields for {expected} columns: no value for column '{CATALOGUE_COLUMNS[count]}'"
        )
    return (
        f"line {line_no}: {count} fields for {expected} columns: nothing may follow column "
        f"'{CATALOGUE_COLUMNS[-1]}' (an unquoted comma?)"
    )


def read_catalogue(path: Path) -> Iterator[CatalogueRow]:
    """Rows of the catalogue at ``path``, checked against the contract as they are read.

    Raises:
        CatalogueError: the header or a value breaks the contract, or a ``provider_asset_id`` repeats.
    """
    seen: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise CatalogueError(f"catalogue is empty: expected the header {','.join(CATALOGUE_COLUMNS)}")
        check_header(header)
        for fields in reader:
            line_no = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(CATALOGUE_COLUMNS):
                raise CatalogueError(_field_count_message(line_no, len(fields)))
            row = _row({name: value.strip() for name, value in zip(CATALOGUE_COLUMNS, fields, strict=True)}, line_no)
            if row.provider_asset_id in seen:
                raise CatalogueError(
                    f"line {line_no}: column 'provider_asset_id': {row.provider_asset_id!r} "
                    f"repeats line {seen[row.provider_asset_id]}"
                )
            seen[row.provider_asset_id] = line_no
            yield row
