"""The provider "meridian": CableLabs ADI 1.1 XML packages, one ``ADI`` document per title (films).

Delivered two ways, rendered by the same code:

* over HTTP by the sandbox (:class:`MeridianStore`): ``GET /meridian/v1/packages`` lists the latest version
  of each package, ``GET /meridian/v1/packages/{package_id}/{major}.{minor}.xml`` serves any version;
* as files written to a folder (:func:`write_packages`, write-then-rename), with file-level faults for tests
  (truncated, XXE, entity bomb, wrong root, missing Title).

A package follows the ADI 1.1 layout: a package ``AMS``, a title asset whose ``App_Data`` carry the metadata,
and three child assets (movie, preview, poster) with a ``Content`` file name. Every ``AMS`` of a package carries
the package's ``Version_Major``/``Version_Minor``; an update re-sends the whole package with a higher version
(metadata-only changes bump the minor version, a new movie file — a runtime change — bumps the major one).
Asset_IDs follow ADI 1.1: 20 characters, ``MRDN`` and 16 digits (the first digit says which asset: 1 package,
2 title, 3 movie, 4 preview, 5 poster; then the source ID). The package Asset_ID is meridian's
``provider_asset_id``. See ``README.md`` for every field.

Imperfections: titles through :mod:`vodflow.sandbox.imperfect`; ``Year`` missing for 5%; ``Rating`` is ``NR``
where the source has none; ``Languages`` an ISO 639-1 code where known, else an English name; ``EIDR_ID`` missing
for 35% and without the ``10.5240/`` prefix for 5%; ``IMDb_ID`` missing for 10%. About 1% of packages break the
schema on purpose (:class:`MeridianBadKind`), listed by ``GET /admin/bad-items?provider=meridian``.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from vodflow.eidr.ids import PREFIX
from vodflow.sandbox.atomic import replaced_atomically
from vodflow.sandbox.catalogue import Film, eidr_id, region_films, spread_updated_at, stable_fraction
from vodflow.sandbox.imperfect import (
    Flaw,
    Imperfection,
    drops_year,
    imperfect_title,
    language_value,
    pick_bad,
    select_imperfections,
    strip_accents,
    wrong_check_character,
)
from vodflow.sandbox.oplog import Op, OpLogStore
from vodflow.sandbox.store import PublishError, PublishResult

PROVIDER = "meridian"
PROVIDER_ID = "meridian.example"
PROVIDER_NAME = "MERIDIAN"
PRODUCT = "MOD"
CONTENT_TIER = "MERIDIAN_MOVIES_HD"
MERIDIAN_DEFAULT_SIZE = 500
MERIDIAN_MAX_SIZE = 2000
BAD_SHARE = 0.01
EIDR_NULL_SHARE = 0.35
EIDR_BARE_SHARE = 0.05
IMDB_NULL_SHARE = 0.10
RATINGS = ("G", "PG", "PG-13", "R", "NC-17", "NR")
_ROLES = {"package": 1, "title": 2, "movie": 3, "preview": 4, "poster": 5}

Version = tuple[int, int]
Fields = dict[str, Any]
"""The metadata a package carries, before rendering (see :func:`base_fields`)."""


class MeridianBadKind(StrEnum):
    """The ways a deliberately bad meridian package breaks the schema (the XML stays well-formed)."""

    MISSING_TITLE = "missing_title"
    BAD_RUN_TIME = "bad_run_time"
    YEAR_3020 = "year_3020"
    EIDR_CHECK_CHARACTER = "eidr_check_character"
    WINDOW_END_BEFORE_START = "window_end_before_start"


REASONS: dict[MeridianBadKind, str] = {
    MeridianBadKind.MISSING_TITLE: "the title asset has no Title App_Data",
    MeridianBadKind.BAD_RUN_TIME: "Run_Time is '1h52m', not HH:MM:SS",
    MeridianBadKind.YEAR_3020: "Year is 3020, in the future",
    MeridianBadKind.EIDR_CHECK_CHARACTER: "EIDR_ID has a wrong check character",
    MeridianBadKind.WINDOW_END_BEFORE_START: "Licensing_Window_End is before Licensing_Window_Start",
}


class FileFault(StrEnum):
    """What :func:`write_packages` can do to one file of a drop, for tests of a safe, strict reader."""

    TRUNCATED = "truncated"
    """The document cut in half: not well-formed."""
    XXE = "xxe"
    """An internal DTD subset declaring ``<!ENTITY xxe SYSTEM "file:///etc/passwd">``, referenced as ``&xxe;``."""
    BILLION_LAUGHS = "billion_laughs"
    """The classic entity bomb (``lol1`` .. ``lol9``, 10^9 "lol"s), referenced in the Title value."""
    WRONG_ROOT = "wrong_root"
    """The root element is ``ADI3`` (SCTE 236 namespace) instead of ``ADI``; the content is ADI 1.1."""
    MISSING_TITLE = "missing_title"
    """No ``Title`` App_Data (``Title_Brief`` is still there)."""


# -- identifiers and values --------------------------------------------------------------------------------------


def asset_id(source_id: int, role: str = "package") -> str:
    """ADI 1.1 Asset_ID: ``MRDN``, a digit for the role (1 package .. 5 poster), the source ID on 15 digits."""
    return f"MRDN{_ROLES[role]}{source_id:015d}"


def source_of(package_id: str) -> int:
    """The source ID inside a package Asset_ID."""
    return int(package_id[5:])


def version_text(version: Version) -> str:
    """``"1.2"``: how a version appears in the listing and in URLs (compare as a pair of ints, not text)."""
    return f"{version[0]}.{version[1]}"


def package_url(package_id: str, version: Version) -> str:
    """Path of one version's XML, relative to the sandbox's base URL."""
    return f"/{PROVIDER}/v1/packages/{package_id}/{version_text(version)}.xml"


def format_timestamp(moment: datetime) -> str:
    """``2026-03-04T05:06:07Z`` (the listing's ``updated_at``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_time(minutes: int) -> str:
    """``HH:MM:SS`` as ADI 1.1 ``Run_Time``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", strip_accents(title)).strip("_")[:40] or "Untitled"


def _eidr_value(film: Film) -> str | None:
    share = stable_fraction(PROVIDER, "eidr", film.source_id)
    canonical = eidr_id(film.imdb_id)
    if share < EIDR_NULL_SHARE:
        return None
    if share < EIDR_NULL_SHARE + EIDR_BARE_SHARE:
        return canonical[len(PREFIX) :]
    return canonical


def _window(delivered: datetime) -> tuple[str, str]:
    start = datetime(delivered.year, delivered.month, 1)
    years = 1 + int(stable_fraction(PROVIDER, "window-years", delivered.isoformat()) * 3)
    end = datetime(start.year + years, start.month, 1) - timedelta(seconds=1)
    return start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S")


def _summary(film: Film, title: str) -> str:
    genre = film.genres[0].lower() if film.genres else "feature"
    by = f", directed by {film.directors[0]}" if film.directors else ""
    made = f" ({film.year})" if film.year else ""
    article = "An" if genre[0] in "aeiou" else "A"
    return f"{title}{made}: {article} {genre} film{by}."[:256]


def base_fields(
    film: Film, delivered: datetime, bad: MeridianBadKind | None = None, enabled: frozenset[Imperfection] | None = None
) -> Fields:
    """The metadata of ``film``'s package as first delivered at ``delivered``, with its imperfections and break."""
    chosen = select_imperfections(enabled)
    pid = asset_id(film.source_id)
    title = imperfect_title(film.title, PROVIDER, pid, chosen)
    start, end = _window(delivered)
    fields: Fields = {
        "title": title,
        "title_brief": title[:19],
        "summary_short": _summary(film, film.title),
        "run_time": None if film.runtime_min is None else run_time(film.runtime_min),
        "year": None if drops_year(PROVIDER, pid, chosen) else film.year,
        "genres": list(film.genres),
        "rating": film.rating if film.rating in RATINGS else "NR",
        "director": film.directors[0] if film.directors else None,
        "window_start": start,
        "window_end": end,
        "eidr": _eidr_value(film),
        "imdb": None if stable_fraction(PROVIDER, "imdb", film.source_id) < IMDB_NULL_SHARE else film.imdb_id,
        "language": language_value(film.languages, PROVIDER, pid, code_share=0.8, three_letter_share=0.25),
        "hd": stable_fraction(PROVIDER, "hd", film.source_id) < 0.7,
        "price": "4.99" if (film.year or 0) >= 2010 else "3.99",
        "created": delivered.date().isoformat(),
    }
    if bad is MeridianBadKind.MISSING_TITLE:
        fields["title"] = None
    elif bad is MeridianBadKind.BAD_RUN_TIME:
        minutes = film.runtime_min or 112
        fields["run_time"] = f"{minutes // 60}h{minutes % 60:02d}m"
    elif bad is MeridianBadKind.YEAR_3020:
        fields["year"] = 3020
    elif bad is MeridianBadKind.EIDR_CHECK_CHARACTER:
        fields["eidr"] = wrong_check_character(eidr_id(film.imdb_id), PROVIDER)
    elif bad is MeridianBadKind.WINDOW_END_BEFORE_START:
        fields["window_end"] = f"{int(start[:4]) - 1}{start[4:]}"
    return fields


# -- rendering ---------------------------------------------------------------------------------------------------


def _app(name: str, value: object, indent: str) -> str:
    return f'{indent}<App_Data App="{PRODUCT}" Name="{name}" Value={quoteattr(str(value))}/>\n'


def _ams(source_id: int, role: str, asset_class: str, version: Version, fields: Fields, indent: str) -> str:
    title = fields["title"] or fields["title_brief"] or "Untitled"
    attributes = {
        "Provider": PROVIDER_NAME,
        "Product": PRODUCT,
        "Asset_Name": f"{_slug(title)}_{role}",
        "Version_Major": str(version[0]),
        "Version_Minor": str(version[1]),
        "Description": f"{title} - {role}",
        "Creation_Date": fields["created"],
        "Provider_ID": PROVIDER_ID,
        "Asset_ID": asset_id(source_id, role),
        "Asset_Class": asset_class,
        "Verb": "",
    }
    rendered = " ".join(f"{name}={quoteattr(value)}" for name, value in attributes.items())
    return f"{indent}<AMS {rendered}/>\n"


def render_adi(source_id: int, version: Version, fields: Fields) -> str:
    """One ADI 1.1 document (UTF-8 text) for a package version; absent fields are left out, as feeds do."""
    i2, i3, i4, i5 = " " * 2, " " * 4, " " * 6, " " * 8
    pid = asset_id(source_id)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', '<!DOCTYPE ADI SYSTEM "ADI.DTD">\n', "<ADI>\n"]
    out += [f"{i2}<Metadata>\n", _ams(source_id, "package", "package", version, fields, i3)]
    out += [_app("Provider_Content_Tier", CONTENT_TIER, i3), _app("Metadata_Spec_Version", "CableLabsVOD1.1", i3)]
    out += [f"{i2}</Metadata>\n", f"{i2}<Asset>\n", f"{i3}<Metadata>\n"]
    out.append(_ams(source_id, "title", "title", version, fields, i4))
    title_data: list[tuple[str, object]] = [("Type", "title")]
    if fields["title"] is not None:
        title_data.append(("Title", fields["title"]))
    title_data += [("Title_Brief", fields["title_brief"]), ("Summary_Short", fields["summary_short"])]
    if fields["run_time"] is not None:
        title_data += [("Run_Time", fields["run_time"]), ("Display_Run_Time", str(fields["run_time"])[:5])]
    if fields["year"] is not None:
        title_data.append(("Year", fields["year"]))
    title_data += [("Genre", genre) for genre in fields["genres"]]
    title_data += [("Category", f"Movies/{genre}") for genre in fields["genres"][:1]]
    title_data.append(("Rating", fields["rating"]))
    if fields["director"] is not None:
        title_data.append(("Director", fields["director"]))
    title_data += [("Show_Type", "Movie"), ("Closed_Captioning", "Y"), ("Billing_ID", "00000")]
    title_data += [("Suggested_Price", fields["price"]), ("Provider_QA_Contact", f"qa@{PROVIDER_ID}")]
    title_data += [("Licensing_Window_Start", fields["window_start"]), ("Licensing_Window_End", fields["window_end"])]
    if fields["eidr"] is not None:
        title_data.append(("EIDR_ID", fields["eidr"]))
    if fields["imdb"] is not None:
        title_data.append(("IMDb_ID", fields["imdb"]))
    out += [_app(name, value, i4) for name, value in title_data]
    out.append(f"{i3}</Metadata>\n")
    checksum = hashlib.md5(f"{pid}:{version[0]}".encode(), usedforsecurity=False).hexdigest()
    minutes = _minutes(fields["run_time"])
    movie: list[tuple[str, object]] = [("Type", "movie"), ("HDContent", "Y" if fields["hd"] else "N")]
    movie += [("Audio_Type", "Dolby 5.1"), ("Screen_Format", "Widescreen")]
    movie += [("Languages", fields["language"])] if fields["language"] else []
    movie += [("Content_FileSize", str(minutes * 60 * 1_000_000)), ("Content_CheckSum", checksum)]
    children: list[tuple[str, list[tuple[str, object]], str]] = [
        ("movie", movie, f"{asset_id(source_id, 'movie')}_v{version[0]}{'_HD' if fields['hd'] else ''}.ts"),
        (
            "preview",
            [("Type", "preview"), ("Rating", fields["rating"]), ("Run_Time", "00:02:00")],
            f"{asset_id(source_id, 'preview')}.ts",
        ),
        (
            "poster",
            [("Type", "poster"), ("Image_Aspect_Ratio", "800x1200")],
            f"{asset_id(source_id, 'poster')}.jpg",
        ),
    ]
    for role, data, content in children:
        out += [f"{i3}<Asset>\n", f"{i4}<Metadata>\n", _ams(source_id, role, role, version, fields, i5)]
        out += [_app(name, value, i5) for name, value in data]
        out += [f"{i4}</Metadata>\n", f"{i4}<Content Value={quoteattr(content)}/>\n", f"{i3}</Asset>\n"]
    out += [f"{i2}</Asset>\n", "</ADI>\n"]
    return "".join(out)


def _minutes(value: object) -> int:
    match = re.fullmatch(r"(\d{2}):(\d{2}):\d{2}", str(value))
    return 90 if match is None else int(match.group(1)) * 60 + int(match.group(2))


def malform_fields(fields: Fields) -> Fields:
    """The ``malformed_rows`` fault on a package: every value a reader checks broken at once (one document)."""
    return fields | {"title": "", "run_time": "112 min", "year": "MMXI", "window_end": "soon", "rating": 17}


def malform_listing(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``malformed_rows`` fault on a listing page: one broken value per entry.

    ``package_id`` and ``updated_at`` stay intact. Rotates: ``version`` ``"v1.0"``, ``url`` null, ``version`` a
    number, ``url`` without ``.xml``.
    """
    result = []
    for index, entry in enumerate(entries):
        broken = dict(entry)
        rotation = index % 4
        if rotation == 0:
            broken["version"] = f"v{entry['version']}"
        elif rotation == 1:
            broken["url"] = None
        elif rotation == 2:
            broken["version"] = float(entry["version"])
        else:
            broken["url"] = str(entry["url"]).removesuffix(".xml")
        result.append(broken)
    return result


# -- changes (versions) ------------------------------------------------------------------------------------------

_CHANGE_KINDS = ("rating", "title", "window_end", "summary", "run_time")


def plan_change(fields: Fields, key: str, seq: int) -> tuple[str, Any]:
    """A visible change to a package (field name, new value), chosen by a hash of ``key`` and ``seq``.

    ``run_time`` stands for a new movie file (a major version); every other field is metadata (a minor one).
    """
    first = int(stable_fraction(PROVIDER, "change-kind", seq, key) * len(_CHANGE_KINDS))
    for offset in range(len(_CHANGE_KINDS)):
        kind = _CHANGE_KINDS[(first + offset) % len(_CHANGE_KINDS)]
        if kind == "rating":
            current = fields["rating"]
            return kind, RATINGS[(RATINGS.index(current) + 1) % len(RATINGS)] if current in RATINGS else "PG"
        if kind == "title" and fields["title"]:
            title = str(fields["title"])
            changed = title.upper() if title != title.upper() else title.title()
            if changed != title:
                return kind, changed
        if kind == "window_end":
            end = str(fields["window_end"])
            return kind, f"{int(end[:4]) + 1}{end[4:]}"
        if kind == "summary":
            return kind, (str(fields["summary_short"]) + " Newly restored.")[:256]
        if kind == "run_time" and fields["run_time"] is not None:
            minutes = _minutes(fields["run_time"]) + 1 + int(stable_fraction(PROVIDER, "runtime", seq, key) * 9)
            return kind, run_time(minutes)
    raise AssertionError("unreachable: a rating change is always possible")  # pragma: no cover


def bump(version: Version, field: str) -> Version:
    """The version after a change of ``field``: major for a new movie file (``run_time``), else minor."""
    return (version[0] + 1, 0) if field == "run_time" else (version[0], version[1] + 1)


# -- the catalogue -----------------------------------------------------------------------------------------------


def meridian_split(size: int = MERIDIAN_DEFAULT_SIZE) -> tuple[tuple[Film, ...], tuple[Film, ...]]:
    """meridian's initial packages (the first ``size`` films of its region, the shared slice first) and reserve.

    Raises:
        ValueError: if ``size`` is outside 1 .. :data:`MERIDIAN_MAX_SIZE`.
    """
    if not 1 <= size <= MERIDIAN_MAX_SIZE:
        raise ValueError(f"meridian size must be between 1 and {MERIDIAN_MAX_SIZE}, got {size}")
    films = region_films(PROVIDER)
    return films[:size], films[size:]


def catalogue_bad_kinds(films: Iterable[Film]) -> dict[int, MeridianBadKind]:
    """Which packages of an initial catalogue (or drop) are broken: ~1%, at least one of each kind."""
    keys = [asset_id(film.source_id) for film in films]
    picked = pick_bad(keys, list(MeridianBadKind), PROVIDER, BAD_SHARE)
    return {source_of(key): MeridianBadKind(kind) for key, kind in picked.items()}


def published_bad_kind(film: Film) -> MeridianBadKind | None:
    """Whether a package published later is broken: a 1% coin toss."""
    if stable_fraction(PROVIDER, "bad-new", film.source_id) >= BAD_SHARE:
        return None
    kinds = list(MeridianBadKind)
    return kinds[int(stable_fraction(PROVIDER, "bad-new-kind", film.source_id) * len(kinds))]


def _flaws(kinds: Mapping[int, MeridianBadKind]) -> list[Flaw]:
    return sorted(
        (Flaw(asset_id(source), kind.value, REASONS[kind]) for source, kind in kinds.items()), key=lambda f: f.id
    )


def deliberately_bad(size: int = MERIDIAN_DEFAULT_SIZE) -> list[Flaw]:
    """The deliberately bad packages of a fresh meridian catalogue of ``size`` (before any publish)."""
    return _flaws(catalogue_bad_kinds(meridian_split(size)[0]))


@functools.cache
def _delivery_stamps() -> dict[int, datetime]:
    # over the whole region, so a film's first delivery does not depend on the catalogue size or the drop
    return spread_updated_at(region_films(PROVIDER), f"{PROVIDER}-updated")


@dataclass
class Package:
    """One package and its versions: ``versions[i]`` = (version, updated_at, fields)."""

    film: Film
    versions: list[tuple[Version, datetime, Fields]]

    @property
    def latest(self) -> tuple[Version, datetime, Fields]:
        """The newest version."""
        return self.versions[-1]


class MeridianStore(OpLogStore):
    """meridian's packages and their version history, with publish and persistence (``meridian.json``).

    ``publish(new, changed)``: ``new`` packages from the reserve (version 1.0); ``changed`` packages chosen by a
    hash of the publish number get one visible change (rating, title casing, licensing window end, summary:
    minor version; runtime: major version). Deliberately bad packages are never changed. Both are stamped now.
    """

    provider = PROVIDER

    def __init__(
        self,
        size: int = MERIDIAN_DEFAULT_SIZE,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.size = size
        self._catalogue, self._reserve = meridian_split(size)
        self._films = {film.source_id: film for film in (*self._catalogue, *self._reserve)}
        super().__init__({"size": size}, state_dir, clock)

    def _initial(self) -> None:
        stamps = _delivery_stamps()
        self._bad = catalogue_bad_kinds(self._catalogue)
        self._packages: dict[str, Package] = {}
        for film in self._catalogue:
            delivered = stamps[film.source_id]
            fields = base_fields(film, delivered, self._bad.get(film.source_id))
            self._packages[asset_id(film.source_id)] = Package(film, [((1, 0), delivered, fields)])
        self._published = 0
        self._index()

    def _index(self) -> None:
        self._sorted = sorted((pkg.latest[1], pid) for pid, pkg in self._packages.items())

    def _apply(self, op: Op) -> None:
        stamp = datetime.fromisoformat(op["at"])
        if op["op"] == "new":
            film = self._films[int(op["source_id"])]
            bad = published_bad_kind(film)
            if bad is not None:
                self._bad[film.source_id] = bad
            self._packages[asset_id(film.source_id)] = Package(film, [((1, 0), stamp, base_fields(film, stamp, bad))])
            self._published += 1
        else:
            package = self._packages[op["package_id"]]
            version, _, fields = package.latest
            changed = fields | {op["field"]: op["value"], "created": stamp.date().isoformat()}
            package.versions.append((bump(version, op["field"]), stamp, changed))
        self._index()

    def _plan(self, seq: int, stamp: datetime, new: int, changed: int) -> tuple[list[Op], PublishResult]:
        with self._lock:
            available = len(self._reserve) - self._published
            if new > available:
                raise PublishError(f"the reserve holds {available} more packages, {new} asked")
            stamp = stamp.replace(microsecond=0)
            bad_ids = {asset_id(source) for source in self._bad}
            candidates = [pid for pid in self._packages if pid not in bad_ids]
            if changed > len(candidates):
                raise PublishError(f"only {len(candidates)} packages can change, {changed} asked")
            films = self._reserve[self._published : self._published + new]
            at = stamp.isoformat()
            ops: list[Op] = [{"op": "new", "source_id": film.source_id, "at": at} for film in films]
            chosen = sorted(candidates, key=lambda pid: stable_fraction(PROVIDER, "change", seq, pid))[:changed]
            for pid in sorted(chosen):
                field, value = plan_change(self._packages[pid].latest[2], pid, seq)
                ops.append({"op": "change", "package_id": pid, "field": field, "value": value, "at": at})
            return ops, PublishResult(new=[asset_id(film.source_id) for film in films], changed=sorted(chosen))

    # -- queries -----------------------------------------------------------------------------------------------

    def listing(self, since: datetime | None, page: int, page_size: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of ``{"package_id","version","updated_at","url"}`` (latest versions) and whether more follow.

        Sorted by (updated_at, package_id); only ``updated_at >= since``.
        """
        with self._lock:
            rows = self._sorted
            start = 0 if since is None else bisect.bisect_left(rows, (since, ""))
            first = start + (page - 1) * page_size
            selected = rows[first : first + page_size]
            entries = []
            for stamp, pid in selected:
                version = self._packages[pid].latest[0]
                entries.append(
                    {
                        "package_id": pid,
                        "version": version_text(version),
                        "updated_at": format_timestamp(stamp),
                        "url": package_url(pid, version),
                    }
                )
            return entries, first + page_size < len(rows)

    def document(self, package_id: str, version: str, malformed: bool = False) -> str | None:
        """The ADI text of one version of a package, or ``None`` if there is no such package or version."""
        with self._lock:
            package = self._packages.get(package_id)
            if package is None:
                return None
            for candidate, _, fields in package.versions:
                if version_text(candidate) == version:
                    return render_adi(
                        package.film.source_id, candidate, malform_fields(fields) if malformed else fields
                    )
            return None

    def versions(self, package_id: str) -> list[str]:
        """Every version of a package, oldest first (empty for an unknown package)."""
        with self._lock:
            package = self._packages.get(package_id)
            return [] if package is None else [version_text(v) for v, _, _ in package.versions]

    def bad_items(self) -> list[Flaw]:
        """The deliberately bad packages served now (initial catalogue and published since)."""
        with self._lock:
            return _flaws(self._bad)


# -- file drops --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageFile:
    """One file written by :func:`write_packages`."""

    path: Path
    package_id: str
    version: str
    fault: FileFault | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (printed by the CLI)."""
        return {
            "path": str(self.path),
            "package_id": self.package_id,
            "version": self.version,
            "fault": None if self.fault is None else self.fault.value,
        }


_XXE_DOCTYPE = '<!DOCTYPE ADI [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
_BOMB_DOCTYPE = (
    '<!DOCTYPE ADI [\n  <!ENTITY lol "lol">\n  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    + "".join(f'  <!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">\n' for n in range(2, 10))
    + "]>\n"
)
_ADI3_ROOT = '<ADI3 xmlns="http://www.scte.org/schemas/236/2017/core">'


def faulty_document(text: str, fault: FileFault, fields: Fields) -> bytes:
    """``text`` (a good ADI document) broken in the way ``fault`` says."""
    if fault is FileFault.TRUNCATED:
        raw = text.encode()
        return raw[: len(raw) // 2]
    if fault is FileFault.WRONG_ROOT:
        return text.replace("<ADI>", _ADI3_ROOT, 1).replace("</ADI>", "</ADI3>").encode()
    title_line = f'Name="Title" Value={quoteattr(str(fields["title"]))}/>'
    if fault is FileFault.MISSING_TITLE:
        lines = [line for line in text.splitlines(keepends=True) if title_line not in line]
        return "".join(lines).encode()
    doctype = '<!DOCTYPE ADI SYSTEM "ADI.DTD">\n'
    if fault is FileFault.XXE:
        text = text.replace(doctype, _XXE_DOCTYPE, 1)
        return text.replace("    <Metadata>\n", "    <Metadata>&xxe;\n", 1).encode()
    text = text.replace(doctype, _BOMB_DOCTYPE, 1)
    return text.replace(title_line, 'Name="Title" Value="&lol9;"/>', 1).encode()


def _write_atomically(path: Path, data: bytes) -> None:
    with replaced_atomically(path) as handle:
        handle.write(data)


def file_name(package_id: str, version: Version) -> str:
    """``MRDN1000000000014562-v1.0.xml``."""
    return f"{package_id}-v{version_text(version)}.xml"


def drop_versions(
    film: Film, count: int, enabled: frozenset[Imperfection], bad: MeridianBadKind | None
) -> list[tuple[Version, date, Fields]]:
    """The first ``count`` versions of ``film``'s package in a file drop: 1.0, then one change a week."""
    delivered = _delivery_stamps()[film.source_id]
    fields = base_fields(film, delivered, bad, enabled)
    versions: list[tuple[Version, date, Fields]] = [((1, 0), delivered.date(), fields)]
    pid = asset_id(film.source_id)
    for seq in range(2, count + 1):
        version, day, fields = versions[-1]
        day = day + timedelta(days=7)
        field, value = plan_change(fields, pid, seq)
        versions.append((bump(version, field), day, fields | {field: value, "created": day.isoformat()}))
    return versions


def write_packages(
    directory: Path | str,
    count: int = 50,
    *,
    offset: int = 0,
    versions: int = 1,
    fault: FileFault | str | None = None,
    imperfections: Iterable[Imperfection | str] | None = None,
    bad_packages: bool = True,
) -> list[PackageFile]:
    """Write a deterministic drop of ADI files, one per package version, each written then renamed into place.

    Args:
        directory: created if missing.
        count: packages, taken from meridian's region (shared slice first) starting at ``offset``.
        offset: first region position (0 .. 3149); successive drops with growing offsets bring new titles.
        versions: versions per package, each its own file: 1.0, then one change a week (minor for metadata,
            major for a runtime change), as :func:`plan_change` decides.
        fault: break the FIRST package's first file (see :class:`FileFault`); the rest stay good.
        imperfections: which title imperfections to apply (``None``: all; empty: clean titles).
        bad_packages: include the ~1% deliberately bad packages (:func:`drop_bad_items` lists them).

    Returns:
        The files written, in writing order (each package's versions oldest first).

    Raises:
        ValueError: for a count, offset or versions out of range, or an unknown fault or imperfection.
    """
    films = _drop_films(count, offset)
    if versions < 1:
        raise ValueError(f"versions must be >= 1, got {versions}")
    chosen = select_imperfections(imperfections)
    broken = None if fault is None else FileFault(str(fault))
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    bad = _drop_bad_kinds(films) if bad_packages else {}
    written = []
    for index, film in enumerate(films):
        pid = asset_id(film.source_id)
        for number, (version, _, fields) in enumerate(drop_versions(film, versions, chosen, bad.get(film.source_id))):
            text = render_adi(film.source_id, version, fields)
            file_fault = broken if index == 0 and number == 0 else None
            data = text.encode() if file_fault is None else faulty_document(text, file_fault, fields)
            path = target / file_name(pid, version)
            _write_atomically(path, data)
            written.append(PackageFile(path, pid, version_text(version), file_fault))
    return written


def _drop_films(count: int, offset: int) -> tuple[Film, ...]:
    films = region_films(PROVIDER)
    if not 0 <= offset < len(films) or not 1 <= count <= len(films) - offset:
        raise ValueError(f"meridian drops take 1 .. {len(films) - offset} packages from offset 0 .. {len(films) - 1}")
    return films[offset : offset + count]


def _drop_bad_kinds(films: tuple[Film, ...]) -> dict[int, MeridianBadKind]:
    # never the first package: that is the one a file fault breaks, and it must stay otherwise valid
    return catalogue_bad_kinds(films[1:]) if len(films) > 1 else {}


def drop_bad_items(count: int = 50, offset: int = 0) -> list[Flaw]:
    """The deliberately bad packages of a file drop written with the same ``count`` and ``offset``."""
    return _flaws(_drop_bad_kinds(_drop_films(count, offset)))
