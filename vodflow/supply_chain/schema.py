"""The canonical supply-chain event and its pandera schema (named rules, like the asset schema's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pandera.pandas as pa

EVENT_TYPES = ("delivered", "qc_passed", "qc_failed", "published")
PROVIDERS = ("lumina", "atlas", "harbor", "meridian")
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "source",
    "provider",
    "provider_asset_id",
    "event_type",
    "reason",
    "platform",
    "occurred_at",
    "payload",
)
_ZONED = r".*(Z|[+-]\d\d:?\d\d)$"


def to_typed_events(records: Sequence[dict[str, Any]]) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """Events as a typed frame; timestamps without a zone are refused (``occurred_at_without_zone``)."""
    frame = pd.DataFrame.from_records(list(records), columns=list(EVENT_COLUMNS))
    frame.index = pd.RangeIndex(len(frame))
    failures: dict[int, list[str]] = {}
    raw = frame["occurred_at"].astype("string")
    zoned = raw.str.fullmatch(_ZONED).fillna(False).astype(bool)
    parsed = pd.to_datetime(raw.where(zoned), errors="coerce", utc=True, format="ISO8601")
    for position in frame.index[raw.notna() & ~zoned]:
        failures.setdefault(int(position), []).append("occurred_at_without_zone")
    for position in frame.index[raw.notna() & zoned & parsed.isna()]:
        failures.setdefault(int(position), []).append("occurred_at_not_timestamp")
    frame["occurred_at"] = parsed.astype(pd.DatetimeTZDtype("ns", "UTC"))
    for column in ("event_id", "source", "provider", "provider_asset_id", "event_type", "reason", "platform"):
        frame[column] = frame[column].astype(pd.StringDtype())
    return frame, failures


def _check(name: str, fn: Any) -> pa.Check:
    return pa.Check(fn, name=name, error=name)


def _reason_iff_qc_failed(frame: pd.DataFrame) -> pd.Series:
    failed = frame["event_type"] == "qc_failed"
    return (failed & frame["reason"].notna()) | (~failed & frame["reason"].isna())


def _platform_iff_published(frame: pd.DataFrame) -> pd.Series:
    published = frame["event_type"] == "published"
    return (published & frame["platform"].notna()) | (~published & frame["platform"].isna())


EVENT_SCHEMA = pa.DataFrameSchema(
    {
        "event_id": pa.Column(pd.StringDtype(), _check("event_id_uuid", lambda s: s.str.fullmatch(r"[0-9a-f-]{36}"))),
        "source": pa.Column(pd.StringDtype()),
        "provider": pa.Column(pd.StringDtype(), _check("provider_known", lambda s: s.isin(PROVIDERS))),
        "provider_asset_id": pa.Column(
            pd.StringDtype(), _check("provider_asset_id_not_blank", lambda s: s.str.strip().str.len() > 0)
        ),
        "event_type": pa.Column(pd.StringDtype(), _check("event_type_known", lambda s: s.isin(EVENT_TYPES))),
        "reason": pa.Column(pd.StringDtype(), nullable=True),
        "platform": pa.Column(pd.StringDtype(), nullable=True),
        "occurred_at": pa.Column(pd.DatetimeTZDtype("ns", "UTC")),
        "payload": pa.Column(object),
    },
    checks=[
        pa.Check(_reason_iff_qc_failed, name="reason_iff_qc_failed", error="reason_iff_qc_failed"),
        pa.Check(_platform_iff_published, name="platform_iff_published", error="platform_iff_published"),
    ],
    strict=True,
    coerce=False,
    name="supply_chain_event",
)
