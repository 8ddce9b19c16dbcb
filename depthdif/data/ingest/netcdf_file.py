"""Open NetCDF inputs so that a truncated or short file is an error naming it, never silent data.

netCDF-C reads past the end of a truncated classic (CDF-1/2/5) file as fill values: a cut GDAC file
then ingests with rc 0 and a fraction of its profiles. The classic header says where every
variable's data start (`begin`) and how long they are, so the expected size is known before any
read; a file shorter than that is refused. NetCDF-4 (HDF5) files record their end-of-file address
in the superblock and the HDF5 library refuses a truncated one on open (an OSError we name).
"""

from __future__ import annotations

import struct
from pathlib import Path

import netCDF4
import xarray as xr

from .conventions import IngestError

CLASSIC_MAGIC = b"CDF"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_DIMENSION, _VARIABLE, _ATTRIBUTE = 10, 11, 12


class _Header:
    """A cursor over the classic header bytes (big-endian; CDF-5 uses 64-bit counts)."""

    def __init__(self, data: bytes, version: int):
        self.data, self.pos, self.version = data, 4, version

    def int32(self) -> int:
        value = struct.unpack_from(">i", self.data, self.pos)[0]
        self.pos += 4
        return value

    def count(self) -> int:
        if self.version == 5:
            value = struct.unpack_from(">q", self.data, self.pos)[0]
            self.pos += 8
            return value
        return self.int32()

    def offset(self) -> int:
        if self.version == 1:
            return self.int32()
        value = struct.unpack_from(">q", self.data, self.pos)[0]
        self.pos += 8
        return value

    def skip_padded(self, n_bytes: int) -> None:
        self.pos += (n_bytes + 3) // 4 * 4

    def name(self) -> None:
        self.skip_padded(self.count())

    def attributes(self) -> None:
        tag, n = self.int32(), self.count()
        if tag not in (0, _ATTRIBUTE):
            raise ValueError(f"bad attribute list tag {tag}")
        for _ in range(n):
            self.name()
            nc_type = self.int32()
            self.skip_padded(self.count() * _TYPE_SIZES[nc_type])


def classic_expected_size(path: Path) -> int | None:
    """Bytes a classic NetCDF file must have (from its header), or None if it is not classic."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head[:3] != CLASSIC_MAGIC or head[3] not in (1, 2, 5):
            return None
        data = head + fh.read(1 << 24)  # headers are small; 16 MiB covers any real one
    h = _Header(data, head[3])
    numrecs = h.count()
    tag, n_dims = h.int32(), h.count()
    dims = []
    for _ in range(n_dims if tag == _DIMENSION else 0):
        h.name()
        dims.append(h.count())
    h.attributes()
    tag, n_vars = h.int32(), h.count()
    ends, record_sizes, record_vars = [], 0, []
    for _ in range(n_vars if tag == _VARIABLE else 0):
        h.name()
        dim_ids = [h.count() for _ in range(h.count())]
        h.attributes()
        nc_type, vsize, begin = h.int32(), h.count(), h.offset()
        shape = [dims[d] for d in dim_ids]
        is_record = bool(shape) and shape[0] == 0
        n_values = 1
        for size in shape[1:] if is_record else shape:
            n_values *= size
        data_bytes = n_values * _TYPE_SIZES[nc_type]
        if is_record:
            record_sizes += vsize
            record_vars.append((begin, data_bytes))
        else:
            ends.append(begin + data_bytes)
    if numrecs > 0 and numrecs != 0xFFFFFFFF:
        record_size = record_sizes if len(record_vars) > 1 else record_vars[0][1] if record_vars else 0
        ends += [begin + (numrecs - 1) * record_size + size for begin, size in record_vars]
    return max(ends, default=h.pos)


def check_complete(path: str | Path, what: str) -> Path:
    """Refuse a missing, short or truncated NetCDF file, naming it and its role."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} file not found")
    size = path.stat().st_size
    if size < 8:
        raise IngestError(path, f"truncated or empty {what} file ({size} bytes)")
    try:
        expected = classic_expected_size(path)
    except (struct.error, KeyError, IndexError, ValueError) as exc:
        raise IngestError(path, f"truncated {what} file: the NetCDF header is cut or damaged ({exc})") from exc
    if expected is not None and size < expected:
        raise IngestError(path, f"truncated {what} file: {size} bytes, but its header describes {expected} "
                                "(an interrupted download?)")
    return path


def open_dataset(path: str | Path, what: str, **kwargs) -> xr.Dataset:
    """xarray view of a checked NetCDF file (lazy: values are read when indexed)."""
    path = check_complete(path, what)
    try:
        return xr.open_dataset(path, engine="netcdf4", **kwargs)
    except (OSError, ValueError, RuntimeError) as exc:
        raise IngestError(path, f"not a readable {what} NetCDF file ({exc})") from exc


def open_raw(path: str | Path, what: str) -> netCDF4.Dataset:
    """netCDF4 handle of a checked file (GDAC char arrays need the raw API)."""
    path = check_complete(path, what)
    try:
        return netCDF4.Dataset(path)
    except OSError as exc:
        raise IngestError(path, f"not a readable {what} NetCDF file ({exc})") from exc
