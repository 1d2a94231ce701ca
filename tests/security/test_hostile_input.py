"""Hostile input through the real flows: each gets a clear quarantine or rejection reason, and nothing else happens.

Every test drives an ingestion flow (``ingest-lumina``, ``ingest-harbor``, ``ingest-meridian``) on the session's
PostgreSQL and Prefect server, against an in-process sandbox (its ``hostile_rows``, ``invalid_utf8`` and
``nesting_bomb`` faults) or files in a drop folder of the test's own. Each asserts the reason (a quarantine row's
named rule, or the error a person reads), that nothing else happened (the raw and ops tables are the same tables,
holding exactly the good rows; nothing read or written outside the drop folder; no secret file's content in the
database) and that the run's counts add up: received = inserted + updated + unchanged + quarantined.

What happens to each input, and why, is in docs/security.md ("Hostile input").
"""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from flows.drops import DropRejectedError, ingest_harbor, ingest_meridian
from flows.ingest import ingest_lumina
from tests.lumina import lumina_admin, lumina_sandbox
from vodflow.canonical import MAX_TITLE_LENGTH
from vodflow.dbt import ensure_dbt_concurrency_limit
from vodflow.ingest.drops import DropPathError
from vodflow.ingest.http import MAX_JSON_DEPTH, ProviderError
from vodflow.providers.harbor import HEADER
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox import harbor as harbor_sandbox
from vodflow.sandbox import meridian as meridian_sandbox
from vodflow.sandbox.hostile import HOSTILE_TITLES, ONE_MEGABYTE, hostile_items
from vodflow.settings import Settings

SIZE = 24
#: Hostile titles that break a named rule; the others are data and are stored verbatim.
QUARANTINED = {
    "nul": "title_no_control_characters",
    "terminal_escape": "title_no_control_characters",
    "c1_control": "title_no_control_characters",
    "bidi_override": "title_no_bidi_override",
    "unpaired_surrogate": "title_valid_unicode",
    "one_megabyte": "title_max_length",
}
SQL_TITLES = ("sql_drop_table", "sql_or_true", "sql_dollar_quote")
KEPT = (*SQL_TITLES, "literal_backslash_u0000", "mixed_direction")
SECRET = "canary-hostile-input-7f3a9c"


# -- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with lumina_sandbox(tmp_path_factory.mktemp("sandbox"), SIZE) as server:
        yield server


@pytest.fixture
def admin(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAdmin]:
    # One page holds the catalogue: one fault covers it. Every title of the answer is hostile and half of them
    # break a rule: above the default reject ratio (20%) the run would refuse the whole batch (its own protection,
    # tested elsewhere); here each row is judged.
    with lumina_admin(sandbox, monkeypatch, VODFLOW_LUMINA_PAGE_SIZE="100", VODFLOW_MAX_REJECT_RATIO="0.9") as client:
        yield client


@pytest.fixture
def stack(db: Engine, prefect_server: None, postgres: Settings) -> Engine:
    ensure_dbt_concurrency_limit()
    return db


@dataclass(frozen=True)
class Folders:
    """This test's drop folders, and a folder beside them that nothing may read from or write to."""

    harbor: Path
    meridian: Path
    outside: Path


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Folders:
    made = Folders(tmp_path / "drops" / "harbor", tmp_path / "drops" / "meridian", tmp_path / "outside")
    for provider, folder in (("HARBOR", made.harbor), ("MERIDIAN", made.meridian)):
        folder.mkdir(parents=True)
        monkeypatch.setenv(f"VODFLOW_{provider}_DROP_DIR", str(folder))
    made.outside.mkdir()
    return made


# -- what "nothing else happened" means ----------------------------------------------------------------------------


def relations(engine: Engine) -> set[tuple[str, str, str]]:
    """Every table, index, sequence and view of the raw, ops and public schemas, and which schemas exist."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "select n.nspname, c.relname, c.relkind::text from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('raw', 'ops', 'public')"
            )
        ).all()
        schemas = conn.execute(
            text("select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema'")
        ).scalars()
        return {(str(s), str(r), str(k)) for s, r, k in found} | {("schema", str(s), "") for s in schemas}


def raw_ids(engine: Engine) -> dict[str, set[str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("select provider, provider_asset_id from raw.assets")).all()
    result: dict[str, set[str]] = {}
    for provider, asset_id in rows:
        result.setdefault(provider, set()).add(asset_id)
    return result


def loads(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text("select * from ops.loads order by started_at")).mappings()]


def quarantine(engine: Engine, provider: str) -> dict[str, dict[str, Any]]:
    """Quarantined rows by asset ID: their reasons (check → reason) and raw row."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("select provider_asset_id, reasons, raw_row from ops.quarantine where provider = :p"), {"p": provider}
        ).all()
    return {asset_id: {"reasons": {r["check"]: r for r in reasons}, "raw": raw} for asset_id, reasons, raw in rows}


