"""meridian: ADI 1.1 packages over HTTP (listing + XML) and as files, with versions and file faults."""

from __future__ import annotations

import re
from datetime import datetime
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
import pytest
from defusedxml import EntitiesForbidden

from tests.sandbox.conftest import MERIDIAN_SIZE, http_client
from tests.sandbox.helpers import PACKAGES, fetch_packages
from vodflow.eidr.ids import check
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox.catalogue import lumina_split, region_films
from vodflow.sandbox.meridian import FileFault, MeridianBadKind, deliberately_bad, drop_bad_items, write_packages

pytestmark = pytest.mark.timeout(60)

ASSET_ID = re.compile(r"MRDN\d{16}")
AMS_ATTRIBUTES = {
    "Provider",
    "Product",
    "Asset_Name",
    "Version_Major",
    "Version_Minor",
    "Description",
    "Creation_Date",
    "Provider_ID",
    "Asset_ID",
    "Asset_Class",
    "Verb",
}


def parse(xml: bytes | str):
    """A package as a dict: package/title AMS, title App_Data (repeatable as lists), child assets."""
    root = SafeET.fromstring(xml)
    assert root.tag == "ADI"
    package_ams = root.find("Metadata/AMS").attrib
    title = root.find("Asset")
    data: dict[str, list[str]] = {}
    for app in title.findall("Metadata/App_Data"):
        assert app.get("App") == "MOD"
        data.setdefault(app.get("Name"), []).append(app.get("Value"))
    children = {}
    for child in title.findall("Asset"):
        ams = child.find("Metadata/AMS").attrib
        assert ams["Version_Major"] == package_ams["Version_Major"]
        children[ams["Asset_Class"]] = (ams, child.find("Content").get("Value"))
    tiers = [a.get("Value") for a in root.findall("Metadata/App_Data") if a.get("Name") == "Provider_Content_Tier"]
    return {"package": package_ams, "title": title.find("Metadata/AMS").attrib, "data": data}, children, tiers


def package_breaks(data):
    """Which rules a package breaks, computed from its title App_Data (independently of the listing)."""
    found = set()
    if "Title" not in data:
        found.add(MeridianBadKind.MISSING_TITLE)
    if "Run_Time" in data and not re.fullmatch(r"\d{2}:\d{2}:\d{2}", data["Run_Time"][0]):
        found.add(MeridianBadKind.BAD_RUN_TIME)
    if "Year" in data and int(data["Year"][0]) > 2026:
        found.add(MeridianBadKind.YEAR_3020)
    if "EIDR_ID" in data and not check(data["EIDR_ID"][0]).is_valid:
        found.add(MeridianBadKind.EIDR_CHECK_CHARACTER)
    if data["Licensing_Window_End"][0] < data["Licensing_Window_Start"][0]:
        found.add(MeridianBadKind.WINDOW_END_BEFORE_START)
    return found


def test_listing_pages_cover_every_package_once_with_link_headers(client):
    entries, links = fetch_packages(client, page_size=25)
    assert len(entries) == MERIDIAN_SIZE and len({e["package_id"] for e in entries}) == MERIDIAN_SIZE
    assert [link is None for link in links] == [False, False, True]  # 25 + 25 + 10, no trailing empty page
    assert links[0] == f'<{PACKAGES}?page_size=25&page=2>; rel="next"'
    keys = [(e["updated_at"], e["package_id"]) for e in entries]
    assert keys == sorted(keys)
    for entry in entries:
        assert list(entry) == ["package_id", "version", "updated_at", "url"]
        assert ASSET_ID.fullmatch(entry["package_id"]) and entry["version"] == "1.0"
        assert entry["url"] == f"{PACKAGES}/{entry['package_id']}/1.0.xml"
        assert re.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["updated_at"])
    assert client.get(PACKAGES, params={"page": 9}).json() == []


def test_since_is_inclusive(client):
    everything, _ = fetch_packages(client, page_size=1000)
    pivot = everything[20]["updated_at"]
    since, _ = fetch_packages(client, since=pivot)
    assert since == [e for e in everything if e["updated_at"] >= pivot] and since[0]["updated_at"] == pivot


