"""Drop-folder rules without a database: ready names, path resolution, submitting files, the deployment trigger."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.providers.conftest import Drops
from vodflow.ingest.csv_chunks import read_chunks
from vodflow.ingest.drops import DropFolder, DropPathError, FileRejectedError, file_providers, folder_for
from vodflow.providers.harbor import HEADER
from vodflow.settings import PROJECT_ROOT


@pytest.fixture
def folder(drops: Drops) -> DropFolder:
    return folder_for("harbor")


def test_file_providers_and_their_extensions() -> None:
    assert file_providers() == {"harbor": (".csv",), "meridian": (".xml",)}
    with pytest.raises(DropPathError, match="does not deliver files"):
        folder_for("lumina")


@pytest.mark.parametrize(
    ("name", "ready"),
    [
        ("drop.csv", True),
        ("DROP.CSV", True),
        (".drop.csv", False),
        (".drop.csv.a1b2.part", False),
        ("drop.csv.tmp", False),
        ("drop.csv.part", False),
        ("drop.tmp", False),
        ("drop.xml", False),
        ("", False),
    ],
)
def test_ready_names(folder: DropFolder, name: str, ready: bool) -> None:
    assert folder.is_ready_name(name) is ready


def test_resolve_accepts_names_absolute_paths_and_the_folder(folder: DropFolder, drops: Drops) -> None:
    (drops.harbor / "b.csv").write_text("x")
    (drops.harbor / "a.csv").write_text("x")
    assert folder.resolve("a.csv") == ["a.csv"]
    assert folder.resolve(str(drops.harbor / "a.csv")) == ["a.csv"]
    assert folder.resolve("./a.csv") == ["a.csv"]
    assert sorted(folder.resolve(".")) == ["a.csv", "b.csv"] == sorted(folder.resolve(str(drops.harbor)))
    assert folder.resolve_all(["a.csv", "a.csv", "b.csv"]) == ["a.csv", "b.csv"]
    assert folder.resolve("not_yet_here.csv") == ["not_yet_here.csv"]  # gone or not yet: the run skips it


@pytest.mark.parametrize(
    "path", ["../x.csv", "/etc/passwd", "/tmp/x.csv", "archive/x.csv", "a/../../x.csv", "x\x00.csv"]
)
def test_resolve_refuses_anything_outside_the_top_level(folder: DropFolder, path: str) -> None:
    with pytest.raises(DropPathError):
        folder.resolve(path)


def test_a_symlinked_subfolder_does_not_lead_outside(folder: DropFolder, drops: Drops, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.csv").write_text("secret")
    (drops.harbor / "sub").symlink_to(outside)
    with pytest.raises(DropPathError):
        folder.resolve("sub/x.csv")


def test_special_files_and_hard_links_are_refused(folder: DropFolder, drops: Drops, tmp_path: Path) -> None:
    import os

    os.mkfifo(drops.harbor / "pipe.csv")
    with pytest.raises(FileRejectedError, match="not a regular file"):
        folder.open_ready("pipe.csv")
    (tmp_path / "original.csv").write_text("x")
    os.link(tmp_path / "original.csv", drops.harbor / "linked.csv")
    with pytest.raises(FileRejectedError, match="hard link"):
        folder.open_ready("linked.csv")
    with pytest.raises(FileNotFoundError):
        folder.open_ready("missing.csv")


def test_submit_copies_in_with_write_then_rename_and_never_overwrites(
    folder: DropFolder, drops: Drops, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "one.csv").write_text("1")
    (outbox / "two.csv").write_text("2")
    (outbox / "skip.txt").write_text("no")
    assert folder.submit_all([outbox]) == ["one.csv", "two.csv"]
    (drops.harbor / "one.csv").write_text("waiting, not yet ingested")
    [again] = folder.submit_all([outbox / "one.csv"])
    assert again != "one.csv" and again.startswith("one.") and again.endswith(".csv")
    assert (drops.harbor / "one.csv").read_text() == "waiting, not yet ingested"
    assert folder.submit_all([drops.harbor / "two.csv"]) == ["two.csv"]  # already in place: used as is
    assert not [p for p in drops.harbor.iterdir() if p.name.endswith(".part")]
    with pytest.raises(DropPathError):
        folder.submit_all([outbox / "skip.txt"])


def test_destination_keeps_an_earlier_copy(folder: DropFolder, drops: Drops) -> None:
    assert folder.destination("a.csv", "archive") == "archive/a.csv"
    (drops.harbor / "archive" / "a.csv").write_text("earlier")
    later = folder.destination("a.csv", "archive")
    assert later.startswith("archive/a.") and later.endswith(".csv") and later != "archive/a.csv"


def test_csv_reader_chunks_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    rows = [",".join(HEADER)] + [f"HBR{n:07d},movie,T,2001,90,en,,,,2026-01-01T00:00:00Z" for n in range(25)]
    path.write_text("\ufeff" + "\r\n".join(rows[:10]) + "\r\n\r\n" + "\r\n".join(rows[10:]) + "\r\n")
    with path.open("rb") as handle:
        chunks = list(read_chunks(handle, HEADER, 10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert chunks[0][0]["provider_asset_id"] == "HBR0000000"


def test_utf16_is_rejected_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(",".join(HEADER), encoding="utf-16")
    with path.open("rb") as handle, pytest.raises(FileRejectedError, match="UTF-16"):
        list(read_chunks(handle, HEADER, 10))


def test_the_deployments_are_triggered_by_the_drop_event() -> None:
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in config["deployments"]}
    for provider, entrypoint in (("harbor", "ingest_harbor"), ("meridian", "ingest_meridian")):
        deployment = deployments[f"ingest-{provider}"]
        assert deployment["entrypoint"] == f"flows/drops.py:{entrypoint}"
        assert deployment["schedules"], "a schedule is the safety net"
        [trigger] = deployment["triggers"]
        assert trigger["match"] == {"prefect.resource.id": f"vodflow.provider.{provider}"}
        assert trigger["expect"] == ["vodflow.drop.received"]
        assert trigger["parameters"] == {"path": "{{ event.payload.path }}"}
