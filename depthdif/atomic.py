"""Atomic writes: a reader never sees half a results table, plot, config or export.

Files are written to a temp name beside the target and renamed into place (`os.replace` is
atomic on POSIX filesystems); folders are built aside and swapped in, the old one removed last.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path` (same suffix, so writers infer the format); replace on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results and plots are for sharing
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def swap_into_place(tmp: Path, out: Path) -> None:
    """Rename a finished temp folder into place; an existing one is moved aside first (and put back
    if the rename fails), then removed: readers see the old folder or the new one, never a mix."""
    aside = None
    if out.exists():
        aside = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, aside)
    try:
        os.replace(tmp, out)
    except OSError:
        if aside is not None:
            os.replace(aside, out)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