def test_every_package_parses_safely_and_has_the_fields(client, admin):
    entries, _ = fetch_packages(client, page_size=1000)
    bad = {b["id"]: b["kind"] for b in admin.bad_items("meridian")}
    assert set(bad.values()) == {kind.value for kind in MeridianBadKind}
    observed = {}
    genres = []
    for entry in entries:
        response = client.get(entry["url"])
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
        assert b'<!DOCTYPE ADI SYSTEM "ADI.DTD">' in response.content
        meta, children, tiers = parse(response.content)
        package, title, data = meta["package"], meta["title"], meta["data"]
        assert set(package) == AMS_ATTRIBUTES and package["Asset_Class"] == "package"
        assert package["Asset_ID"] == entry["package_id"] and package["Provider_ID"] == "meridian.example"
        assert (package["Version_Major"], package["Version_Minor"]) == ("1", "0")
        assert title["Asset_Class"] == "title" and ASSET_ID.fullmatch(title["Asset_ID"])
        assert datetime.strptime(package["Creation_Date"], "%Y-%m-%d").year == 2026
        assert tiers == ["MERIDIAN_MOVIES_HD"]
        assert set(children) == {"movie", "preview", "poster"}
        assert children["movie"][1].endswith(".ts") and children["poster"][1].endswith(".jpg")
        assert data["Type"] == ["title"] and data["Title_Brief"][0] and len(data["Title_Brief"][0]) <= 19
        for name in ("Summary_Short", "Rating", "Licensing_Window_Start", "Licensing_Window_End"):
            assert len(data[name]) == 1, name
        datetime.strptime(data["Licensing_Window_Start"][0], "%Y-%m-%dT%H:%M:%S")
        genres.append(len(data.get("Genre", [])))
        if "IMDb_ID" in data:
            assert re.fullmatch(r"tt\d+", data["IMDb_ID"][0])
        if package_breaks(data):
            observed[entry["package_id"]] = {k.value for k in package_breaks(data)}
    assert observed == {pid: {kind} for pid, kind in bad.items()}
    assert max(genres) > 1  # Genre is repeatable


def test_the_shared_slice_is_the_same_film_as_lumina(client):
    lumina = {film.imdb_id for film in lumina_split(250).catalogue}
    entries, _ = fetch_packages(client, page_size=1000)
    imdb = set()
    for entry in entries:
        data = parse(client.get(entry["url"]).content)[0]["data"]
        imdb.update(data.get("IMDb_ID", []))
    assert len(imdb & lumina) > 40  # 50 shared films in the first 60 packages, 10% without IMDb_ID


def test_publish_bumps_versions_and_keeps_old_ones(client, admin):
    before = {e["package_id"]: e for e in fetch_packages(client, page_size=1000)[0]}
    result = admin.publish(provider="meridian", new=2, changed=6)
    assert set(result["new"]).isdisjoint(before) and set(result["changed"]) <= set(before)
    cursor = max(e["updated_at"] for e in before.values())
    fresh = [e for e in fetch_packages(client, since=cursor)[0] if e["updated_at"] > cursor]
    assert {e["package_id"] for e in fresh} == set(result["new"]) | set(result["changed"])
    bumps = set()
    for entry in fresh:
        major, minor = map(int, entry["version"].split("."))
        package = parse(client.get(entry["url"]).content)[0]["package"]
        assert (package["Version_Major"], package["Version_Minor"]) == (str(major), str(minor))
        if entry["package_id"] in result["new"]:
            assert (major, minor) == (1, 0)
            continue
        bumps.add("major" if (major, minor) == (2, 0) else "minor")
        assert (major, minor) in {(2, 0), (1, 1)}
        old = client.get(before[entry["package_id"]]["url"])
        assert old.status_code == 200 and parse(old.content)[0]["package"]["Version_Minor"] == "0"
        assert old.content != client.get(entry["url"]).content
    assert bumps  # at least one update
    missing = client.get(f"{PACKAGES}/{result['changed'][0]}/9.9.xml")
    assert missing.status_code == 404 and "versions" in missing.json()["error"]
    assert client.get(f"{PACKAGES}/MRDN1999999999999999/1.0.xml").status_code == 404
    assert client.get(f"{PACKAGES}/{result['changed'][0]}/1.0.xml?x=1").status_code == 400


def test_publish_is_deterministic(tmp_path):
    runs = []
    for name in ("one", "two"):
        with SandboxServer(port=0, state_dir=tmp_path / name, lumina_size=5, meridian_size=MERIDIAN_SIZE) as server:
            with SandboxAdmin(server.url) as admin, http_client(server.url) as http:
                results = [admin.publish(provider="meridian", new=1, changed=4) for _ in range(3)]
                versions = sorted((e["package_id"], e["version"]) for e in fetch_packages(http, page_size=1000)[0])
        runs.append((results, versions))
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "query", ["page=0", "page_size=1001", "since=2026-01-01", "since=soon", "updated_since=2026-01-01T00:00:00Z"]
)
def test_bad_listing_parameters_are_400(client, query):
    assert client.get(f"{PACKAGES}?{query}").status_code == 400


# -- files -------------------------------------------------------------------------------------------------------


