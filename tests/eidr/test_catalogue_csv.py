"""The catalogue CSV contract: a file that breaks it fails with the column named."""

from __future__ import annotations

import pytest

from vodflow.eidr.catalogue_csv import CATALOGUE_COLUMNS, CatalogueError, read_catalogue

HEADER = ",".join(CATALOGUE_COLUMNS)
GOOD = "h-1,movie,The Matrix,1999,136,en,Action|Sci-Fi,tt0133093,,2026-11-01T00:00:00Z"


def _read(tmp_path, text):
    path = tmp_path / "catalogue.csv"
    path.write_text(text, encoding="utf-8")
    return list(read_catalogue(path))


def test_a_good_catalogue_reads(tmp_path):
    (row,) = _read(tmp_path, f"{HEADER}\n{GOOD}\n")
    assert (row.provider_asset_id, row.title, row.release_year, row.runtime_minutes) == ("h-1", "The Matrix", 1999, 136)
    assert row.imdb_id == "tt0133093" and row.eidr_id is None


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(",title", ""), "missing column 'title'"),
        (HEADER + ",rating", "unexpected column 'rating'"),
        (HEADER.replace("title,release_year", "release_year,title"), "column 3 is 'release_year', expected 'title'"),
        (HEADER + ",title", "column 'title' appears 2 times"),
    ],
)
def test_a_broken_header_names_the_column(tmp_path, header, message):
    with pytest.raises(CatalogueError, match=message):
        _read(tmp_path, f"{header}\n{GOOD}\n")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (GOOD.replace(",1999,", ",MCMXCIX,"), "line 2: column 'release_year': 'MCMXCIX' is not an integer"),
        (GOOD.replace(",136,", ",2h16,"), "column 'runtime_minutes'"),
        (GOOD.replace("The Matrix", ""), "line 2: column 'title' is empty"),
        (GOOD.replace(",movie,", ",short-film,"), "column 'asset_type'"),
        (GOOD.replace("tt0133093", "imdb:133093"), "column 'imdb_id'"),
        (GOOD.replace("2026-11-01T00:00:00Z", "yesterday"), "column 'updated_at'"),
        (GOOD.rsplit(",", 1)[0], "9 fields for 10 columns: no value for column 'updated_at'"),
        (GOOD.replace("The Matrix", "Matrix, The"), "11 fields for 10 columns: nothing may follow column 'updated_at'"),
    ],
)
def test_a_broken_value_names_its_line_and_column(tmp_path, line, message):
    with pytest.raises(CatalogueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _read(tmp_path, f"{HEADER}\n{line}\n")


def test_a_repeated_asset_id_is_a_contract_break(tmp_path):
    with pytest.raises(CatalogueError, match="column 'provider_asset_id': 'h-1' repeats line 2"):
        _read(tmp_path, f"{HEADER}\n{GOOD}\n{GOOD}\n")


def test_an_empty_file_says_what_header_it_expected(tmp_path):
    with pytest.raises(CatalogueError, match="catalogue is empty"):
        _read(tmp_path, "")
