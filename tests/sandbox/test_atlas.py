"""GET /atlas/v2/catalog: nested series documents, page tokens, parent links, bad episodes, publish."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.sandbox.conftest import ATLAS_SIZE, http_client
from tests.sandbox.helpers import ATLAS, fetch_atlas
from vodflow.eidr.ids import check
from vodflow.sandbox import SandboxAdmin, SandboxServer
from vodflow.sandbox.atlas import AtlasBadKind, AtlasStore, deliberately_bad, iter_entities, season_plan
from vodflow.sandbox.catalogue import region_films

pytestmark = pytest.mark.timeout(60)

SERIES_KEYS = ["seriesId", "name", "originalName", "genres", "language", "contentRating", "eidr", "firstAired"]
SERIES_KEYS += ["lastModified", "seasons"]
SEASON_KEYS = ["seasonId", "seriesId", "seasonNumber", "name", "firstAired", "eidr", "lastModified", "episodes"]
EPISODE_KEYS = ["episodeId", "seasonId", "seriesId", "seasonNumber", "episodeNumber", "name", "durationSeconds"]
EPISODE_KEYS += ["firstAired", "eidr", "lastModified"]
DATE = re.compile(r"\d{2}/\d{2}/\d{4}")
NO_KEY_TOKEN = base64.urlsafe_b64encode(json.dumps({"p": 2}).encode()).decode().rstrip("=")


def _episodes(documents):
    return [e for d in documents for kind, e in iter_entities(d) if kind == "episode"]


def episode_breaks(episode, season_ids):
    """Which rules an episode breaks, computed from its values (independently of the listing)."""
    found = set()
    if episode["name"] == "":
        found.add(AtlasBadKind.EMPTY_NAME)
    if episode["episodeNumber"] < 1:
        found.add(AtlasBadKind.NEGATIVE_EPISODE_NUMBER)
    try:
        datetime.strptime(episode["firstAired"], "%d/%m/%Y")
    except ValueError:
        found.add(AtlasBadKind.FIRST_AIRED_INVALID)
    if episode["seasonId"] not in season_ids:
        found.add(AtlasBadKind.DANGLING_SEASON_ID)
    if episode["eidr"] is not None and not check(episode["eidr"]).is_valid:
        found.add(AtlasBadKind.EIDR_CHECK_CHARACTER)
    return found


def test_paging_with_tokens_covers_the_catalogue_exactly_once_in_order(client):
    entries, tokens = fetch_atlas(client, limit=5)
    assert len(entries) == ATLAS_SIZE
    assert len({e["seriesId"] for e in entries}) == ATLAS_SIZE
    keys = [(e["lastModified"], e["seriesId"]) for e in entries]
    assert keys == sorted(keys)
    assert len(tokens) == 2  # ceil(12 / 5) = 3 pages, no trailing empty page
    for token in tokens:  # opaque, URL-safe
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    default = client.get(ATLAS).json()
    assert len(default["entries"]) == ATLAS_SIZE and "nextPageToken" not in default


def test_documents_have_the_contract_shape_and_consistent_parent_links(client):
    entries, _ = fetch_atlas(client, limit=500)
    bad = {b.id for b in deliberately_bad(ATLAS_SIZE)}
    all_ids = Counter()
    for document in entries:
        assert list(document) == SERIES_KEYS
        assert re.fullmatch(r"ATS-\d{6,}", document["seriesId"])
        assert isinstance(document["lastModified"], int) and document["lastModified"] > 1_767_225_600_000
        assert document["firstAired"] is None or DATE.fullmatch(document["firstAired"])
        season_ids = {s["seasonId"] for s in document["seasons"]}
        assert [s["seasonNumber"] for s in document["seasons"]] == list(range(1, len(document["seasons"]) + 1))
        newest = document["lastModified"]
        for kind, entity in iter_entities(document):
            all_ids[entity.get(f"{kind}Id")] += 1
            assert entity["lastModified"] <= newest
            if kind == "season":
                assert list(entity) == SEASON_KEYS
                assert entity["seriesId"] == document["seriesId"]
                assert entity["seasonId"] == f"{document['seriesId']}-S{entity['seasonNumber']:02d}"
            if kind == "episode":
                assert list(entity) == EPISODE_KEYS
                assert entity["seriesId"] == document["seriesId"]
                assert isinstance(entity["durationSeconds"], int) and 20 * 60 < entity["durationSeconds"] < 70 * 60
                if entity["episodeId"] not in bad:
                    assert entity["seasonId"] in season_ids
                    season = next(s for s in document["seasons"] if s["seasonId"] == entity["seasonId"])
                    assert entity in season["episodes"] and entity["seasonNumber"] == season["seasonNumber"]
                    assert episode_breaks(entity, season_ids) == set()
    assert max(all_ids.values()) == 1  # series, season and episode IDs are unique across the catalogue


def test_seasons_and_episodes_follow_the_plan(client):
    entries, _ = fetch_atlas(client, limit=500)
    films = {f"ATS-{film.source_id:06d}": film for film in region_films("atlas")}
    for document in entries:
        plan = season_plan(films[document["seriesId"]])
        assert [len(s["episodes"]) for s in document["seasons"]] == plan
        assert all(6 <= count <= 13 for count in plan) and 1 <= len(plan) <= 6
        for season in document["seasons"]:
            aired = [
                datetime.strptime(e["firstAired"], "%d/%m/%Y")
                for e in season["episodes"]
                if "31/02" not in e["firstAired"]
            ]
            assert aired == sorted(aired) and all(day.year <= 2026 for day in aired)


def test_bad_episodes_are_listed_and_served(client, admin):
    listed = admin.bad_items("atlas")
    assert listed == [b.to_json() for b in deliberately_bad(ATLAS_SIZE)]
    assert {b["kind"] for b in listed} == {kind.value for kind in AtlasBadKind}
    assert all(b["reason"] for b in listed)
    entries, _ = fetch_atlas(client, limit=500)
    observed = {}
    for document in entries:
        season_ids = {s["seasonId"] for s in document["seasons"]}
        for episode in _episodes([document]):
            if episode_breaks(episode, season_ids):
                observed[episode["episodeId"]] = {k.value for k in episode_breaks(episode, season_ids)}
    assert observed == {b["id"]: {b["kind"]} for b in listed}


def test_bad_share_is_about_one_percent_at_the_default_size():
    store = AtlasStore(200)
    episodes = _episodes(store.documents())
    assert 0.008 < len(store.bad_items()) / len(episodes) < 0.012
    assert Counter(b.kind for b in store.bad_items()).keys() == {kind.value for kind in AtlasBadKind}


def test_names_carry_imperfections_and_languages_are_mostly_codes():
    documents = AtlasStore(200).documents()
    films = {f"ATS-{film.source_id:06d}": film for film in region_films("atlas")}
    differing = [d for d in documents if d["name"] != films[d["seriesId"]].title]
    assert 10 < len(differing) < 100
    assert any(d["name"].isupper() for d in differing)
    assert any(re.search(r", (The|A|An)$", d["name"]) for d in differing)
    assert sum(d["firstAired"] is None for d in documents) > 2
    languages = Counter(d["language"] for d in documents)
    assert languages["en"] > 100 and any(name and len(name) > 3 for name in languages)


def test_modified_since_is_inclusive_in_milliseconds_or_iso(client):
    everything, _ = fetch_atlas(client, limit=500)
    pivot = everything[5]["lastModified"]
    since, _ = fetch_atlas(client, modifiedSince=pivot, limit=4)
    assert since == [e for e in everything if e["lastModified"] >= pivot]
    assert since[0]["lastModified"] == pivot
    iso = datetime.fromtimestamp(pivot // 1000, UTC).isoformat()  # second precision: includes the pivot
    assert fetch_atlas(client, modifiedSince=iso, limit=500)[0][0] == since[0]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=501",
        "limit=ten",
        "modifiedSince=yesterday",
        "modifiedSince=2026-01-01T00:00:00",  # no zone
        "pageToken=not-a-token",
        f"pageToken={base64.urlsafe_b64encode(b'[1]').decode()}",
        f"pageToken={NO_KEY_TOKEN}",  # well-formed, but no key
        "modified_since=1",  # unknown parameter
        "limit=1&limit=2",
    ],
)
def test_bad_parameters_are_400(client, query):
    response = client.get(f"{ATLAS}?{query}")
    assert response.status_code == 400
    assert response.json()["status"] == 400 and response.json()["error"]


def test_a_token_belongs_to_its_query(client):
    token = client.get(ATLAS, params={"limit": 2, "modifiedSince": 0}).json()["nextPageToken"]
    assert client.get(ATLAS, params={"limit": 2, "modifiedSince": 0, "pageToken": token}).status_code == 200
    response = client.get(ATLAS, params={"limit": 2, "pageToken": token})
    assert response.status_code == 400
    assert "modifiedSince" in response.json()["error"]


def test_publish_new_and_changed_series(client, admin):
    before, _ = fetch_atlas(client, limit=500)
    cursor = max(e["lastModified"] for e in before)
    result = admin.publish(provider="atlas", new=2, changed=4)
    assert len(result["new"]) == 2 and len(result["changed"]) == 4
    old = {e["seriesId"]: e for e in before}
    assert set(result["new"]).isdisjoint(old) and set(result["changed"]) <= set(old)
    fresh, _ = fetch_atlas(client, modifiedSince=cursor + 1)
    assert {e["seriesId"] for e in fresh} == set(result["new"]) | set(result["changed"])
    stamp = fresh[0]["lastModified"]
    assert stamp >= int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
    for document in fresh:
        assert document["lastModified"] == stamp
        if document["seriesId"] in result["changed"]:
            touched = [e for _, e in iter_entities(document) if e["lastModified"] == stamp]
            assert 1 <= len(touched) <= 3  # the series itself, maybe a season, maybe an episode
            assert document != old[document["seriesId"]]
    everything, _ = fetch_atlas(client, limit=500)
    assert len(everything) == ATLAS_SIZE + 2
    untouched = set(old) - set(result["changed"])
    assert all(old[sid] == e for e in everything if (sid := e["seriesId"]) in untouched)


def test_publish_is_deterministic_and_survives_a_restart(tmp_path):
    runs = []
    for name in ("one", "two"):
        with SandboxServer(port=0, state_dir=tmp_path / name, lumina_size=5, atlas_size=ATLAS_SIZE) as server:
            with SandboxAdmin(server.url) as admin, http_client(server.url) as http:
                results = [admin.publish(provider="atlas", new=1, changed=3) for _ in range(3)]
                served, _ = fetch_atlas(http, limit=500)
        runs.append((results, _without_stamps(served)))
    assert runs[0] == runs[1]
    with SandboxServer(port=0, state_dir=tmp_path / "one", lumina_size=5, atlas_size=ATLAS_SIZE) as server:
        with http_client(server.url) as http:
            assert _without_stamps(fetch_atlas(http, limit=500)[0]) == runs[0][1]
    with pytest.raises(ValueError, match="atlas"):
        SandboxServer(port=0, state_dir=tmp_path / "one", lumina_size=5, atlas_size=ATLAS_SIZE + 1)


def _without_stamps(documents):
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "lastModified"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return sorted((strip(d) for d in documents), key=lambda d: d["seriesId"])


def test_two_fresh_servers_serve_identical_pages(tmp_path):
    bodies = []
    for name in ("one", "two"):
        with SandboxServer(port=0, state_dir=tmp_path / name, lumina_size=5, atlas_size=ATLAS_SIZE) as server:
            with http_client(server.url) as http:
                first = http.get(ATLAS, params={"limit": 4})
                second = http.get(ATLAS, params={"limit": 4, "pageToken": first.json()["nextPageToken"]})
                bodies.append([first.content, second.content])
    assert bodies[0] == bodies[1]


def test_reset_and_publish_errors(client, admin):
    initial, _ = fetch_atlas(client, limit=500)
    admin.publish(provider="atlas", new=3, changed=3)
    admin.reset()
    assert fetch_atlas(client, limit=500)[0] == initial
    response = client.post("/admin/publish", json={"provider": "atlas", "new": 10**6})
    assert response.status_code == 409 and "reserve" in response.json()["error"]


def test_bad_items_follow_publishes(client, admin):
    admin.publish(provider="atlas", new=60, changed=5)
    listed = {b["id"]: {b["kind"]} for b in admin.bad_items("atlas")}
    assert len(listed) > len(deliberately_bad(ATLAS_SIZE))  # ~1% of the new series' episodes are bad too
    observed = {}
    for document in fetch_atlas(client, limit=500)[0]:
        season_ids = {s["seasonId"] for s in document["seasons"]}
        for episode in _episodes([document]):
            if episode_breaks(episode, season_ids):
                observed[episode["episodeId"]] = {k.value for k in episode_breaks(episode, season_ids)}
    assert observed == listed