def ledger(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text("select * from ops.drop_files order by drop_file_id")).mappings()]


def adds_up(counts: dict[str, Any]) -> bool:
    return bool(
        counts["received"] == counts["inserted"] + counts["updated"] + counts["unchanged"] + counts["quarantined"]
    )


def holds(engine: Engine, needle: str) -> list[str]:
    """The raw and ops tables holding ``needle`` anywhere in a row's text."""
    with engine.connect() as conn:
        tables = conn.execute(
            text("select format('%I.%I', schemaname, tablename) from pg_tables where schemaname in ('raw', 'ops')")
        ).scalars()
        return [
            table
            for table in list(tables)
            if conn.execute(
                text(f"select count(*) from {table} t where t::text like :n"), {"n": f"%{needle}%"}
            ).scalar()
        ]


def nothing_else(engine: Engine, before: set[tuple[str, str, str]], good: dict[str, set[str]]) -> None:
    """The same relations as before the run, exactly the good rows in raw.assets, and every load adds up."""
    assert relations(engine) == before
    assert raw_ids(engine) == {provider: ids for provider, ids in good.items() if ids}
    assert all(adds_up(load) for load in loads(engine))


# -- the hostile lumina answer -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """The lumina items the flow received under ``hostile_rows``, and what must become of each."""

    items: dict[str, dict[str, Any]]
    name_of: dict[str, str]
    """Item ID → the hostile title's name in HOSTILE_TITLES."""
    bad_anyway: set[str]
    """Items the sandbox breaks on purpose in another field than the title: quarantined whatever their title."""

    def ids(self, *names: str) -> set[str]:
        return {item_id for item_id, name in self.name_of.items() if name in names}

    @property
    def good(self) -> set[str]:
        return {i for i, name in self.name_of.items() if name not in QUARANTINED and i not in self.bad_anyway}


def served(sandbox: SandboxServer, admin: SandboxAdmin) -> Served:
    """The answer the flow will get: the sandbox's catalogue page with the fault's titles (hostile_items)."""
    page = httpx.get(f"{sandbox.url}/lumina/v1/titles", params={"page": 1, "page_size": 100}, timeout=10).json()
    assert page["next_page"] is None and len(page["items"]) == SIZE
    items = {item["id"]: item for item in hostile_items(page["items"])}
    by_title = {title: name for name, title in HOSTILE_TITLES.items()}
    bad = {b["id"] for b in admin.bad_items() if b["kind"] != "empty_title"}
    return Served(items, {i: by_title[item["title"]] for i, item in items.items()}, bad)


def run_hostile_lumina(stack: Engine, sandbox: SandboxServer, admin: SandboxAdmin, **params: Any) -> Served:
    """One ingest-lumina run whose answer carries every hostile title; asserts its counts and its untouched DB."""
    before = relations(stack)
    answer = served(sandbox, admin)
    assert set(answer.name_of.values()) == set(HOSTILE_TITLES)  # every hostile title is in this run
    admin.inject_fault("hostile_rows")
    result = ingest_lumina(**params)
    assert adds_up(result) and result["received"] == SIZE
    assert result["quarantined"] == SIZE - len(answer.good) == len(quarantine(stack, "lumina"))
    assert result["inserted"] == len(answer.good)
    [load] = loads(stack)
    assert load["status"] == "succeeded" and adds_up(load) and load["received"] == SIZE
    if not params.get("transform", True):
        nothing_else(stack, before, {"lumina": answer.good})
    return answer


# -- SQL-looking titles --------------------------------------------------------------------------------------------


