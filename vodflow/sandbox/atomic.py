"""Write a file so that readers see either the old one or the whole new one: the write-then-rename convention."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def replaced_atomically(path: Path, *, suffix: str = ".part") -> Iterator[BinaryIO]:
    """A binary handle on a hidden temporary file beside ``path``, renamed onto ``path`` when the block succeeds.

    The temporary name (``.<name>.<random><suffix>``) is one drop-folder readers ignore; the data is fsynced before
    the rename, and a failure removes the temporary file and leaves ``path`` as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
