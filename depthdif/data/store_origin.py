"""Who wrote a store folder: depthdif replaces or rebuilds only folders it wrote itself.

A Zarr that depthdif did not write (a `predict` output, another tool's store, a user folder)
is never deleted, whatever `--overwrite` says: the marker written last by `write_store`
(`.depthdif_complete`), or at least the store's own `config.yaml` when the marker is gone (an
interrupted copy), is what makes a folder ours. Nothing here modifies the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from depthdif.data import schema as S


@dataclass(frozen=True)
class StoreOrigin:
    """A local folder that may hold a store: whether it exists, is complete, is ours, and the
    generator config (e.g. SynthConfig fields) recorded in its config.yaml."""

    path: Path
    exists: bool
    complete: bool
    ours: bool
    generator: dict | None


def store_origin(path: str | Path) -> StoreOrigin:
    path = Path(path)
    complete = (path / S.COMPLETE_MARKER).is_file()
    recorded = None
    try:
        recorded = yaml.safe_load((path / S.CONFIG_FILE).read_text())
    except (OSError, yaml.YAMLError):
        pass
    has_config = isinstance(recorded, dict) and "store" in recorded
    generator = recorded.get("generator") if has_config else None
    return StoreOrigin(path, path.exists(), complete, complete or has_config,
                       generator if isinstance(generator, dict) else None)


def refuse_foreign_store(path: str | Path) -> None:
    """Raise FileExistsError unless `path` is absent, an empty folder, or a store depthdif wrote."""
    path = Path(path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    if path.is_file() or not store_origin(path).ours:
        raise FileExistsError(f"{path}: exists and is not a depthdif store (no {S.COMPLETE_MARKER} marker and no "
                              f"store {S.CONFIG_FILE}: e.g. a prediction output or another tool's Zarr); "
                              "refusing to replace it")