def test_sql_looking_titles_are_stored_verbatim_and_drop_nothing(
    stack: Engine, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    before = relations(stack)
    answer = run_hostile_lumina(stack, sandbox, admin, transform=True)
    stored = answer.ids(*SQL_TITLES) - answer.bad_anyway
    assert stored, "the run must hold SQL-looking titles that are otherwise good"
    with stack.connect() as conn:
        for asset_id in stored:
            title, payload_title, mart_title = conn.execute(
                text(
                    "select a.title, a.payload ->> 'title', d.title from raw.assets a "
                    "join marts.dim_assets d using (provider, provider_asset_id) "
                    "where a.provider = 'lumina' and a.provider_asset_id = :id"
                ),
                {"id": asset_id},
            ).one()
            assert title == payload_title == mart_title == HOSTILE_TITLES[answer.name_of[asset_id]]
        # a parameterised lookup by the hostile text finds exactly its rows: it is data, compared as data
        found = conn.execute(
            text("select count(*) from raw.assets where title = :t"), {"t": HOSTILE_TITLES["sql_drop_table"]}
        ).scalar()
    assert found == len(answer.ids("sql_drop_table") - answer.bad_anyway)
    assert {r for r in relations(stack) if r[0] in ("raw", "ops", "public")} == {
        r for r in before if r[0] in ("raw", "ops", "public")
    }
    assert raw_ids(stack) == {"lumina": answer.good}


# -- control characters --------------------------------------------------------------------------------------------


def test_control_characters_and_bidi_overrides_are_quarantined_by_named_rules(
    stack: Engine, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    answer = run_hostile_lumina(stack, sandbox, admin, transform=False)
    held = quarantine(stack, "lumina")
    for name in ("nul", "terminal_escape", "c1_control", "bidi_override", "unpaired_surrogate"):
        for asset_id in answer.ids(name):
            assert QUARANTINED[name] in held[asset_id]["reasons"], (name, held[asset_id]["reasons"])
    # NUL and the unpaired surrogate cannot be stored in PostgreSQL: the evidence shows U+FFFD in their place
    nul = next(iter(answer.ids("nul")))
    assert held[nul]["raw"]["title"] == "Before\ufffdAfter"
    assert held[nul]["reasons"]["title_no_control_characters"]["value"] == "Before\ufffdAfter"
    surrogate = next(iter(answer.ids("unpaired_surrogate")))
    assert held[surrogate]["raw"]["title"] == "Broken \ufffd Text"
    assert held[surrogate]["raw"]["id"] == surrogate  # the rest of the payload is intact
    # kept: tab, isolates, marks, joiners (mixed_direction) and a literal backslash-u0000 (six characters)
    with stack.connect() as conn:
        for name in ("literal_backslash_u0000", "mixed_direction"):
            for asset_id in answer.ids(name) - answer.bad_anyway:
                title, payload_title = conn.execute(
                    text("select title, payload ->> 'title' from raw.assets where provider_asset_id = :id"),
                    {"id": asset_id},
                ).one()
                assert title == payload_title == HOSTILE_TITLES[name]


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows([[row[c] for c in HEADER] for row in rows])
    return out.getvalue().encode("utf-8", "surrogatepass")


def _good_rows(count: int) -> list[dict[str, Any]]:
    return [dict(row) for row in harbor_sandbox.drop_rows(count, 0, 0, imperfections=(), bad_rows=False)]


def test_control_characters_in_a_csv_drop_are_quarantined_row_by_row(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    rows = _good_rows(12)
    hostile = {
        0: ("title", "Bell\x07 and NUL\x00", "title_no_control_characters"),
        1: ("provider_asset_id", "HBR\x00NUL", "provider_asset_id_no_control_characters"),
        2: ("genres", "Drama,Com\x00edy", "genres_text"),
        3: ("genres", "Drama,\u202eydemoc", "genres_text"),
        4: ("title", "Escape \x1b]0;owned\x07", "title_no_control_characters"),
    }
    for position, (column, value, _) in hostile.items():
        rows[position][column] = value
    kept = "Two\r\nlines,\ta tab and a \u200fmark"  # whitespace and marks are text: kept verbatim
    rows[5]["title"] = kept
    (folders.harbor / "controls.csv").write_bytes(_csv(rows))
    result = ingest_harbor(path="controls.csv", transform=False)
    assert adds_up(result) and result["received"] == 12 and result["quarantined"] == len(hostile)
    held = quarantine(stack, "harbor")
    for position, (column, _, check) in hostile.items():
        asset_id = rows[position]["provider_asset_id"].replace("\x00", "\ufffd")
        assert check in held[asset_id]["reasons"], (column, held[asset_id]["reasons"])
        assert "\x00" not in str(held[asset_id])
    good = {row["provider_asset_id"] for i, row in enumerate(rows) if i not in hostile}
    nothing_else(stack, before, {"harbor": good})
    assert [(e["outcome"], e["file_name"]) for e in ledger(stack)] == [("loaded", "controls.csv")]
    with stack.connect() as conn:
        stored = conn.execute(
            text("select title from raw.assets where provider_asset_id = :id"), {"id": rows[5]["provider_asset_id"]}
        ).scalar()
    assert stored == kept


# -- a one-megabyte title ------------------------------------------------------------------------------------------


def test_a_megabyte_title_is_quarantined_naming_the_limit(
    stack: Engine, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    answer = run_hostile_lumina(stack, sandbox, admin, transform=False)
    held = quarantine(stack, "lumina")
    for asset_id in answer.ids("one_megabyte"):
        reason = held[asset_id]["reasons"]["title_max_length"]
        assert reason["column"] == "title"
        assert reason["value"].startswith(f"{ONE_MEGABYTE:,} characters, limit {MAX_TITLE_LENGTH:,}: AAAA")
        assert len(reason["value"]) <= 200


def test_an_overlong_title_in_a_csv_drop_is_quarantined_and_a_megabyte_field_refuses_the_file(
    stack: Engine, folders: Folders
) -> None:
    before = relations(stack)
    rows = _good_rows(6)
    rows[0]["title"] = "B" * 5000
    (folders.harbor / "long.csv").write_bytes(_csv(rows))
    loaded = ingest_harbor(path="long.csv", transform=False)
    assert adds_up(loaded) and loaded["quarantined"] == 1 and loaded["inserted"] == 5
    reason = quarantine(stack, "harbor")[rows[0]["provider_asset_id"]]["reasons"]["title_max_length"]
    assert reason["value"].startswith(f"5,000 characters, limit {MAX_TITLE_LENGTH:,}: BBB")

    rows = _good_rows(12)[6:]
    rows[2]["title"] = "C" * ONE_MEGABYTE
    (folders.harbor / "megabyte.csv").write_bytes(_csv(rows))
    with pytest.raises(DropRejectedError, match="a field longer than 131,072 characters near line 4"):
        ingest_harbor(path="megabyte.csv", transform=False)
    reason_file = (folders.harbor / "rejected" / "megabyte.csv.reason").read_text()
    assert "a field longer than 131,072 characters" in reason_file
    good = {row["provider_asset_id"] for row in _good_rows(6)[1:]}
    nothing_else(stack, before, {"harbor": good})
    assert [e["outcome"] for e in ledger(stack)] == ["loaded", "rejected"]
    assert loads(stack)[-1]["status"] == "failed" and "a field longer than" in loads(stack)[-1]["error"]


# -- invalid UTF-8 -------------------------------------------------------------------------------------------------


def test_invalid_utf8_in_an_api_page_fails_the_run_naming_the_byte_and_the_page_loads_once_fixed(
    stack: Engine, sandbox: SandboxServer, admin: SandboxAdmin
) -> None:
    before = relations(stack)
    admin.inject_fault("invalid_utf8")
    with pytest.raises(ProviderError, match=r"provider lumina, page 1: body is not valid UTF-8 \(byte 0xed at offset"):
        ingest_lumina(transform=False)
    [failed] = loads(stack)
    assert failed["status"] == "failed" and "not valid UTF-8 (byte 0xed" in failed["error"]
    assert adds_up(failed) and failed["received"] == 0
    nothing_else(stack, before, {})
    with stack.connect() as conn:
        assert conn.execute(text("select count(*) from ops.ingest_cursors")).scalar() == 0
    # the page did not vanish: the next run (the provider fixed it) reads every item of it
    again = ingest_lumina(transform=False)
    assert adds_up(again) and again["received"] == SIZE and again["inserted"] == SIZE - len(admin.bad_items())


def test_invalid_utf8_in_a_csv_drop_rejects_the_file_naming_the_byte(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    rows = _good_rows(5)
    rows[2]["title"] = "Broken \ud800 surrogate"  # written as the bytes ED A0 80: UTF-8 forbids them
    data = _csv(rows)
    assert b"\xed\xa0\x80" in data
    (folders.harbor / "surrogate.csv").write_bytes(data)
    with pytest.raises(DropRejectedError, match=r"not valid UTF-8 \(byte 0xed near line 4, byte offset"):
        ingest_harbor(path="surrogate.csv", transform=False)
    assert (folders.harbor / "rejected" / "surrogate.csv").read_bytes() == data  # the evidence, unchanged
    [entry] = ledger(stack)
    assert entry["outcome"] == "rejected" and "not valid UTF-8" in entry["reason"]
    [failed] = loads(stack)
    assert failed["status"] == "failed" and adds_up(failed) and failed["received"] == 0
    nothing_else(stack, before, {})


# -- XXE and entity bombs in ADI packages --------------------------------------------------------------------------


def _package_text(folders: Folders) -> str:
    """A good ADI package's text (written beside the drop folder, not in it)."""
    [package] = meridian_sandbox.write_packages(folders.outside / "source", 1, offset=40, bad_packages=False)
    return package.path.read_text()


def _with_doctype(document: str, doctype: str, title: str) -> bytes:
    head = '<!DOCTYPE ADI SYSTEM "ADI.DTD">\n'
    assert head in document
    document = document.replace(head, doctype, 1)
    start = document.index('Name="Title" Value="') + len('Name="Title" Value="')
    end = document.index('"', start)
    return (document[:start] + title + document[end:]).encode()


def _ingest_meridian_files(stack: Engine, folders: Folders, hostile: dict[str, bytes]) -> tuple[str, list[str]]:
    """Three good packages and the hostile files in the drop folder; one run: its error, the good package IDs."""
    good = meridian_sandbox.write_packages(folders.meridian, 3, bad_packages=False)
    for name, data in hostile.items():
        (folders.meridian / name).write_bytes(data)
    with pytest.raises(DropRejectedError) as raised:
        ingest_meridian(api=False, transform=False)
    return str(raised.value), [package.package_id for package in good]


def test_xxe_in_an_adi_package_is_refused_and_the_local_file_never_read(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    secret = folders.outside / "secret.txt"
    secret.write_text(f"{SECRET}\n")
    dtd = folders.outside / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak "{SECRET}">\n')
    document = _package_text(folders)
    hostile = {
        "xxe-file.xml": _with_doctype(document, f'<!DOCTYPE ADI [<!ENTITY xxe SYSTEM "file://{secret}">]>\n', "&xxe;"),
        "xxe-passwd.xml": _with_doctype(document, '<!DOCTYPE ADI [<!ENTITY p SYSTEM "file:///etc/passwd">]>\n', "&p;"),
        "xxe-parameter.xml": _with_doctype(
            document, f'<!DOCTYPE ADI [<!ENTITY % remote SYSTEM "file://{dtd}"> %remote;]>\n', "&leak;"
        ),
        # an external DTD is never fetched: the entity it would define is undefined
        "xxe-external-dtd.xml": _with_doctype(document, f'<!DOCTYPE ADI SYSTEM "file://{dtd}">\n', "x").replace(
            b"    <Metadata>\n", b"    <Metadata>&leak;\n", 1
        ),
    }
    in_attribute = _with_doctype(document, f'<!DOCTYPE ADI SYSTEM "file://{dtd}">\n', "&leak;")
    (folders.meridian / "xxe-external-dtd-attribute.xml").write_bytes(in_attribute)
    error, good = _ingest_meridian_files(stack, folders, hostile)
    assert "4 of 8 files rejected" in error
    reasons = {e["file_name"]: e["reason"] for e in ledger(stack) if e["outcome"] == "rejected"}
    assert set(reasons) == set(hostile)
    assert "unsafe XML refused: the document declares an external entity (XXE) 'xxe'" in reasons["xxe-file.xml"]
    assert "external entity (XXE) 'p'" in reasons["xxe-passwd.xml"]
    assert "external entity (XXE) 'remote'" in reasons["xxe-parameter.xml"]
    assert "not well-formed XML (truncated or corrupt): undefined entity &leak;" in reasons["xxe-external-dtd.xml"]
    # in an attribute, expat drops an entity an external DTD might define: the title is empty, so quarantined
    [held] = quarantine(stack, "meridian").values()
    assert set(held["reasons"]) == {"title_not_blank"} and held["raw"]["Title"] == ""
    assert holds(stack, SECRET) == [] and holds(stack, "root:x:0:0") == []
    for name in hostile:
        assert SECRET not in (folders.meridian / "rejected" / f"{name}.reason").read_text()
    nothing_else(stack, before, {"meridian": set(good)})
    [load] = loads(stack)
    assert adds_up(load) and (load["received"], load["inserted"], load["quarantined"]) == (4, 3, 1)


def test_entity_expansion_bombs_are_refused_in_bounded_memory(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    document = _package_text(folders)
    laughs = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    quadratic = "x" * 100_000
    hostile = {
        "billion-laughs.xml": _with_doctype(
            document, f'<!DOCTYPE ADI [<!ENTITY lol0 "lol">{laughs}]>\n', "&lol9;"
        ),  # 10^9 "lol"s: 3 GB if expanded
        "quadratic.xml": _with_doctype(
            document, f'<!DOCTYPE ADI [<!ENTITY big "{quadratic}">]>\n', "&big;" * 20_000
        ),  # 2 GB if expanded
    }
    tracemalloc.start()
    try:
        error, good = _ingest_meridian_files(stack, folders, hostile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak:,} bytes: the parser expanded something"
    assert "2 of 5 files rejected" in error
    reasons = {e["file_name"]: e["reason"] for e in ledger(stack) if e["outcome"] == "rejected"}
    assert reasons == {
        "billion-laughs.xml": "unsafe XML refused: the document declares an entity (expansion bomb risk) 'lol0'",
        "quadratic.xml": "unsafe XML refused: the document declares an entity (expansion bomb risk) 'big'",
    }
    nothing_else(stack, before, {"meridian": set(good)})


# -- path tricks, links and archives in drop file names ------------------------------------------------------------


def _outside_state(folders: Folders) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folders.outside)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folders.outside.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd.csv",
        "../outside/victim.csv",
        "/etc/passwd",
        "OUTSIDE/victim.csv",  # an absolute path to a file outside (filled in below)
        "archive/../../outside/victim.csv",
        "victim\x00.csv",
    ],
)
def test_paths_that_lead_out_of_the_drop_folder_are_refused_before_a_byte_is_read(
    stack: Engine, folders: Folders, path: str
) -> None:
    before = relations(stack)
    victim = folders.outside / "victim.csv"
    victim.write_bytes(_csv(_good_rows(3)))
    path = path.replace("OUTSIDE", str(folders.outside))
    state = _outside_state(folders)
    with pytest.raises(DropPathError) as raised:
        ingest_harbor(path=path, transform=False)
    message = str(raised.value)
    assert "not a file at the top level" in message or "NUL" in message or "not a harbor drop file" in message
    assert _outside_state(folders) == state
    assert sorted(p.name for p in folders.harbor.iterdir()) == []
    assert ledger(stack) == [] and loads(stack) == []
    nothing_else(stack, before, {})


def test_a_symlink_to_a_file_outside_is_rejected_unread(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    secret = folders.outside / "secret.csv"
    rows = _good_rows(3)
    rows[0]["title"] = SECRET
    secret.write_bytes(_csv(rows))
    state = _outside_state(folders)
    (folders.harbor / "innocent.csv").symlink_to(secret)
    with pytest.raises(DropRejectedError, match="a symbolic link: only regular files are read, never links"):
        ingest_harbor(transform=False)
    assert _outside_state(folders) == state
    assert (folders.harbor / "rejected" / "innocent.csv").is_symlink()  # the link moved, its target untouched
    [entry] = ledger(stack)
    assert entry["outcome"] == "rejected" and entry["sha256"] is None  # never opened
    assert holds(stack, SECRET) == []
    nothing_else(stack, before, {})


@pytest.mark.parametrize("subfolder", ["archive", "rejected"])
def test_a_linked_archive_or_rejected_folder_cannot_move_files_out(
    stack: Engine, folders: Folders, subfolder: str
) -> None:
    before = relations(stack)
    (folders.harbor / subfolder).symlink_to(folders.outside, target_is_directory=True)
    data = _csv(_good_rows(4)) if subfolder == "archive" else b"not,a,catalogue\r\n1,2,3\r\n"
    (folders.harbor / "drop.csv").write_bytes(data)
    with pytest.raises(DropPathError, match=f"{subfolder}/ in the harbor drop folder .* is a symbolic link"):
        ingest_harbor(path="drop.csv", transform=False)
    assert list(folders.outside.iterdir()) == []  # nothing written through the link
    assert (folders.harbor / "drop.csv").read_bytes() == data  # the file waits where it was
    assert ledger(stack) == []
    assert all(load["status"] == "failed" and load["inserted"] == 0 for load in loads(stack))
    nothing_else(stack, before, {})


def test_a_file_name_with_a_control_character_is_rejected_unread(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    name = "evil\nsha256: forged\x1b[2J.csv"
    (folders.harbor / name).write_bytes(_csv(_good_rows(3)))
    with pytest.raises(DropRejectedError, match=r"control character \(U\+000A\)"):
        ingest_harbor(transform=False)
    [entry] = ledger(stack)
    assert entry["outcome"] == "rejected" and entry["file_name"] == name and entry["sha256"] is None
    reason = (folders.harbor / "rejected" / f"{name}.reason").read_text()
    assert "rename the file; it was not read" in reason
    assert not any(line.startswith("sha256: forged") for line in reason.splitlines())  # no forged line
    assert "\x1b" not in reason
    nothing_else(stack, before, {})


def test_a_zip_is_never_unpacked_named_as_such_or_disguised_as_csv(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../../outside/escaped.csv", _csv(_good_rows(3)))
        bundle.writestr("/absolute/escaped.csv", b"x")
    data = archive.getvalue()
    (folders.harbor / "catalogue.zip").write_bytes(data)
    with pytest.raises(DropPathError, match=r"'catalogue.zip' is not a harbor drop file: expected \.csv"):
        ingest_harbor(path="catalogue.zip", transform=False)
    assert ingest_harbor(transform=False)["loaded"] == []  # a sweep does not read it either
    assert (folders.harbor / "catalogue.zip").read_bytes() == data
    (folders.harbor / "catalogue.csv").write_bytes(data)
    with pytest.raises(DropRejectedError, match="a ZIP archive, not a CSV file: archives are never unpacked"):
        ingest_harbor(path="catalogue.csv", transform=False)
    assert list(folders.outside.iterdir()) == []
    assert sorted(str(p.relative_to(folders.harbor)) for p in folders.harbor.rglob("*") if p.is_file()) == [
        "catalogue.zip",
        "rejected/catalogue.csv",
        "rejected/catalogue.csv.reason",
    ]
    [entry] = ledger(stack)
    assert entry["outcome"] == "rejected" and "ZIP archive" in entry["reason"]
    nothing_else(stack, before, {})


# -- a JSON nesting bomb -------------------------------------------------------------------------------------------


def test_a_json_nesting_bomb_is_a_clear_provider_error(stack: Engine, admin: SandboxAdmin) -> None:
    before = relations(stack)
    admin.inject_fault("nesting_bomb")
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        ingest_lumina(transform=False)
    assert time.monotonic() - started < 30
    assert str(raised.value) == (
        f"provider lumina, page 1: JSON nested deeper than {MAX_JSON_DEPTH} levels (a nesting bomb?); "
        "nothing of it is used"
    )
    chain: list[BaseException] = []
    error: BaseException | None = raised.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert not any(isinstance(e, RecursionError) for e in chain)
    [failed] = loads(stack)
    assert failed["status"] == "failed" and "nested deeper than" in failed["error"] and adds_up(failed)
    nothing_else(stack, before, {})


# -- numbers no integer column can hold ----------------------------------------------------------------------------


def test_numbers_beyond_any_integer_are_quarantined_not_a_crash(stack: Engine, folders: Folders) -> None:
    before = relations(stack)
    rows = _good_rows(6)
    rows[0]["release_year"] = "99999999999999999999"
    rows[1]["runtime_minutes"] = "1e400"
    rows[2]["release_year"] = "-1e30"
    (folders.harbor / "numbers.csv").write_bytes(_csv(rows))
    result = ingest_harbor(path="numbers.csv", transform=False)
    assert adds_up(result) and result["quarantined"] == 3 and result["inserted"] == 3
    held = quarantine(stack, "harbor")
    assert "release_year_out_of_range" in held[rows[0]["provider_asset_id"]]["reasons"]
    assert "runtime_minutes_not_integer" in held[rows[1]["provider_asset_id"]]["reasons"]  # infinity
    assert "release_year_out_of_range" in held[rows[2]["provider_asset_id"]]["reasons"]
    nothing_else(stack, before, {"harbor": {row["provider_asset_id"] for row in rows[3:]}})
