"""Registry lines: what is a record, what is skipped (with its line number), what is dropped."""

from __future__ import annotations

import json

import pytest

from tests.eidr.helpers import eidr
from vodflow.eidr.records import RecordError, parse_line


def test_a_full_line_becomes_a_record():
    line = json.dumps(
        {
            "eidr_id": eidr("m").lower(),
            "referent_type": "Movie",
            "title": "The Matrix",
            "release_year": 1999,
            "runtime_minutes": 136.5,
            "directors": ["Lana Wachowski", "Lilly Wachowski"],
            "language": "en",
            "country": "US",
            "imdb_id": "TT0133093",
        }
    )
    parsed = parse_line(line, 1)
    record = parsed.record
    assert record.eidr_id == eidr("m")
    assert record.title_norm == "matrix"
    assert record.runtime_minutes == 136.5
    assert record.directors == ("Lana Wachowski", "Lilly Wachowski")
    assert record.imdb_id == "tt0133093"
    assert parsed.dropped == ()


def test_only_id_and_title_are_required():
    record = parse_line(json.dumps({"eidr_id": eidr("x"), "title": "X", "release_year": None}), 3).record
    assert (record.referent_type, record.release_year, record.directors) == (None, None, ())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"title": "No ID"}), "missing eidr_id"),
        (json.dumps({"eidr_id": eidr("t"), "title": "  "}), "missing title"),
        (json.dumps({"eidr_id": "10.5240/0000-0000-0000-0000-0000-0", "title": "Bad"}), "invalid eidr_id"),
    ],
)
def test_bad_lines_are_errors_with_their_line_number(line, reason):
    with pytest.raises(RecordError) as caught:
        parse_line(line, 42)
    assert caught.value.line_no == 42
    assert caught.value.reason.startswith(reason)


def test_unusable_optional_values_are_dropped_not_fatal():
    line = json.dumps(
        {"eidr_id": eidr("d"), "title": "D", "release_year": "MMIX", "runtime_minutes": -5, "imdb_id": "nm123"}
    )
    parsed = parse_line(line, 7)
    assert parsed.dropped == ("release_year", "runtime_minutes", "imdb_id")
    assert parsed.record.release_year is None


def test_the_hash_changes_with_content_only():
    base = {"eidr_id": eidr("h"), "title": "H", "release_year": 2000}
    one, same = parse_line(json.dumps(base), 1).record, parse_line(json.dumps(base), 99).record
    other = parse_line(json.dumps({**base, "release_year": 2001}), 1).record
    assert one.record_hash() == same.record_hash() != other.record_hash()


def test_a_numeric_title_is_a_title():
    assert parse_line(json.dumps({"eidr_id": eidr("n"), "title": 1984}), 1).record.title == "1984"
