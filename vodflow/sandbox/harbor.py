r"""The provider "harbor": CSV drops written to a folder (no HTTP API), deterministic, with faults for tests.

The CSV contract (**contract**, parsed by the harbor reader)::

    provider_asset_id,asset_type,title,release_year,runtime_minutes,language,genres,imdb_id,eidr_id,updated_at

UTF-8 with or without a BOM, ``\r\n`` line ends (RFC 4180, Python's ``csv`` default), fields quoted only when
needed. Empty means null. ``language`` is an ISO 639-1/639-2 code or an English language name; ``genres`` is a
comma-separated list (so it is quoted when it holds more than one genre); ``updated_at`` is ISO 8601 with ``Z``
or an offset (10% of rows use ``+01:00``/``+02:00``: the same instant, written in local time).

Rows come from harbor's slice of the catalogue: positions 0 .. 150 of the permutation (the films lumina also
delivers, same imdbID and EIDR ID) then 8000 .. 11000, so a drop of ``rows`` starting at ``offset`` is
``region[offset : offset + rows]``. Imperfections (:mod:`vodflow.sandbox.imperfect`): title casing, articles
moved, ``(HD)``/``[Remastered]``, typos, accents stripped, ``release_year`` empty for 5%; ``imdb_id`` empty for
10%; ``eidr_id`` empty for 45% and without ``10.5240/`` for 3%; ``runtime_minutes`` empty where the source is.
About 1% of rows break the schema on purpose (:class:`HarborBadKind`, see :func:`deliberately_bad`).

Every file is written to a hidden temporary name in the target folder and then ``os.replace``-d into place, so a
reader polling the folder never sees half a file. :func:`write_drop` writes a drop (with a :class:`HarborFault`
if asked); :func:`write_large_drop` streams a file of any size in bounded memory for benchmarks.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from vodflow.contracts import CATALOGUE_CSV_HEADER
from vodflow.eidr.ids import PREFIX
from vodflow.sandbox.atomic import replaced_atomically
from vodflow.sandbox.catalogue import Film, eidr_id, region_films, spread_updated_at, stable_fraction
from vodflow.sandbox.imperfect import (
    Flaw,
    Imperfection,
    drops_year,
    imperfect_title,
    language_value,
    pick_bad,
    select_imperfections,
    wrong_check_character,
)

PROVIDER = "harbor"
HEADER = CATALOGUE_CSV_HEADER
HARBOR_DEFAULT_ROWS = 1000
BAD_SHARE = 0.01
CHANGE_SHARE = 0.10
EIDR_NULL_SHARE = 0.45
EIDR_BARE_SHARE = 0.03
IMDB_NULL_SHARE = 0.10
LOCAL_TIME_SHARE = 0.10
REVISION_START = datetime(2026, 11, 1, tzinfo=UTC)
BOM = "\ufeff"

Row = dict[str, str]
"""One CSV row: every column of :data:`HEADER`, ``""`` for null."""


class HarborBadKind(StrEnum):
    """The ways a deliberately bad harbor row breaks the schema."""

    EMPTY_TITLE = "empty_title"
    RUNTIME_NOT_A_NUMBER = "runtime_not_a_number"
    YEAR_3020 = "year_3020"
    EIDR_CHECK_CHARACTER = "eidr_check_character"
    UNKNOWN_TYPE = "unknown_type"


REASONS: dict[HarborBadKind, str] = {
    HarborBadKind.EMPTY_TITLE: "title is empty",
    HarborBadKind.RUNTIME_NOT_A_NUMBER: "runtime_minutes is '1h 52m', not a number",
    HarborBadKind.YEAR_3020: "release_year is 3020, in the future",
    HarborBadKind.EIDR_CHECK_CHARACTER: "eidr_id has a wrong check character",
    HarborBadKind.UNKNOWN_TYPE: "asset_type is 'trailer', not a known asset type",
}


class HarborFault(StrEnum):
    """What :func:`write_drop` can do to a whole file, for tests of a strict reader."""

    WRONG_HEADER = "wrong_header"
    """Header says ``asset_id`` and ``year`` instead of ``provider_asset_id`` and ``release_year``."""
    MISSING_COLUMN = "missing_column"
    """No ``eidr_id`` column (header and rows have nine fields)."""
    SEMICOLON = "semicolon"
    """``;`` as the delimiter (values with a ``;`` or ``"`` are quoted)."""
    LATIN1 = "latin1"
    """Encoded ISO-8859-1 (no BOM); at least one accented title, so the file is not valid UTF-8."""
    EMPTY = "empty"
    """A zero-byte file."""
    DUPLICATE_ID = "duplicate_id"
    """One ``provider_asset_id`` twice: the OLDER version (``updated_at`` a day earlier, another runtime) last."""
    BAD_VALUE = "bad_value"
    """One row's ``release_year`` is ``MMXI``."""


@dataclass(frozen=True)
class DropFile:
    """A file written by :func:`write_drop` or :func:`write_large_drop`."""

    path: Path
    rows: int
    fault: HarborFault | None = None
    bytes: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form (printed by the CLI)."""
        return {
            "path": str(self.path),
            "rows": self.rows,
            "bytes": self.bytes,
            "fault": None if self.fault is None else self.fault.value,
            "details": self.details,
        }


def asset_id(source_id: int) -> str:
    """``HBR0000372``: harbor's provider_asset_id for a film."""
    return f"HBR{source_id:07d}"


@functools.cache
def _base_updated() -> dict[int, datetime]:
    # over the whole region, so that a film's updated_at does not depend on the drop it is in
    return spread_updated_at(region_films(PROVIDER), f"{PROVIDER}-updated")


def region_size() -> int:
    """How many films harbor's region holds (the most rows a drop can take without cycling)."""
    return len(region_films(PROVIDER))


def drop_films(rows: int, offset: int = 0) -> tuple[Film, ...]:
    """The films of a drop: ``region[offset : offset + rows]``.

    Raises:
        ValueError: if the range is not inside the region.
    """
    films = region_films(PROVIDER)
    if not 0 <= offset < len(films) or not 1 <= rows <= len(films) - offset:
        raise ValueError(f"harbor drops take 1 .. {len(films) - offset} rows from offset 0 .. {len(films) - 1}")
    return films[offset : offset + rows]


def format_updated_at(moment: datetime, key: str) -> str:
    """ISO 8601, ``Z`` for 90% of rows, a +01:00 or +02:00 local time (same instant) for the rest."""
    share = stable_fraction(PROVIDER, "local-time", key)
    if share >= LOCAL_TIME_SHARE:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    hours = 1 if share < LOCAL_TIME_SHARE / 2 else 2
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()


def _eidr_text(film: Film) -> str:
    share = stable_fraction(PROVIDER, "eidr", film.source_id)
    canonical = eidr_id(film.imdb_id)
    if share < EIDR_NULL_SHARE:
        return ""
    if share < EIDR_NULL_SHARE + EIDR_BARE_SHARE:
        return canonical[len(PREFIX) :]
    return canonical


def render_row(
    film: Film,
    revision: int = 0,
    enabled: frozenset[Imperfection] | None = None,
    bad: HarborBadKind | None = None,
) -> Row:
    """One film as a harbor row in drop revision ``revision``, with its imperfections and, if set, its break.

    Revision 0 is the initial state (``updated_at`` spread over 2026-01-01 .. 2026-10-31). Each later revision
    ``r`` changes ~10% of rows (runtime or title casing) and stamps them 2026-11-01 + (r - 1) days; a revision
    is a full snapshot, so it carries the changes of every earlier revision too.
    """
    chosen = select_imperfections(enabled)
    key = asset_id(film.source_id)
    title = imperfect_title(film.title, PROVIDER, key, chosen)
    runtime = film.runtime_min
    updated = _base_updated()[film.source_id]
    if bad is None:
        for round_ in range(1, revision + 1):
            if stable_fraction(PROVIDER, "change", round_, key) >= CHANGE_SHARE:
                continue
            updated = REVISION_START + timedelta(
                days=round_ - 1, seconds=int(stable_fraction(PROVIDER, "change-at", round_, key) * 86400)
            )
            if runtime is not None and stable_fraction(PROVIDER, "change-field", round_, key) < 0.5:
                runtime += 1 + int(stable_fraction(PROVIDER, "runtime", round_, key) * 9)
            else:
                title = title.upper() if title != title.upper() else title.title()
    row = {
        "provider_asset_id": key,
        "asset_type": "movie",
        "title": title,
        "release_year": "" if film.year is None or drops_year(PROVIDER, key, chosen) else str(film.year),
        "runtime_minutes": "" if runtime is None else str(runtime),
        "language": language_value(film.languages, PROVIDER, key, code_share=0.5) or "",
        "genres": ", ".join(film.genres),
        "imdb_id": "" if stable_fraction(PROVIDER, "imdb", film.source_id) < IMDB_NULL_SHARE else film.imdb_id,
        "eidr_id": _eidr_text(film),
        "updated_at": format_updated_at(updated, key),
    }
    if bad is HarborBadKind.EMPTY_TITLE:
        row["title"] = ""
    elif bad is HarborBadKind.RUNTIME_NOT_A_NUMBER:
        minutes = film.runtime_min or 112
        row["runtime_minutes"] = f"{minutes // 60}h {minutes % 60:02d}m"
    elif bad is HarborBadKind.YEAR_3020:
        row["release_year"] = "3020"
    elif bad is HarborBadKind.EIDR_CHECK_CHARACTER:
        row["eidr_id"] = wrong_check_character(eidr_id(film.imdb_id), PROVIDER)
    elif bad is HarborBadKind.UNKNOWN_TYPE:
        row["asset_type"] = "trailer"
    return row


def bad_kinds(films: Sequence[Film]) -> dict[int, HarborBadKind]:
    """Which rows of a drop are broken: ~1% (at least one of each kind), chosen among the drop's rows.

    Like lumina's catalogue, the choice depends on the drop (its rows and offset), not on the film alone.
    """
    keys = [asset_id(film.source_id) for film in films]
    picked = pick_bad(keys, list(HarborBadKind), PROVIDER, BAD_SHARE)
    return {int(key[3:]): HarborBadKind(kind) for key, kind in picked.items()}


def deliberately_bad(rows: int = HARBOR_DEFAULT_ROWS, offset: int = 0) -> list[Flaw]:
    """The deliberately bad rows of a drop written with the same ``rows`` and ``offset`` (any revision)."""
    kinds = bad_kinds(drop_films(rows, offset))
    return sorted(
        (Flaw(asset_id(source), kind.value, REASONS[kind]) for source, kind in kinds.items()), key=lambda f: f.id
    )


def drop_rows(
    rows: int = HARBOR_DEFAULT_ROWS,
    offset: int = 0,
    revision: int = 0,
    imperfections: Iterable[Imperfection | str] | None = None,
    bad_rows: bool = True,
) -> list[Row]:
    """The rows of a drop, in file order (region order), as dicts with every column."""
    if revision < 0:
        raise ValueError(f"revision must be >= 0, got {revision}")
    films = drop_films(rows, offset)
    chosen = select_imperfections(imperfections)
    bad = bad_kinds(films) if bad_rows else {}
    return [render_row(film, revision, chosen, bad.get(film.source_id)) for film in films]


# -- writing -----------------------------------------------------------------------------------------------------


def default_name(rows: int, offset: int, revision: int, fault: HarborFault | None) -> str:
    """``harbor_r000_o00000_n01000.csv`` (revision, offset, rows), plus ``_<fault>`` when one is set."""
    suffix = "" if fault is None else f"_{fault.value}"
    return f"harbor_r{revision:03d}_o{offset:05d}_n{rows:05d}{suffix}.csv"


def _render(table: list[list[str]], delimiter: str) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(table)
    return buffer.getvalue()


def _apply_fault(fault: HarborFault, table: list[list[str]], details: dict[str, Any]) -> tuple[list[list[str]], str]:
    """The table (header first) and delimiter of a faulty drop; ``details`` says what was done."""
    header, body = table[0], table[1:]
    if fault is HarborFault.WRONG_HEADER:
        renamed = {"provider_asset_id": "asset_id", "release_year": "year"}
        details["header"] = [renamed.get(name, name) for name in header]
        return [details["header"], *body], ","
    if fault is HarborFault.MISSING_COLUMN:
        drop = header.index("eidr_id")
        details["missing"] = "eidr_id"
        return [[value for i, value in enumerate(row) if i != drop] for row in table], ","
    if fault is HarborFault.SEMICOLON:
        return table, ";"
    if fault is HarborFault.DUPLICATE_ID:
        index = len(body) // 2
        newer = dict(zip(header, body[index], strict=True))
        older = dict(newer)
        stamp = datetime.fromisoformat(newer["updated_at"].replace("Z", "+00:00")) - timedelta(days=1)
        older["updated_at"] = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        older["runtime_minutes"] = str(int(newer["runtime_minutes"] or "90") + 7)
        details.update(provider_asset_id=newer["provider_asset_id"], newer=newer, older=older)
        return [*table, [older[name] for name in header]], ","
    if fault is HarborFault.BAD_VALUE:
        index = len(body) // 3
        body[index][header.index("release_year")] = "MMXI"
        details.update(provider_asset_id=body[index][0], column="release_year", value="MMXI")
        return table, ","
    if fault is HarborFault.LATIN1 and not any(_latin1_visible(value) for row in body for value in row):
        body[-1][header.index("title")] = next(f.title for f in region_films(PROVIDER) if _latin1_visible(f.title))
        details["accented_title_in"] = body[-1][0]
    return table, ","


def _latin1_visible(text: str) -> bool:
    """Whether ``text`` has a non-ASCII character that Latin-1 can encode (so the encoding shows)."""
    return any(128 <= ord(char) < 256 for char in text)


def write_drop(
    directory: Path | str,
    rows: int = HARBOR_DEFAULT_ROWS,
    *,
    offset: int = 0,
    revision: int = 0,
    bom: bool = False,
    imperfections: Iterable[Imperfection | str] | None = None,
    bad_rows: bool = True,
    fault: HarborFault | str | None = None,
    name: str | None = None,
) -> DropFile:
    """Write one deterministic CSV drop into ``directory`` (write to a temporary name, then rename).

    Args:
        directory: created if missing.
        rows: data rows (harbor's region holds 3150; see :func:`drop_films`).
        offset: first region position; successive offsets deliver new titles.
        revision: 0 for the initial state, ``r`` for a full snapshot after ``r`` rounds of changes.
        bom: start the file with a UTF-8 byte order mark (ignored for the ``latin1`` fault).
        imperfections: which title imperfections to apply (``None``: all; empty: clean titles).
        bad_rows: include the ~1% deliberately bad rows (:func:`deliberately_bad` lists them).
        fault: break the whole file in one way (see :class:`HarborFault`).
        name: file name (default :func:`default_name`).

    Returns:
        What was written; ``details`` says what a fault did (e.g. which id is duplicated).

    Raises:
        ValueError: for rows/offset/revision out of range, or an unknown fault or imperfection.
    """
    kind = None if fault is None else HarborFault(str(fault))
    table = [list(HEADER)] + [list(row.values()) for row in drop_rows(rows, offset, revision, imperfections, bad_rows)]
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    path = target / (name or default_name(rows, offset, revision, kind))
    details: dict[str, Any] = {}
    data = b""
    if kind is not HarborFault.EMPTY:
        table, delimiter = (table, ",") if kind is None else _apply_fault(kind, table, details)
        text = _render(table, delimiter)
        if kind is HarborFault.LATIN1:
            data = text.encode("latin-1", errors="replace")
        else:
            data = ((BOM if bom else "") + text).encode("utf-8")
    with replaced_atomically(path) as handle:
        handle.write(data)
    size = path.stat().st_size
    written_rows = 0 if kind is HarborFault.EMPTY else len(table) - 1
    return DropFile(path, written_rows, kind, size, details)


# -- large files -------------------------------------------------------------------------------------------------

_CHUNK_ROWS = 2000


@functools.cache
def _cycle_rows() -> tuple[tuple[str, ...], ...]:
    """Every row of a full-region drop (revision 0, all imperfections, ~1% bad), as tuples: cycled for big files."""
    return tuple(tuple(row.values()) for row in drop_rows(region_size()))


def iter_large_rows(rows: int | None = None) -> Iterator[Sequence[str]]:
    """Rows for a big file: the full region over and over, the ``n``-th cycle's ids suffixed ``-c<n>`` (from 1).

    Unbounded if ``rows`` is ``None``. Each row is built on the fly: memory does not grow with ``rows``.
    """
    base = _cycle_rows()
    produced = 0
    cycle = 0
    while rows is None or produced < rows:
        for row in base:
            if rows is not None and produced >= rows:
                return
            yield row if cycle == 0 else (f"{row[0]}-c{cycle}", *row[1:])
            produced += 1
        cycle += 1


def write_large_drop(
    directory: Path | str,
    *,
    target_bytes: int | None = None,
    rows: int | None = None,
    bom: bool = False,
    name: str | None = None,
) -> DropFile:
    """Stream a big, valid CSV drop to disk in bounded memory (for the memory benchmark).

    Rows cycle harbor's region with suffixed ids (:func:`iter_large_rows`), so every ``provider_asset_id`` is
    unique. Writing stops after ``rows`` rows, or once the file reaches ``target_bytes`` (checked every 2,000
    rows, so it ends up to ~200 kB bigger); give one of them. About 1 GB is ~10 million rows.

    Raises:
        ValueError: if neither or both of ``target_bytes`` and ``rows`` are given, or one is not positive.
    """
    if (target_bytes is None) == (rows is None):
        raise ValueError("give exactly one of target_bytes and rows")
    if (target_bytes is not None and target_bytes < 1) or (rows is not None and rows < 1):
        raise ValueError("target_bytes and rows must be positive")
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    path = target / (name or f"harbor_large_{rows or target_bytes}{'_rows' if rows else '_bytes'}.csv")
    written = 0
    with replaced_atomically(path) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=False)
        writer = csv.writer(text)
        if bom:
            text.write(BOM)
        writer.writerow(HEADER)
        chunk: list[Sequence[str]] = []
        for row in iter_large_rows(rows):
            chunk.append(row)
            if len(chunk) == _CHUNK_ROWS:
                writer.writerows(chunk)
                written += len(chunk)
                chunk.clear()
                if target_bytes is not None and text.tell() >= target_bytes:
                    break
        writer.writerows(chunk)
        written += len(chunk)
        text.flush()
        text.detach()
    size = path.stat().st_size
    return DropFile(path, written, None, size, {"cycles": (written + region_size() - 1) // region_size()})
