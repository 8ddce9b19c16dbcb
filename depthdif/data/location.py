"""Where a store lives: a local directory or an fsspec URI (s3://, gs://, memory://, ...).

Reading code asks this object for files and the Zarr store, so the same code reads a local path
on a laptop and a bucket on a cluster. Local paths keep the plain pathlib / zarr-path fast path;
only URIs go through fsspec. Writing stores stays local-only (see depthdif/data/store.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def is_uri(value: str | Path) -> bool:
    """True for 'scheme://...' strings (a pathlib.Path is always local)."""
    return isinstance(value, str) and "://" in value and not value.startswith("file://")


def store_source(value: str | Path) -> str | Path:
    """A local store as a Path, a URI unchanged: plain values that pickle to any worker."""
    if isinstance(value, StoreLocation):
        return value.source
    if isinstance(value, str) and value.startswith("file://"):
        return Path(value.removeprefix("file://"))
    return value if is_uri(value) else Path(value)


def absolute(value: str | Path) -> str:
    """An absolute local path (workers run elsewhere); a URI is already absolute and stays as is."""
    source = store_source(value)
    return source if isinstance(source, str) else str(source.expanduser().resolve())


class StoreLocation:
    """A store root, local or remote, with the few reads the store layer needs."""

    def __init__(self, value: str | Path):
        self.source = store_source(value)
        self.is_local = isinstance(self.source, Path)
        self._fs: Any = None  # fsspec filesystem, made on first remote access (never pickled)

    @property
    def path(self) -> Path:
        """The local directory; remote locations have none."""
        if not self.is_local:
            raise ValueError(f"{self}: a remote store has no local path")
        return self.source

    def __str__(self) -> str:
        return str(self.source)

    def __repr__(self) -> str:
        return f"StoreLocation({str(self)!r})"

    def _remote(self) -> tuple[Any, str]:
        """(fsspec filesystem, root path inside it) for a URI."""
        if self._fs is None:
            from fsspec.core import url_to_fs

            self._fs, self._root = url_to_fs(self.source)
        return self._fs, self._root.rstrip("/")

    def _key(self, name: str) -> str:
        fs, root = self._remote()
        return f"{root}/{name}"

    def is_dir(self) -> bool:
        if self.is_local:
            return self.source.is_dir()
        fs, root = self._remote()
        return fs.isdir(root)

    def exists(self, name: str) -> bool:
        """Whether file `name` exists directly under the store root."""
        if self.is_local:
            return (self.source / name).exists()
        fs, _ = self._remote()
        return fs.exists(self._key(name))

    def read_bytes(self, name: str) -> bytes:
        if self.is_local:
            return (self.source / name).read_bytes()
        fs, _ = self._remote()
        return fs.cat_file(self._key(name))

    def read_text(self, name: str) -> str:
        if self.is_local:
            return (self.source / name).read_text()
        return self.read_bytes(name).decode("utf-8")

    def count_files(self, prefix: str) -> int:
        """Files below folder `prefix` (recursively); 0 when it does not exist. One listing per
        prefix on object stores (paginated), so it costs seconds on very large stores."""
        if self.is_local:
            root = self.source / prefix
            return sum(len(files) for _, _, files in os.walk(root)) if root.exists() else 0
        fs, _ = self._remote()
        key = self._key(prefix)
        return len(fs.find(key)) if fs.exists(key) else 0

    def zarr_store(self) -> Any:
        """What xarray.open_zarr / zarr.open_group take: the path string, or a read-only FsspecStore."""
        if self.is_local:
            return str(self.source)
        from zarr.storage import FsspecStore

        return FsspecStore.from_url(self.source, read_only=True)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_fs"] = None  # filesystems hold sessions and event loops: each process makes its own
        return state
