"""Split a provider batch into canonical rows that load and rows that go to quarantine, with named reasons.

Nothing is dropped: every item the provider served ends up counted as valid, a superseded in-batch duplicate,
or quarantined with every rule it broke.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import pandera.pandas as pa

from vodflow.canonical import CANONICAL_COLUMNS, build_schema, to_typed_frame
from vodflow.ingest.storable import storable_text


class SchemaBugError(RuntimeError):
    """The mapping produced a frame the schema cannot judge row by row (a code bug, not bad data)."""


@dataclass(frozen=True)
class Reason:
    """One rule a row broke."""

    check: str
    column: str | None
    value: str | None

    def as_dict(self) -> dict[str, str | None]:
        """JSON form stored in ``ops.quarantine.reasons``."""
        return {"check": self.check, "column": self.column, "value": self.value}


@dataclass(frozen=True)
class QuarantinedRow:
    """A row that did not pass, kept with the provider's own payload."""

    provider_asset_id: str | None
    reasons: tuple[Reason, ...]
    raw_row: Any
    provider_updated_at: datetime | None = None


@dataclass
class ValidatedBatch:
    """The outcome of validating one batch; ``served == len(valid) + deduplicated + len(quarantined)``."""

    provider: str
    valid: pd.DataFrame
    quarantined: list[QuarantinedRow]
    served: int
    deduplicated: int
    field_drift: dict[str, list[str]] = field(default_factory=dict)
    updated_at_column: str = "provider_updated_at"

    @property
    def received(self) -> int:
        """Rows counted in the audit identity (received = inserted + updated + unchanged + quarantined)."""
        return len(self.valid) + len(self.quarantined)

    @property
    def reject_ratio(self) -> float:
        """Share of received rows that were quarantined."""
        return len(self.quarantined) / self.received if self.received else 0.0

    def max_updated_at(self) -> datetime | None:
        """Newest provider timestamp seen in this batch, valid or not (the next cursor)."""
        stamps = [row.provider_updated_at for row in self.quarantined if row.provider_updated_at is not None]
        if len(self.valid):
            stamps.append(self.valid[self.updated_at_column].max().to_pydatetime())
        return max(stamps) if stamps else None


@dataclass(frozen=True)
class RecordKind:
    """What a batch holds: how to type it, the schema that judges it, its key and its time column."""

    typed_frame: Callable[[Sequence[dict[str, Any]]], tuple[pd.DataFrame, dict[int, list[str]]]]
    schema: Callable[[datetime | None], pa.DataFrameSchema]
    key: str
    updated_at: str
    columns: tuple[str, ...]

    def column_of(self, reason: str) -> str | None:
        """The column a conversion reason (``<column>_not_integer``…) is about."""
        return next((c for c in self.columns if reason.startswith(f"{c}_")), None)


ASSETS = RecordKind(to_typed_frame, build_schema, "provider_asset_id", "provider_updated_at", CANONICAL_COLUMNS)

Mapper = Callable[[Mapping[str, Any]], dict[str, Any]]
IdOf = Callable[[Mapping[str, Any]], Any]


def _short(value: Any) -> str | None:
    """A value as a quarantine row shows it: at most 200 characters, storable (a NUL would fail the write)."""
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, default=str)
        if isinstance(value, list | dict)
        else str(value)
    )
    return storable_text(text[:200])


def _max_length_of(schema: pa.DataFrameSchema, column: str, check: str) -> int | None:
    """The limit of a ``*_max_length`` rule (a statistic of the check, see ``vodflow.canonical``), or None."""
    judged = schema.columns.get(column)
    for rule in judged.checks if judged is not None else []:
        if rule.error == check and "max_length" in (rule.statistics or {}):
            return int(rule.statistics["max_length"])
    return None


def _shown(schema: pa.DataFrameSchema, column: str, check: str, value: Any) -> str | None:
    """The failing value in a reason; a value over a length limit first says its length and the limit.

    A megabyte title shown as its first 200 characters alone would not say what was wrong with it.
    """
    limit = _max_length_of(schema, column, check)
    if limit is not None and isinstance(value, str):
        return _short(f"{len(value):,} characters, limit {limit:,}: {value}")
    return _short(value)


def _default_id(item: Mapping[str, Any]) -> Any:
    return item.get("id")


def _map_all(
    items: Iterable[Any], mapper: Mapper, id_of: IdOf = _default_id
) -> tuple[list[dict[str, Any]], list[QuarantinedRow]]:
    records: list[dict[str, Any]] = []
    unmappable: list[QuarantinedRow] = []
    for item in items:
        try:
            if not isinstance(item, Mapping):
                raise TypeError(f"expected an object, got {type(item).__name__}")
            records.append(mapper(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = Reason("mappable", None, _short(f"{type(exc).__name__}: {exc}"))
            item_id = id_of(item) if isinstance(item, Mapping) else None
            unmappable.append(QuarantinedRow(_short(item_id), (reason,), item))
    return records, unmappable


def validate_items(
    provider: str,
    items: list[Any],
    mapper: Mapper,
    *,
    id_of: IdOf = _default_id,
    repeated: int = 0,
    now: datetime | None = None,
    kind: RecordKind | None = None,
) -> ValidatedBatch:
    """Map provider items to canonical rows, validate them lazily, keep the newest version of each key.

    ``id_of`` names an item that cannot be mapped (so its quarantine row still says which asset it was);
    ``repeated`` counts identical items the extractor already dropped (a page served twice), so the batch still
    accounts for everything the provider served. ``kind`` says what the records are (default: assets).
    """
    kind = kind or ASSETS
    records, quarantined = _map_all(items, mapper, id_of)
    frame, conversion_failures = kind.typed_frame(records)
    reasons: dict[int, list[Reason]] = {
        position: [
            Reason(name, kind.column_of(name), _short(records[position].get(kind.column_of(name) or "")))
            for name in names
        ]
        for position, names in conversion_failures.items()
    }
    schema = kind.schema(now)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        if cases["index"].isna().any():
            unjudged = cases[cases["index"].isna()][["column", "check"]].to_dict("records")
            raise SchemaBugError(f"{provider}: schema could not judge rows: {unjudged}") from errors
        for case in cases.itertuples(index=False):
            row_reasons = reasons.setdefault(int(case.index), [])
            if case.schema_context == "DataFrameSchema":  # a rule across columns: one reason, not one per column
                reason = Reason(str(case.check), None, None)
            else:
                value = _shown(schema, str(case.column), str(case.check), case.failure_case)
                reason = Reason(str(case.check), str(case.column), value)
            if reason not in row_reasons:
                row_reasons.append(reason)
    stamps = frame[kind.updated_at]
    for position, row_reasons in sorted(reasons.items()):
        record = records[position]
        stamp = stamps.iloc[position]
        quarantined.append(
            QuarantinedRow(
                _short(record.get(kind.key)),
                tuple(row_reasons),
                record.get("payload"),
                None if pd.isna(stamp) else pd.Timestamp(stamp).to_pydatetime(),
            )
        )
    valid = frame.drop(index=list(reasons)) if reasons else frame
    before = len(valid)
    valid = valid.sort_values(kind.updated_at, kind="stable").drop_duplicates(kind.key, keep="last")
    return ValidatedBatch(
        provider,
        valid,
        quarantined,
        served=len(items) + repeated,
        deduplicated=before - len(valid) + repeated,
        updated_at_column=kind.updated_at,
    )
