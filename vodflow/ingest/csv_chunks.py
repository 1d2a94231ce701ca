"""Read a CSV file against a fixed header contract, in chunks of rows, in bounded memory.

A file is judged as a whole where a whole-file fault makes every row meaningless (no header, a wrong or
missing column, another delimiter, another encoding, broken quoting): :class:`FileRejectedError` with a reason
that names the problem (and the column). A row with the wrong number of fields is not a file fault: it is yielded
(marked) so that validation quarantines it and the rest of the file loads.

Decoding is strict UTF-8 (a leading BOM is dropped). An encoding error can surface in any chunk, after earlier
chunks were staged: the caller loads a file in one transaction, so a rejection rolls all of it back.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from vodflow.ingest.drops import FileRejectedError

#: A row whose field count does not match the header: ``{MALFORMED_ROW: [fields...]}`` (the mapper rejects it).
MALFORMED_ROW = "_malformed_row"
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "pipes"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: Archives are never unpacked (nothing of a drop is ever written from inside it, so an archive member named
#: ``../../x`` can go nowhere): one that arrives with a ``.csv`` name is refused with what it is.
_ARCHIVE_MAGIC = {b"PK\x03\x04": "a ZIP archive", b"PK\x05\x06": "an empty ZIP archive", b"\x1f\x8b": "a gzip file"}


def _header_reason(header: list[str], expected: tuple[str, ...]) -> str | None:
    if header == list(expected):
        return None
    if len(header) == 1:
        for delimiter, name in _OTHER_DELIMITERS.items():
            if delimiter in header[0]:
                return (
                    f"wrong delimiter: the header is separated by {name} ({delimiter!r}); "
                    "the contract is comma-separated"
                )
    missing = [name for name in expected if name not in header]
    unexpected = [name for name in header if name not in expected]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unexpected:
        shown = ", ".join(repr(name[:40]) for name in unexpected[:10])
        problems.append(f"unexpected column{'s' if len(unexpected) > 1 else ''} {shown}")
    if duplicated:
        problems.append(f"duplicated column{'s' if len(duplicated) > 1 else ''} {', '.join(duplicated)}")
    if not problems:
        problems.append("columns in another order")
    return f"header does not match the contract: {'; '.join(problems)} (expected: {','.join(expected)})"


def _first_invalid_utf8(handle: BinaryIO) -> tuple[int, int, int] | None:
    """(line, byte offset, byte) of the file's first byte that is not UTF-8, read again from the start.

    The text layer decodes blocks of several kilobytes ahead of the csv reader, so neither its error's offset
    nor the reader's line says where the bad byte is; this second pass, run only on error, does.
    """
    handle.seek(0)
    line, offset, pending = 1, 0, b""
    while block := handle.read(1 << 20):
        data = pending + block
        try:
            data.decode("utf-8")
            good, pending = data, b""
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":
                return line + data.count(b"\n", 0, exc.start), offset + exc.start, data[exc.start]
            good, pending = data[: exc.start], data[exc.start :]  # a character cut by the block: read on
        line += good.count(b"\n")
        offset += len(good)
    return (line, offset, pending[0]) if pending else None


def _decode_reason(handle: BinaryIO) -> str:
    found = _first_invalid_utf8(handle)
    where = "" if found is None else f" (byte 0x{found[2]:02x} near line {found[0]}, byte offset {found[1]:,})"
    return f"wrong encoding: not valid UTF-8{where}; the contract is UTF-8, with or without a byte order mark"


def _oversized_field_reason(line: int) -> str:
    # The csv module's own limit (128 KiB by default) bounds the memory one field can take; it is process-wide,
    # so it is read, never raised. A field that long is a broken file (an unclosed quote swallows the lines after
    # it) or an attack, not a catalogue value: the file is refused as a whole.
    return (
        f"a field longer than {csv.field_size_limit():,} characters near line {line} (an unclosed quote, or a "
        "value no catalogue holds): nothing of the file was loaded"
    )


def read_chunks(handle: BinaryIO, expected: tuple[str, ...], chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
    """Yield the file's data rows as dicts keyed by ``expected``, ``chunk_rows`` at a time.

    Blank lines are skipped. A file with a header and no rows yields nothing (it loads zero rows); an empty file
    (no header at all) is rejected.

    Raises:
        FileRejectedError: empty, not UTF-8 (or UTF-16), an archive, a wrong header or delimiter, broken CSV
            quoting, or a field beyond the csv module's size limit.
    """
    start = handle.read(4)
    if start[:2] in _UTF16_BOMS:
        raise FileRejectedError("wrong encoding: UTF-16 (byte order mark); the contract is UTF-8")
    archive = next((what for magic, what in _ARCHIVE_MAGIC.items() if start.startswith(magic)), None)
    if archive is not None:
        raise FileRejectedError(f"{archive}, not a CSV file: archives are never unpacked; drop the CSV file itself")
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise FileRejectedError("empty file: no header line")
        reason = _header_reason(header, expected)
        if reason is not None:
            raise FileRejectedError(reason)
        width = len(expected)
        chunk: list[dict[str, Any]] = []
        for row in reader:
            if not row:
                continue
            chunk.append(dict(zip(expected, row, strict=True)) if len(row) == width else {MALFORMED_ROW: row})
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    except UnicodeDecodeError:
        raise FileRejectedError(_decode_reason(handle)) from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise FileRejectedError(_oversized_field_reason(reader.line_num)) from None
        raise FileRejectedError(f"malformed CSV near line {reader.line_num}: {exc}") from None
    finally:
        text.detach()
