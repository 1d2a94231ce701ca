"""Drop folders: where provider files land, which of them are ready, and where they go once handled.

The contract (README, "CSV drops"): a producer writes a temporary name (a dotfile, ``*.tmp`` or ``*.part``) and
renames it into place, so only names with the provider's final extension, at the folder's top level, are ever
read. A loaded file moves to ``archive/``, a rejected one to ``rejected/`` with ``<name>.reason`` beside it.

Why the care with paths: the name to ingest arrives from outside (a flow parameter, an event payload anyone with
API access can emit, a person's command line). Nothing outside the folder may be read or moved: names are
resolved and must sit directly in the folder; symlinks are never followed (a symlink is rejected and the link
itself moved, its target untouched); special files and hard links are refused; ``archive/`` and ``rejected/``
must be real folders (a link there would move files out); a name with a control character is rejected unread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from vodflow.settings import get_settings

ARCHIVE = "archive"
REJECTED = "rejected"
REASON_SUFFIX = ".reason"
#: Names a producer writes before its rename; never read, even with the right extension before them.
TEMPORARY_SUFFIXES = (".tmp", ".part")
_READ_BUFFER = 1 << 20
_CONTROL_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")


class DropPathError(ValueError):
    """A path that names nothing ingestible inside the drop folder (outside it, in a subfolder, a wrong name)."""


class FileRejectedError(Exception):
    """A file that cannot be ingested as a whole; ``reason`` is what the ``.reason`` file and the ledger say."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unsafe_name_reason(name: str) -> str | None:
    """Why a file is refused for its name alone (a control character, such as a line feed), or None.

    Names travel into the ledger, ``.reason`` files, logs, run names and alerts, where a line feed or an escape
    sequence could forge a line or rewrite a terminal. Such a file is rejected unread, with this reason.
    """
    found = _CONTROL_IN_NAME.search(name)
    if found is None:
        return None
    return (
        f"the file name holds a control character (U+{ord(found.group()):04X}), which could forge lines in logs "
        "and reason files: rename the file; it was not read"
    )


def drop_dir(provider: str) -> Path:
    """The provider's drop folder: ``VODFLOW_<PROVIDER>_DROP_DIR``, default ``<data dir>/drops/<provider>``."""
    configured = os.environ.get(f"VODFLOW_{provider.upper()}_DROP_DIR", "").strip()
    return Path(configured).expanduser() if configured else get_settings().data_dir / "drops" / provider


def file_providers() -> dict[str, tuple[str, ...]]:
    """The registered providers that deliver files, with the final extensions of their files."""
    from vodflow.providers import PROVIDERS

    found = {name: getattr(provider, "drop_suffixes", None) for name, provider in PROVIDERS.items()}
    return {name: suffixes for name, suffixes in found.items() if suffixes}


def folder_for(provider: str) -> DropFolder:
    """The drop folder of a file provider.

    Raises:
        DropPathError: ``provider`` does not deliver files.
    """
    providers = file_providers()
    if provider not in providers:
        raise DropPathError(f"{provider} does not deliver files; only {', '.join(sorted(providers))} take --path")
    return DropFolder.for_provider(provider, providers[provider])


