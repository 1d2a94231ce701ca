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


def _decode_reason(exc: UnicodeDecodeError, line: int) -> str:
    byte = exc.object[exc.start : exc.start + 1].hex() if isinstance(exc.object, bytes | bytearray) else "?"
    return (
        f"wrong encoding: not valid UTF-8 (byte 0x{byte} near line {line}); "
        "the contract is UTF-8, with or without a byte order mark"
    )


def read_chunks(handle: BinaryIO, expected: tuple[str, ...], chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
    """Yield the file's data rows as dicts keyed by ``expected``, ``chunk_rows`` at a time.

    Blank lines are skipped. A file with a header and no rows yields nothing (it loads zero rows); an empty file
    (no header at all) is rejected.

    Raises:
        FileRejectedError: empty, not UTF-8 (or UTF-16), a wrong header or delimiter, or broken CSV quoting.
    """
    if handle.read(2) in _UTF16_BOMS:
        raise FileRejectedError("wrong encoding: UTF-16 (byte order mark); the contract is UTF-8")
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
    except UnicodeDecodeError as exc:
        raise FileRejectedError(_decode_reason(exc, reader.line_num + 1)) from None
    except csv.Error as exc:
        raise FileRejectedError(f"malformed CSV near line {reader.line_num}: {exc}") from None
    finally:
        text.detach()
