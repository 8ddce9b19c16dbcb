"""How store chunks are encoded on disk: Zstd compression, then a CRC32C checksum per chunk.

Why the checksum: without it a few flipped or overwritten bytes inside a compressed chunk can
still decode, into values like ±3e38 that train and score silently. With `crc32c` as the last
codec every read recomputes the chunk's checksum and a damaged chunk fails to decode, naming
itself. The cost is 4 bytes per chunk and a hardware CRC per read. This is the one place that
chooses the codecs; every store writer takes its encoding from here.
"""

from __future__ import annotations

from typing import Any

from zarr.codecs import Crc32cCodec, ZstdCodec

CHECKSUM_CODEC = "crc32c"


def chunk_codecs() -> dict[str, Any]:
    """xarray `to_zarr` encoding entries for one variable: compress, then checksum."""
    # level 0 is zstd's default (3), the same compression zarr 3 picks when asked for nothing
    return {"compressors": (ZstdCodec(level=0), Crc32cCodec())}


def has_checksum(array: Any) -> bool:
    """Whether a zarr v3 array's chunks carry a checksum (stores written before this did not)."""
    codecs = getattr(getattr(array, "metadata", None), "codecs", ()) or ()
    return any(getattr(codec, "to_dict", lambda: {})().get("name") == CHECKSUM_CODEC for codec in codecs)
