"""Ingest files from a drop folder: claim, read, validate, load in ONE transaction, then archive or reject.

Every file ends one of three ways, and nothing is lost on any of them:

* **loaded**: its rows are in ``raw.assets`` (``received = inserted + updated + unchanged + quarantined``, bad rows
  in ``ops.quarantine``), its ledger row committed with them, the file moved to ``archive/``;
* **rejected**: nothing of it is loaded (a whole-file fault, or too many bad rows); the file is moved to
  ``rejected/`` with a ``.reason`` file, the ledger and ``ops.loads`` (status failed) say why;
* **skipped**: another run holds it or has already moved it; this run does not touch it.

An error that is not the file's fault (the database is down, a bug) leaves the file where it is and fails the
run: a re-run reads it again, and the idempotent upsert makes the second read converge.

A large file (harbor) is one transaction read in chunks, so memory stays bounded; small documents (meridian)
are loaded many files to a transaction, since a load per file would cost more than the files.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

from sqlalchemy import Engine

from vodflow.ingest.adi import MAX_DOCUMENT_BYTES
from vodflow.ingest.drop_ledger import LedgerEntry, record_entry, sha256_of, write_entries
from vodflow.ingest.drops import ARCHIVE, REJECTED, DropFolder, FileRejectedError, unsafe_name_reason
from vodflow.ingest.load import LoadContext, LoadCounts, record_failed_load, staged_load
from vodflow.ingest.validate import ValidatedBatch, validate_items
from vodflow.providers.base import field_drift

LOADED = "loaded"
REJECTED_OUTCOME = "rejected"
SKIPPED = "skipped"
DEFAULT_CHUNK_ROWS = 50_000
DEFAULT_FILES_PER_LOAD = 1000


class _DropProvider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def expected_fields(self) -> frozenset[str]: ...

    def map_item(self, item: Mapping[str, Any]) -> dict[str, Any]: ...

    def item_id(self, item: Mapping[str, Any]) -> Any: ...


class StreamProvider(_DropProvider, Protocol):
    """A provider whose files are large and read in chunks (harbor's CSV)."""

    def read_chunks(self, handle: BinaryIO, chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
        """The file's items, ``chunk_rows`` at a time; raises ``FileRejectedError`` for a whole-file fault."""
        ...


class DocumentProvider(_DropProvider, Protocol):
    """A provider whose files are small documents of one item each (meridian's ADI packages)."""

    def parse_document(self, data: bytes) -> dict[str, Any]:
        """One file as one item; raises ``FileRejectedError`` if it cannot be read safely."""
        ...


@dataclass
class FileOutcome:
    """What became of one file (the flow's result, its artifact and events are built from these)."""

    name: str
    outcome: str
    reason: str | None = None
    stored_as: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    load_id: str | None = None
    counts: dict[str, int] | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    field_drift: dict[str, list[str]] = field(default_factory=dict)
    replaced_by: str | None = None
    """A file the producer put in this one's place while it was read: left waiting under this name."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (flow results, artifacts, event payloads)."""
        replaced = {} if self.replaced_by is None else {"replaced_by": self.replaced_by}
        return {
            "file": self.name,
            "outcome": self.outcome,
            "reason": self.reason,
            "stored_as": self.stored_as,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "load_id": self.load_id,
            **replaced,
            **(self.counts or {}),
        }


@dataclass(frozen=True)
class DropJob:
    """Where a run ingests from and who it is (the audit's identity)."""

    engine: Engine
    folder: DropFolder
    flow_run_id: uuid.UUID | None = None

    def context(self) -> LoadContext:
        """A fresh load identity; file loads have no extraction window."""
        now = datetime.now(UTC)
        return LoadContext(self.folder.provider, uuid.uuid4(), now, now, self.flow_run_id)


@dataclass
class _Tally:
    """Rows seen across the chunks of one load, for the reject ratio and the events."""

    received: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    drift: dict[str, set[str]] = field(default_factory=dict)

    def add(self, batch: ValidatedBatch) -> None:
        self.received += batch.received
        self.quarantined += len(batch.quarantined)
        for row in batch.quarantined:
            self.reasons.update({reason.check for reason in row.reasons})

    def add_drift(self, drift: dict[str, list[str]]) -> None:
        for kind, names in drift.items():
            self.drift.setdefault(kind, set()).update(names)

    def drift_lists(self) -> dict[str, list[str]]:
        return {kind: sorted(names) for kind, names in self.drift.items()}

    def reject_ratio_reason(self) -> str | None:
        """Why the load is refused for too many bad rows (the same settings as the API flows), or None."""
        limit = float(os.environ.get("VODFLOW_MAX_REJECT_RATIO", "") or 0.2)
        minimum = int(float(os.environ.get("VODFLOW_REJECT_RATIO_MIN_ROWS", "") or 20))
        if self.received < minimum or self.quarantined <= limit * self.received:
            return None
        return (
            f"too many bad rows: {self.quarantined} of {self.received} failed validation "
            f"({self.quarantined / self.received:.0%} > {limit:.0%}); nothing of the file was loaded"
        )


def _int_env(name: str, default: int) -> int:
    return max(1, int(os.environ.get(name, "") or default))


def reject(
    job: DropJob,
    name: str,
    reason: str,
    sha256: str | None = None,
    size: int | None = None,
    ctx: LoadContext | None = None,
) -> FileOutcome:
    """Move a file to ``rejected/`` with its reason beside it, then record it (the file first: it is the evidence)."""
    folder = job.folder
    stored_as = folder.destination(name, REJECTED)
    folder.move(name, stored_as)
    folder.write_reason(
        stored_as,
        f"{reason}\n\nprovider: {folder.provider}\nfile: {ascii(name) if unsafe_name_reason(name) else name}\n"
        f"sha256: {sha256}\nbytes: {size}\n"
        f"rejected at: {datetime.now(UTC).isoformat()}\nflow run: {job.flow_run_id}\n",
    )
    entry = LedgerEntry(folder.provider, name, sha256, size, REJECTED_OUTCOME, stored_as, reason, None, job.flow_run_id)
    record_entry(job.engine, entry)
    if ctx is not None:
        record_failed_load(job.engine, ctx, f"file {name} rejected: {reason}")
    load_id = None if ctx is None else str(ctx.load_id)
    return FileOutcome(name, REJECTED_OUTCOME, reason, stored_as, sha256, size, load_id)


def _open(job: DropJob, name: str) -> BinaryIO | FileOutcome:
    """The open file, or the outcome that ends it here (gone: skipped; a link, special file, unsafe name: rejected)."""
    unsafe = unsafe_name_reason(name)
    if unsafe is not None and job.folder.exists(name):
        return reject(job, name, unsafe)
    try:
        return job.folder.open_ready(name)
    except FileNotFoundError:
        return FileOutcome(name, SKIPPED, "no longer in the drop folder: another run handled it")
    except FileRejectedError as exc:
        return reject(job, name, exc.reason)


def ingest_stream_file(provider: StreamProvider, job: DropJob, name: str) -> FileOutcome:
    """Load one (possibly huge) file in chunks through one transaction; archive it, or reject it as a whole."""
    opened = _open(job, name)
    if isinstance(opened, FileOutcome):
        return opened
    chunk_rows = _int_env("VODFLOW_DROP_CHUNK_ROWS", DEFAULT_CHUNK_ROWS)
    with opened as handle:
        read = os.fstat(handle.fileno())
        sha256, size = sha256_of(handle)
        ctx = job.context()
        stored_as = job.folder.destination(name, ARCHIVE)
        entry = LedgerEntry(provider.name, name, sha256, size, LOADED, stored_as, None, ctx.load_id, job.flow_run_id)
        tally = _Tally()
        try:
            with staged_load(
                job.engine, ctx, before_commit=lambda conn: write_entries(conn, [entry]), moves_cursor=False
            ) as load:
                for chunk in provider.read_chunks(handle, chunk_rows):
                    batch = validate_items(provider.name, chunk, provider.map_item, id_of=provider.item_id)
                    tally.add(batch)
                    load.add(batch)
                    del batch, chunk
                too_many = tally.reject_ratio_reason()
                if too_many is not None:
                    raise FileRejectedError(too_many)
                counts = load.finish()
        except FileRejectedError as exc:
            return reject(job, name, exc.reason, sha256, size, ctx)
        except Exception as exc:
            _audit_failure(job, ctx, name, exc)
            raise
        newcomer = job.folder.archive_read(name, stored_as, read)
        if newcomer is not None:
            job.folder.keep_copy(handle, stored_as)
    outcome = _loaded(name, stored_as, sha256, size, ctx, counts, tally)
    outcome.replaced_by = newcomer
    return outcome


def _loaded(
    name: str, stored_as: str, sha256: str | None, size: int | None, ctx: LoadContext, counts: LoadCounts, tally: _Tally
) -> FileOutcome:
    return FileOutcome(
        name,
        LOADED,
        None,
        stored_as,
        sha256,
        size,
        str(ctx.load_id),
        counts.as_dict(),
        dict(tally.reasons),
        tally.drift_lists(),
    )


def _audit_failure(job: DropJob, ctx: LoadContext, name: str, exc: Exception) -> None:
    try:
        record_failed_load(job.engine, ctx, f"file {name}: {type(exc).__name__}: {exc}")
    except Exception:  # noqa: S110 - the database itself may be what failed; the original error is raised
        pass


@dataclass
class _Document:
    name: str
    sha256: str
    size: int
    item: dict[str, Any]


def _read_document(provider: DocumentProvider, job: DropJob, name: str) -> _Document | FileOutcome:
    opened = _open(job, name)
    if isinstance(opened, FileOutcome):
        return opened
    with opened as handle:
        sha256, size = sha256_of(handle)
        if size > MAX_DOCUMENT_BYTES:
            return reject(job, name, f"{size:,} bytes: larger than the {MAX_DOCUMENT_BYTES:,}-byte limit", sha256, size)
        data = handle.read()
    try:
        return _Document(name, sha256, size, provider.parse_document(data))
    except FileRejectedError as exc:
        return reject(job, name, exc.reason, sha256, size)


def ingest_document_files(provider: DocumentProvider, job: DropJob, names: list[str]) -> list[FileOutcome]:
    """Parse each file (a bad one is rejected alone), then load the good ones, many to a transaction."""
    per_load = _int_env("VODFLOW_DROP_FILES_PER_LOAD", DEFAULT_FILES_PER_LOAD)
    outcomes: list[FileOutcome] = []
    for start in range(0, len(names), per_load):
        documents: list[_Document] = []
        for name in names[start : start + per_load]:
            read = _read_document(provider, job, name)
            if isinstance(read, FileOutcome):
                outcomes.append(read)
            else:
                documents.append(read)
        if documents:
            outcomes.extend(_load_documents(provider, job, documents))
    return outcomes


def _load_documents(provider: DocumentProvider, job: DropJob, documents: list[_Document]) -> list[FileOutcome]:
    ctx = job.context()
    folder = job.folder
    entries = [
        LedgerEntry(
            provider.name,
            doc.name,
            doc.sha256,
            doc.size,
            LOADED,
            folder.destination(doc.name, ARCHIVE),
            None,
            ctx.load_id,
            job.flow_run_id,
        )
        for doc in documents
    ]
    tally = _Tally()
    items = [doc.item for doc in documents]
    try:
        with staged_load(
            job.engine, ctx, before_commit=lambda conn: write_entries(conn, entries), moves_cursor=False
        ) as load:
            batch = validate_items(provider.name, items, provider.map_item, id_of=provider.item_id)
            tally.add(batch)
            # Only new fields: ADI leaves optional App_Data out when unknown, so "missing" would be noise.
            tally.add_drift({k: v for k, v in field_drift(items, provider.expected_fields).items() if k == "unknown"})
            load.add(batch)
            counts = load.finish()
    except Exception as exc:
        _audit_failure(job, ctx, f"{len(documents)} files", exc)
        raise
    outcomes = []
    for doc, entry in zip(documents, entries, strict=True):
        folder.move(doc.name, entry.stored_as)
        outcomes.append(_loaded(doc.name, entry.stored_as, doc.sha256, doc.size, ctx, counts, tally))
    return outcomes
