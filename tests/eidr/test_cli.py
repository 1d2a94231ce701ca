"""``vodflow eidr …`` through typer's runner: what a person types and reads."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from tests.eidr.helpers import eidr, insert_assets, record, write_jsonl
from vodflow.cli import app
from vodflow.eidr.catalogue_csv import CATALOGUE_COLUMNS
from vodflow.eidr.ids import format_id

pytestmark = pytest.mark.timeout(60)
runner = CliRunner()

REGISTRY = [
    record("matrix", "The Matrix", release_year=1999, runtime_minutes=136),
    record("heat95", "Heat", release_year=1995),
    record("heat86", "Heat", release_year=1986),
]


def test_check_prints_each_id_and_fails_on_any_invalid():
    valid = format_id("75C29801BC9D9D37AD48")
    ok = runner.invoke(app, ["eidr", "check", valid, valid.lower()])
    assert ok.exit_code == 0 and ok.stdout.count("\tvalid\t") == 2
    bad = runner.invoke(app, ["eidr", "check", valid, valid[:-1] + "Z", "nope"])
    assert bad.exit_code == 1
    lines = bad.stdout.splitlines()
    assert "eidr_check_character" in lines[1] and "eidr_format" in lines[2]


def test_load_registry_counts_and_reports_bad_lines(db, tmp_path):
    path = write_jsonl(tmp_path / "registry.jsonl", [*REGISTRY, "{oops", {"title": "no id"}])
    result = runner.invoke(app, ["eidr", "load-registry", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 added, 0 changed, 0 unchanged; 2 lines skipped" in result.stdout
    assert "line 4: skipped: not JSON" in result.stderr and "line 5: skipped: missing eidr_id" in result.stderr
    again = runner.invoke(app, ["eidr", "load-registry", str(path)])
    assert "0 added, 0 changed, 3 unchanged" in again.stdout


HEADER = ",".join(CATALOGUE_COLUMNS)


def _catalogue(path, rows, header=HEADER):
    with path.open("w", newline="") as handle:
        handle.write(header + "\n")
        writer = csv.writer(handle)
        for row in rows:
            values = {"asset_type": "movie", "updated_at": "2026-11-01T00:00:00Z", **row}
            writer.writerow([values.get(column, "") for column in CATALOGUE_COLUMNS])
    return path


def test_batch_match_writes_one_outcome_per_row(postgres, tmp_path):
    registry = write_jsonl(tmp_path / "registry.jsonl", REGISTRY)
    catalogue = _catalogue(
        tmp_path / "catalogue.csv",
        [
            {"provider_asset_id": "a", "title": "Matrix, The", "release_year": 1999},
            {"provider_asset_id": "b", "title": "Heat"},
            {"provider_asset_id": "c", "title": "Unknown Film", "release_year": 2001},
            {"provider_asset_id": "d", "title": "Heat", "eidr_id": eidr("heat86").lower()},
            {"provider_asset_id": "e", "title": "Heat", "eidr_id": eidr("heat86")[:-1] + "0"},
            {"provider_asset_id": "f", "title": "Heat", "release_year": 1995, "eidr_id": eidr("elsewhere")},
        ],
    )
    out = tmp_path / "out" / "matches.csv"
    result = runner.invoke(
        app, ["eidr", "match", "--registry", str(registry), "--catalogue", str(catalogue), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == (
            "provider_asset_id",
            "outcome",
            "eidr_id",
            "score",
            "method",
            "candidates",
        )
        rows = {row["provider_asset_id"]: row for row in reader}
    assert (rows["a"]["outcome"], rows["a"]["eidr_id"]) == ("duplicate", eidr("matrix"))
    assert rows["b"]["outcome"] == "potential" and len(json.loads(rows["b"]["candidates"])) == 2
    assert rows["c"]["outcome"] == "none"
    assert (rows["d"]["outcome"], rows["d"]["eidr_id"]) == ("provided", eidr("heat86"))
    assert (rows["e"]["outcome"], rows["e"]["method"]) == ("invalid", "eidr_check_character")
    assert json.loads(rows["e"]["candidates"])  # the title still shows a reviewer what it matches
    assert (rows["f"]["outcome"], rows["f"]["method"]) == ("potential", "provided_not_in_registry")
    assert "6 rows matched against 3 records" in result.stdout


def test_batch_match_rejects_a_catalogue_that_breaks_the_contract(tmp_path):
    registry = write_jsonl(tmp_path / "registry.jsonl", REGISTRY)
    header = HEADER.replace("runtime_minutes", "runtime")
    catalogue = _catalogue(tmp_path / "catalogue.csv", [{"provider_asset_id": "a", "title": "X"}], header)
    out = tmp_path / "matches.csv"
    result = runner.invoke(
        app, ["eidr", "match", "--registry", str(registry), "--catalogue", str(catalogue), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "missing column 'runtime_minutes'" in result.stderr
    assert not out.exists()


def test_review_list_accept_reject(db, tmp_path):
    runner.invoke(app, ["eidr", "load-registry", str(write_jsonl(tmp_path / "r.jsonl", REGISTRY))])
    insert_assets(
        db,
        {"provider": "harbor", "provider_asset_id": "h1", "title": "Heat"},
        {"provider": "harbor", "provider_asset_id": "h2", "title": "HEAT"},
    )
    matched = runner.invoke(app, ["eidr", "match-assets", "--provider", "harbor"])
    assert matched.exit_code == 0 and json.loads(matched.stdout)["potential"] == 2

    listed = runner.invoke(app, ["eidr", "review", "list"])
    assert listed.exit_code == 0 and "harbor/h1" in listed.stdout and "harbor/h2" in listed.stdout
    first, second = sorted(int(line.split()[1]) for line in listed.stdout.splitlines() if "harbor/h" in line)

    accepted = runner.invoke(app, ["eidr", "review", "accept", str(first), "--eidr-id", eidr("heat95"), "--by", "al"])
    assert accepted.exit_code == 0 and eidr("heat95") in accepted.stdout
    rejected = runner.invoke(app, ["eidr", "review", "reject", str(second), "--by", "bo"])
    assert rejected.exit_code == 0 and "rejected" in rejected.stdout
    missing = runner.invoke(app, ["eidr", "review", "reject", "424242", "--by", "bo"])
    assert missing.exit_code == 1 and "no review 424242" in missing.stderr
    assert "harbor/h" not in runner.invoke(app, ["eidr", "review", "list"]).stdout
    assert "accepted" in runner.invoke(app, ["eidr", "review", "list", "--status", "all"]).stdout