@dataclass(frozen=True)
class DropFolder:
    """One provider's drop folder and the rules for the files in it."""

    provider: str
    root: Path
    suffixes: tuple[str, ...]

    @classmethod
    def for_provider(cls, provider: str, suffixes: tuple[str, ...]) -> DropFolder:
        """The folder from the settings, created if missing, with its path resolved once (symlinks and all)."""
        root = drop_dir(provider)
        root.mkdir(parents=True, exist_ok=True)
        return cls(provider, root.resolve(strict=True), tuple(s.lower() for s in suffixes))

    def is_ready_name(self, name: str) -> bool:
        """Whether ``name`` is a final name this provider reads (not hidden, not temporary, right extension)."""
        lowered = name.lower()
        return (
            bool(name)
            and "/" not in name
            and "\x00" not in name
            and not name.startswith(".")
            and not lowered.endswith(TEMPORARY_SUFFIXES)
            and lowered.endswith(self.suffixes)
        )

    def waiting(self) -> list[str]:
        """Ready names at the top level, oldest first (symlinks included: they are rejected, never followed)."""
        found: list[tuple[int, str]] = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not self.is_ready_name(entry.name):
                    continue
                try:
                    if entry.is_symlink() or entry.is_file(follow_symlinks=False):
                        found.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name))
                except FileNotFoundError:  # taken by a run between listing and looking
                    continue
        return [name for _, name in sorted(found)]

    def resolve(self, path: str) -> list[str]:
        """The names a ``path`` parameter means: the folder itself (every waiting file) or one file in it.

        ``path`` may be relative to the folder or absolute. A name that does not exist (any more) is returned
        as is: another run may have taken it, which is not an error.

        Raises:
            DropPathError: the path leads outside the folder or into a subfolder, or is not a ready name.
        """
        if "\x00" in path:
            raise DropPathError("path contains a NUL character")
        given = Path(path.strip() or ".")
        candidate = given if given.is_absolute() else self.root / given
        if os.path.realpath(candidate) == str(self.root):
            return self.waiting()
        parent = Path(os.path.realpath(candidate.parent))
        if parent != self.root or candidate.name in ("", ".", ".."):
            raise DropPathError(
                f"{path!r} is not a file at the top level of the {self.provider} drop folder {self.root}; "
                "nothing outside it (or in its subfolders) is ingested"
            )
        if not self.is_ready_name(candidate.name):
            raise DropPathError(
                f"{candidate.name!r} is not a {self.provider} drop file: expected {' or '.join(self.suffixes)}, "
                f"and temporary names (dotfiles, {', '.join(TEMPORARY_SUFFIXES)}) are never read"
            )
        return [candidate.name]

    def resolve_all(self, paths: str | list[str] | None) -> list[str]:
        """:meth:`resolve` for one path, several, or None (every waiting file); duplicates dropped, order kept."""
        if paths is None:
            return self.waiting()
        names: list[str] = []
        for path in [paths] if isinstance(paths, str) else paths:
            names.extend(name for name in self.resolve(path) if name not in names)
        return names

    def open_ready(self, name: str) -> BinaryIO:
        """Open a ready file for reading without ever following a symlink.

        Raises:
            FileNotFoundError: the file is gone (another run took it).
            FileRejectedError: a symlink, a special file or a hard link.
        """
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.root / name, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FileRejectedError("a symbolic link: only regular files are read, never links") from None
            raise
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise FileRejectedError("not a regular file")
        if info.st_nlink > 1:
            os.close(fd)
            raise FileRejectedError("a hard link: the file has other names, possibly outside the drop folder")
        return os.fdopen(fd, "rb", buffering=_READ_BUFFER)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is (still) in the folder, as a file or a link."""
        return os.path.lexists(self.root / name)

    def _subfolder(self, folder: str) -> Path:
        """``archive/`` or ``rejected/``, created if missing.

        Raises:
            DropPathError: it is a symbolic link (or not a folder): moving a file "into" it would write it outside
                the drop folder, wherever the link points.
        """
        target = self.root / folder
        with contextlib.suppress(FileExistsError):
            target.mkdir()
        mode = os.lstat(target).st_mode
        if not stat.S_ISDIR(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
            raise DropPathError(
                f"{folder}/ in the {self.provider} drop folder {self.root} is {kind}: files are moved into a real "
                "subfolder only, never through a link to somewhere outside the drop folder"
            )
        return target

    def destination(self, name: str, folder: str) -> str:
        """A free name for ``name`` in ``archive/`` or ``rejected/``, relative to the root.

        A re-dropped file keeps its earlier copy: the newcomer gets a time stamp before its extension.

        Raises:
            DropPathError: the subfolder is a symbolic link (see :meth:`_subfolder`).
        """
        target = self._subfolder(folder)
        if not os.path.lexists(target / name):
            return f"{folder}/{name}"
        stem, dot, suffix = name.rpartition(".")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        return f"{folder}/{stem}.{stamp}{dot}{suffix}" if dot else f"{folder}/{name}.{stamp}"

    def move(self, name: str, stored_as: str) -> None:
        """Move a file (or the link itself) to ``stored_as``, a path from :meth:`destination`."""
        os.rename(self.root / name, self.root / stored_as)

    def archive_read(self, name: str, stored_as: str, read: os.stat_result) -> str | None:
        """Move the file just read (``read``: its ``fstat``) to ``stored_as``; the name of a newcomer, if any.

        A producer may replace ``name`` (write, then rename over it) while a run reads the old file. Moving by
        name would then archive the newcomer unread, and its rows would never load. So the file is moved first
        and its identity checked after: if it is not the file that was read, it goes back to the top level
        (``name`` if free, else a time-stamped name; never over another file) and that name is returned, to be
        read like any waiting file. Returns None when the file moved was the one read, or is gone.
        """
        try:
            os.rename(self.root / name, self.root / stored_as)
        except FileNotFoundError:
            return None
        moved = os.lstat(self.root / stored_as)
        if (moved.st_ino, moved.st_dev) == (read.st_ino, read.st_dev):
            return None
        newcomer = name if not os.path.lexists(self.root / name) else self.destination(name, ".").removeprefix("./")
        os.link(self.root / stored_as, self.root / newcomer, follow_symlinks=False)  # refuses to overwrite
        os.unlink(self.root / stored_as)
        return newcomer

    def keep_copy(self, handle: BinaryIO, stored_as: str) -> None:
        """Write what ``handle`` read to ``stored_as`` (write, then rename): the archive of a file replaced since."""
        final = self.root / stored_as
        temporary = final.with_name(f".{final.name}.part")
        handle.seek(0)
        with open(temporary, "wb") as copy:
            shutil.copyfileobj(handle, copy, _READ_BUFFER)
        os.replace(temporary, final)

    def write_reason(self, stored_as: str, text: str) -> None:
        """Write ``<stored_as>.reason`` beside a rejected file (write, then rename: never half a reason)."""
        final = self.root / f"{stored_as}{REASON_SUFFIX}"
        temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.part")
        temporary.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(temporary, final)

    def submit(self, source: Path) -> str:
        """Put a file given by a person into the folder (copy to a temporary name, then rename) and return its name.

        A file already at the folder's top level is used in place. A name already waiting there is not
        overwritten: the copy gets a time stamp before its extension.

        Raises:
            DropPathError: ``source`` is not a file with a ready name.
        """
        if not source.is_file():
            raise DropPathError(f"{source} is not a file")
        resolved = source.resolve()
        if resolved.parent == self.root:
            return self.resolve(resolved.name)[0]
        if not self.is_ready_name(source.name):
            raise DropPathError(f"{source.name!r} is not a {self.provider} drop file ({' or '.join(self.suffixes)})")
        name = source.name
        if os.path.lexists(self.root / name):
            stem, _, suffix = name.rpartition(".")
            name = f"{stem}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}.{suffix}"
        temporary = self.root / f".{name}.{uuid.uuid4().hex}.part"
        try:
            with source.open("rb") as src, temporary.open("wb") as dst:
                shutil.copyfileobj(src, dst, _READ_BUFFER)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(temporary, self.root / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return name

    def submit_all(self, sources: list[Path]) -> list[str]:
        """:meth:`submit` for files and folders (a folder: its ready files, not its subfolders)."""
        names: list[str] = []
        for source in sources:
            if source.is_dir():
                files = sorted(p for p in source.iterdir() if p.is_file() and self.is_ready_name(p.name))
                if source.resolve() == self.root:
                    names.extend(p.name for p in files)
                    continue
                names.extend(self.submit(p) for p in files)
            else:
                names.append(self.submit(source))
        return names
