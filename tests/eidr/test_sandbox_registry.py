"""The sandbox registry: the providers' films with their EIDR IDs, and filler that never repeats a real title."""

from __future__ import annotations

import json
from itertools import islice

from vodflow.eidr.ids import is_valid
from vodflow.eidr.records import parse_line
from vodflow.eidr.sandbox_registry import filler_records, film_records, write_registry
from vodflow.eidr.titles import normalise_title
from vodflow.sandbox.catalogue import eidr_id, load_films


def test_every_film_appears_once_with_its_sandbox_id():
    records = list(film_records())
    ids = [r["eidr_id"] for r in records]
    assert len(ids) == len(set(ids)) == len({eidr_id(f.imdb_id) for f in load_films()})
    assert all(is_valid(i) for i in ids)
    by_imdb = {r["imdb_id"]: r for r in records}
    film = load_films()[0]
    assert by_imdb[film.imdb_id]["eidr_id"] == eidr_id(film.imdb_id)
    assert any(isinstance(r["runtime_minutes"], float) for r in records)  # registry durations come as floats too


def test_filler_is_deterministic_and_never_a_real_title():
    first = list(filler_records(2000, seed=3))
    assert first == list(filler_records(2000, seed=3)) != list(filler_records(2000, seed=4))
    real = {normalise_title(f.title) for f in load_films()}
    assert not [r for r in first if r["referent_type"] != "Season" and normalise_title(r["title"]) in real]
    assert {r["referent_type"] for r in first} == {"Movie", "Episode", "Series", "Season", "Short"}


def test_the_extract_parses_line_by_line(tmp_path):
    path = tmp_path / "registry.jsonl"
    exclude = {load_films()[0].imdb_id}
    written = write_registry(path, total=len(load_films()) + 100, exclude=exclude)
    with path.open() as handle:
        lines = handle.readlines()
    assert written == len(lines) == len(load_films()) + 100
    assert not any(json.loads(line).get("imdb_id") in exclude for line in lines)
    for number, line in enumerate(islice(lines, 0, None, 97), start=1):
        parse_line(line, number)  # raises on anything the loader would skip
