"""Backfill plans: the windows a range becomes, and every refusal, before any run exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vodflow.orchestration.windows import (
    MAX_WINDOWS,
    BackfillRequestError,
    as_utc,
    parse_chunk,
    plan_backfill,
    window_label,
)
from vodflow.providers import UnknownProviderError


def test_a_week_in_days_is_seven_contiguous_windows() -> None:
    plan = plan_backfill("lumina", "2026-03-01", "2026-03-08", "1d")
    assert [w.label for w in plan.windows] == [f"2026-03-0{d}..2026-03-0{d + 1}" for d in range(1, 8)]
    assert plan.windows[0].start == datetime(2026, 3, 1, tzinfo=UTC)
    assert plan.windows[-1].end == datetime(2026, 3, 8, tzinfo=UTC)
    assert plan.label == "lumina/2026-03-01..2026-03-08"
    assert plan.windows[0].parameters() == {
        "start": "2026-03-01T00:00:00+00:00",
        "end": "2026-03-02T00:00:00+00:00",
        "transform": False,
    }


def test_the_last_window_is_cut_at_the_end() -> None:
    plan = plan_backfill("events", "2026-03-01T00:00", "2026-03-01T15:00", "6h")
    assert [w.label for w in plan.windows] == [
        "2026-03-01T00:00..2026-03-01T06:00",
        "2026-03-01T06:00..2026-03-01T12:00",
        "2026-03-01T12:00..2026-03-01T15:00",
    ]


@given(
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)),
    length=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=200)),
    chunk_hours=st.integers(min_value=1, max_value=24 * 7),
)
def test_windows_cover_the_range_exactly_once(start: datetime, length: timedelta, chunk_hours: int) -> None:
    chunk = timedelta(hours=chunk_hours)
    if -(-length // chunk) > MAX_WINDOWS:
        with pytest.raises(BackfillRequestError, match="more than"):
            plan_backfill("lumina", start, start + length, chunk)
        return
    plan = plan_backfill("lumina", start, start + length, chunk)
    assert plan.windows[0].start == as_utc(start)
    assert plan.windows[-1].end == as_utc(start + length)
    for before, after in zip(plan.windows, plan.windows[1:], strict=False):
        assert before.end == after.start
    assert all(timedelta(0) < w.end - w.start <= chunk for w in plan.windows)
    assert len({w.idempotency_base("lumina") for w in plan.windows}) == len(plan.windows)


def test_naive_times_are_utc_and_offsets_are_converted() -> None:
    assert as_utc(datetime(2026, 3, 1, 12)) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert as_utc("2026-03-01T12:00:00+02:00") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert window_label(datetime(2026, 3, 1), datetime(2026, 3, 2)) == "2026-03-01..2026-03-02"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("2W", timedelta(weeks=2)),
        ("P1D", timedelta(days=1)),
        ("PT6H", timedelta(hours=6)),
    ],
)
def test_chunk_spellings(text: str, expected: timedelta) -> None:
    assert parse_chunk(text) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2026-03-08", "end": "2026-03-01"}, r"start \(2026-03-08T00:00:00\+00:00\) must be before end"),
        ({"start": "2026-03-01", "end": "2026-03-01"}, "must be before end"),
        ({"chunk": "32d"}, r"larger than lumina serves in one window \(31 days"),
        ({"chunk": "1 fortnight"}, "not a duration; use e.g. 30m, 6h, 1d"),
        ({"chunk": "0h"}, "chunk must be positive"),
        ({"start": "2020-01-01", "chunk": "1h"}, "windows of 1:00:00 is more than 1000"),
        ({"max_concurrency": 9}, "max_concurrency must be between 1 and 4"),
        ({"start": "last tuesday"}, "'last tuesday' is not a date"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(kwargs: dict[str, object], message: str) -> None:
    request: dict[str, object] = {"start": "2026-03-01", "end": "2026-03-08", "chunk": "1d", **kwargs}
    concurrency = request.pop("max_concurrency", 2)
    with pytest.raises(BackfillRequestError, match=message):
        plan_backfill("lumina", request["start"], request["end"], request["chunk"], max_concurrency=concurrency)  # type: ignore[arg-type]


def test_file_providers_and_unknown_names_are_refused() -> None:
    with pytest.raises(BackfillRequestError, match=r"harbor delivers CSV files.*vodflow ingest harbor --path"):
        plan_backfill("harbor", "2026-03-01", "2026-03-08")
    with pytest.raises(UnknownProviderError, match="unknown provider 'netflix'; known: lumina, atlas"):
        plan_backfill("netflix", "2026-03-01", "2026-03-08")


def test_a_chunk_larger_for_one_provider_is_fine_for_another() -> None:
    assert len(plan_backfill("atlas", "2026-01-01", "2026-03-01", "2w").windows) == 5
    with pytest.raises(BackfillRequestError, match="meridian serves in one window"):
        plan_backfill("meridian", "2026-01-01", "2026-03-01", "2w")
