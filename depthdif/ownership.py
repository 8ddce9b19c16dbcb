"""Never delete or write over what depthdif did not write.

Run, study and export directories are recognized by files only depthdif writes there (their
markers). A folder that exists, is not empty and has none of them belongs to someone else (a
home directory, another tool's output, a mistyped `--out`): it is refused with its path and the
reason, whatever `--overwrite` says. Stores have their own, stricter rule
(depthdif/data/store_origin.py).
"""

from __future__ import annotations

import os
from pathlib import Path

STUDY_MARKERS = ("study.yaml", "driver.lock")  # study/spec.py, study/driver_lock.py
EXPORT_MARKERS = ("metadata.json", "MANIFEST.sha256")  # export.py (METADATA, MANIFEST)


def is_ours(path: str | os.PathLike, markers: tuple[str, ...]) -> bool:
    """True when `path` is absent, an empty folder, or a folder holding one of `markers`."""
    path = Path(path)
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    return not any(path.iterdir()) or any((path / marker).exists() for marker in markers)


def refuse_foreign(path: str | os.PathLike, markers: tuple[str, ...], what: str) -> None:
    """Raise FileExistsError naming `path` unless depthdif may use (and replace) it as a `what`."""
    if not is_ours(path, markers):
        kind = "a file" if Path(path).is_file() else "a non-empty folder without " + " or ".join(markers)
        raise FileExistsError(f"{path}: exists and is not a depthdif {what} ({kind}); refusing to write "
                              "over it: choose another path or move it away yourself")
