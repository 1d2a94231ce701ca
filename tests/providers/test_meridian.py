"""meridian (CableLabs ADI 1.1) through ``ingest-meridian``: files and the HTTP API, parsed safely, versions ordered."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from flows.drops import ingest_meridian
from flows.ingest import RejectRatioExceededError
from tests.providers.conftest import Drops
from tests.providers.helpers import adds_up, ledger, listing, quarantine_checks, quarantined_ids, rows, run
from vodflow.ingest.adi import AdiError, parse_package
from vodflow.ingest.http import ProviderError
from vodflow.providers.meridian import MERIDIAN, run_time_minutes
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox import meridian as sandbox

SIZE = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(
        port=0, state_dir=tmp_path_factory.mktemp("sandbox"), lumina_size=20, atlas_size=12, meridian_size=SIZE
    ) as sandbox_server:
        yield sandbox_server


@pytest.fixture
def admin(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAdmin]:
    monkeypatch.setenv("VODFLOW_MERIDIAN_URL", f"{server.url}/meridian/v1")
    monkeypatch.setenv("VODFLOW_MERIDIAN_PAGE_SIZE", "15")
    with SandboxAdmin(server.url) as client:
        client.reset()
        yield client


def _stored_version(engine: Engine, package_id: str) -> str:
    with engine.connect() as conn:
        payload = conn.execute(
            text("select payload from raw.assets where provider = 'meridian' and provider_asset_id = :id"),
            {"id": package_id},
        ).scalar()
    return f"{payload['package']['Version_Major']}.{payload['package']['Version_Minor']}"


def test_a_file_drop_loads_and_quarantines_the_bad_packages(stack: Engine, drops: Drops) -> None:
    files = sandbox.write_packages(drops.meridian, SIZE)
    bad = {flaw.id for flaw in sandbox.drop_bad_items(SIZE)}
    result, error = run(ingest_meridian, api=False, transform=False)
    assert error is None and result is not None and adds_up(result)
    assert result["received"] == SIZE and result["quarantined"] == len(bad) >= 5
    assert quarantined_ids(stack, "meridian") == bad
    assert rows(stack, "meridian") == SIZE - len(bad)
    assert listing(drops.meridian)["archive"] == sorted(f.path.name for f in files)
    assert {e["outcome"] for e in ledger(stack, "meridian")} == {"loaded"}
    kinds = {flaw.id: flaw.kind for flaw in sandbox.drop_bad_items(SIZE)}
    window = next(pid for pid, kind in kinds.items() if kind == "window_end_before_start")
    run_time = next(pid for pid, kind in kinds.items() if kind == "bad_run_time")
    assert quarantine_checks(stack, "meridian", run_time) == {"runtime_minutes_not_integer"}
    assert quarantine_checks(stack, "meridian", window) == {"mappable"}
    with stack.connect() as conn:
        row = conn.execute(
            text(
                "select title, runtime_minutes, genres, rating, language, provider_updated_at "
                "from raw.assets where provider_asset_id = :id"
            ),
            {"id": files[0].package_id},
        ).one()
        cursor = conn.execute(text("select count(*) from ops.ingest_cursors where provider = 'meridian'")).scalar()
    assert row.title and row.runtime_minutes > 0 and row.rating and row.provider_updated_at.microsecond == 1000
    assert cursor == 0  # files never move the API cursor


def test_versions_in_one_drop_keep_the_newest(stack: Engine, drops: Drops) -> None:
    files = sandbox.write_packages(drops.meridian, 3, versions=3, bad_packages=False)
    result, _ = run(ingest_meridian, api=False, transform=False)
    assert result is not None and adds_up(result)
    assert result["served"] == 9 and result["deduplicated"] == 6 and result["inserted"] == 3
    newest: dict[str, tuple[int, int]] = {}
    for file in files:
        version = tuple(int(part) for part in file.version.split("."))
        newest[file.package_id] = max(newest.get(file.package_id, (0, 0)), version)  # type: ignore[arg-type]
    assert any(v[0] > 1 or v[1] > 1 for v in newest.values())
    for package_id, (major, minor) in newest.items():
        assert _stored_version(stack, package_id) == f"{major}.{minor}"


def test_a_newer_version_replaces_an_older_one_and_a_late_older_one_changes_nothing(
    stack: Engine, drops: Drops, tmp_path: Path
) -> None:
    staging = tmp_path / "outbox"
    files = sandbox.write_packages(staging, 1, versions=2, bad_packages=False)
    older, newer = files
    os.replace(newer.path, drops.meridian / newer.path.name)
    first, _ = run(ingest_meridian, api=False, transform=False)
    assert first is not None and first["inserted"] == 1
    assert _stored_version(stack, newer.package_id) == newer.version
    os.replace(older.path, drops.meridian / older.path.name)
    late, _ = run(ingest_meridian, api=False, transform=False)
    assert late is not None and adds_up(late)
    assert late["inserted"] == late["updated"] == 0 and late["stale"] == 1
    assert _stored_version(stack, newer.package_id) == newer.version


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("truncated", "not well-formed XML"),
        ("xxe", "external entity (XXE) 'xxe'"),
        ("billion_laughs", "an entity (expansion bomb risk)"),
        ("wrong_root", "root element is <{http://www.scte.org/schemas/236/2017/core}ADI3>"),
    ],
)
def test_an_unsafe_or_broken_document_is_rejected_alone(stack: Engine, drops: Drops, fault: str, expected: str) -> None:
    files = sandbox.write_packages(drops.meridian, 5, fault=fault, bad_packages=False)
    result, error = run(ingest_meridian, api=False, transform=False)
    assert result is None and error is not None and expected in error
    broken = files[0].path.name
    assert expected in (drops.meridian / "rejected" / f"{broken}.reason").read_text()
    assert listing(drops.meridian)["archive"] == sorted(f.path.name for f in files[1:])
    assert rows(stack, "meridian") == 4
    outcomes = {e["file_name"]: e["outcome"] for e in ledger(stack, "meridian")}
    assert outcomes == {f.path.name: "rejected" if f is files[0] else "loaded" for f in files}


def test_a_document_without_title_is_quarantined(stack: Engine, drops: Drops) -> None:
    files = sandbox.write_packages(drops.meridian, 3, fault="missing_title", bad_packages=False)
    result, _ = run(ingest_meridian, api=False, transform=False)
    assert result is not None and adds_up(result) and result["quarantined"] == 1
    assert "not_nullable" in quarantine_checks(stack, "meridian", files[0].package_id)


def test_parsing_never_reads_a_local_file_or_expands_entities() -> None:
    secret = "<!DOCTYPE ADI [<!ENTITY x SYSTEM 'file:///etc/hostname'>]><ADI>&x;</ADI>"
    with pytest.raises(AdiError, match="XXE"):
        parse_package(secret.encode())
    with pytest.raises(AdiError, match="exceeds"):
        parse_package(b"<ADI>" + b" " * 6_000_000 + b"</ADI>")
    assert run_time_minutes("01:52:31") == 113 and run_time_minutes("1h52m") == "1h52m"


def test_the_api_loads_the_catalogue_then_only_changes(stack: Engine, drops: Drops, admin: SandboxAdmin) -> None:
    bad = {item["id"] for item in admin.bad_items(provider="meridian")}
    first, _ = run(ingest_meridian, transform=False)
    assert first is not None
    api = first["api"]
    assert adds_up(api) and api["received"] == SIZE and api["quarantined"] == len(bad)
    assert quarantined_ids(stack, "meridian") == bad
    changed = admin.publish(provider="meridian", new=2, changed=3)
    second, _ = run(ingest_meridian, transform=False)
    assert second is not None
    again = second["api"]
    assert adds_up(again) and again["inserted"] == 2 and again["updated"] == 3
    for package_id in changed["changed"]:
        assert _stored_version(stack, package_id) != "1.0"


def test_a_truncated_api_answer_fails_the_run_and_writes_nothing(
    stack: Engine, drops: Drops, admin: SandboxAdmin
) -> None:
    admin.inject_fault("truncated", times=-1, provider="meridian")
    with pytest.raises(ProviderError, match="malformed JSON"):
        ingest_meridian(transform=False)
    admin.clear_faults()
    assert rows(stack, "meridian") == 0


def test_a_truncated_xml_document_is_a_provider_error() -> None:
    class TruncatingClient:
        def get_json(self, path: str, params: dict[str, object], page: str) -> bytes:
            return b'<?xml version="1.0"?><ADI><Metadata><AMS Asset_ID="MRDN1'

    entry = {"package_id": "MRDN1", "version": "1.0", "url": "/meridian/v1/packages/MRDN1/1.0.xml"}
    with pytest.raises(ProviderError, match="not well-formed XML"):
        MERIDIAN._fetch_package(TruncatingClient(), entry)  # type: ignore[arg-type]


def test_malformed_api_documents_are_quarantined_and_too_many_fail_the_run(
    stack: Engine, drops: Drops, admin: SandboxAdmin
) -> None:
    admin.inject_fault("malformed_rows", times=-1, provider="meridian")
    with pytest.raises(RejectRatioExceededError):
        ingest_meridian(transform=False)
    admin.clear_faults()
    assert rows(stack, "meridian") == 0
    with stack.connect() as conn:
        assert conn.execute(text("select count(*) from ops.quarantine where provider = 'meridian'")).scalar() == SIZE


def test_file_loads_do_not_make_the_api_skip_packages(stack: Engine, drops: Drops, admin: SandboxAdmin) -> None:
    sandbox.write_packages(drops.meridian, 5, offset=2000, bad_packages=False)
    result, _ = run(ingest_meridian, transform=False)
    assert result is not None and result["received"] == 5 and result["api"]["received"] == SIZE


def test_the_flow_builds_the_marts(stack: Engine, drops: Drops) -> None:
    sandbox.write_packages(drops.meridian, 10, bad_packages=False)
    result, _ = run(ingest_meridian, api=False)
    assert result is not None and "dbt" in result
    with stack.connect() as conn:
        dim = conn.execute(text("select count(*) from marts.dim_assets where provider = 'meridian'")).scalar()
    assert dim == 10


def test_meridian_is_registered_with_its_drop_extension() -> None:
    assert MERIDIAN.drop_suffixes == (".xml",)