def test_file_drop_writes_one_parseable_file_per_version(tmp_path):
    written = write_packages(tmp_path / "drop", 8, versions=3)
    assert len(written) == 24
    assert sorted(p.name for p in (tmp_path / "drop").iterdir()) == sorted(f.path.name for f in written)
    by_package: dict[str, list[tuple[int, int]]] = {}
    for file in written:
        assert file.fault is None
        package = parse(file.path.read_bytes())[0]["package"]
        assert file.path.name == f"{package['Asset_ID']}-v{file.version}.xml"
        by_package.setdefault(package["Asset_ID"], []).append(
            (int(package["Version_Major"]), int(package["Version_Minor"]))
        )
    for versions in by_package.values():
        assert versions[0] == (1, 0) and versions == sorted(versions) and len(set(versions)) == 3
    again = write_packages(tmp_path / "again", 8, versions=3)
    assert [f.path.read_bytes() for f in again] == [f.path.read_bytes() for f in written]
    assert [f.package_id for f in write_packages(tmp_path / "next", 2, offset=8)] == [
        f"MRDN1{film.source_id:015d}" for film in region_films("meridian")[8:10]
    ]


def test_file_drop_bad_packages_are_listed(tmp_path):
    written = write_packages(tmp_path, 20)
    observed = {}
    for file in written:
        breaks = package_breaks(parse(file.path.read_bytes())[0]["data"])
        if breaks:
            observed[file.package_id] = {k.value for k in breaks}
    assert observed == {b.id: {b.kind} for b in drop_bad_items(20)}
    assert len(observed) == 5  # at least one of each kind, even in a small drop
    assert written[0].package_id not in observed  # the first package is the one a file fault breaks
    clean = write_packages(tmp_path / "clean", 20, bad_packages=False)
    assert not any(package_breaks(parse(f.path.read_bytes())[0]["data"]) for f in clean)


def test_bad_share_at_the_default_size():
    bad = deliberately_bad(500)
    assert len(bad) == 5 and {b.kind for b in bad} == {kind.value for kind in MeridianBadKind}


def _faulty(tmp_path, fault):
    written = write_packages(tmp_path, 3, fault=fault)
    assert [f.fault for f in written] == [FileFault(fault), None, None]
    for good in written[1:]:
        parse(good.path.read_bytes())
    return written[0].path.read_bytes()


def test_truncated_file_is_not_well_formed(tmp_path):
    data = _faulty(tmp_path, "truncated")
    assert not data.rstrip().endswith(b"</ADI>")
    with pytest.raises(ParseError):
        SafeET.fromstring(data)


def test_xxe_file_declares_and_uses_an_external_entity(tmp_path):
    data = _faulty(tmp_path, "xxe")
    assert b'<!ENTITY xxe SYSTEM "file:///etc/passwd">' in data
    assert b"&xxe;" in data.split(b"]>", 1)[1]
    with pytest.raises(EntitiesForbidden):
        SafeET.fromstring(data)


def test_billion_laughs_file_is_a_real_entity_bomb(tmp_path):
    data = _faulty(tmp_path, "billion_laughs")
    declarations = dict(re.findall(rb'<!ENTITY (lol\d?) "([^"]*)">', data))
    assert declarations[b"lol"] == b"lol"
    for n in range(1, 10):  # each level references the previous one ten times: 10**9 "lol"s at lol9
        previous = b"lol" if n == 1 else f"lol{n - 1}".encode()
        assert declarations[f"lol{n}".encode()] == (b"&" + previous + b";") * 10
    assert b'Name="Title" Value="&lol9;"' in data
    with pytest.raises(EntitiesForbidden):
        SafeET.fromstring(data)


def test_wrong_root_and_missing_title(tmp_path):
    root = SafeET.fromstring(_faulty(tmp_path / "root", "wrong_root"))
    assert root.tag == "{http://www.scte.org/schemas/236/2017/core}ADI3"
    data = _faulty(tmp_path / "title", "missing_title")
    meta = parse(data)[0]
    assert "Title" not in meta["data"] and meta["data"]["Title_Brief"]


def test_no_temporary_files_are_left(tmp_path):
    write_packages(tmp_path, 5, versions=2, fault="xxe")
    assert all(not p.name.startswith(".") for p in tmp_path.iterdir())
    with pytest.raises(ValueError):
        write_packages(tmp_path, 0)
    with pytest.raises(ValueError):
        write_packages(tmp_path, 5, fault="gzip")


def test_bad_items_follow_publishes(client, admin):
    admin.publish(provider="meridian", new=400, changed=10)
    listed = {b["id"]: {b["kind"]} for b in admin.bad_items("meridian")}
    assert len(listed) > 5
    for package_id, kinds in listed.items():
        xml = client.get(f"{PACKAGES}/{package_id}/1.0.xml").content
        assert {k.value for k in package_breaks(parse(xml)[0]["data"])} == kinds
