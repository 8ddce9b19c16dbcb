"""Loader throughput for a store far larger than the chunk cache: chunk-aware vs window shuffling.

    python -m depthdif.benchmarks.loader            # 256x256 grid, 12 steps, 50 levels (~5-10 min)
    python -m depthdif.benchmarks.loader --quick    # 4 steps (a smoke run: the store is too small for 10x)

One synthetic store per chunking (the new default of data/chunking.py, and the 64x64 chunks stores
had before), each read by the same DataLoader (2 worker processes, batch 16, persistent workers)
over its train split, several epochs, with a per-reader chunk cache a tenth (or less) of the
decoded train data. Variants, interleaved epoch by epoch so background load hits them alike:
- RAM: the same windows from arrays loaded into each worker's memory, uniformly shuffled;
- zarr, window shuffle: a uniform permutation read through the chunk cache (the order before);
- zarr, chunk shuffle: `ChunkShuffle` (data/chunk_sampler.py), a buffer of decoded chunk blocks.
Throughput is samples per CPU-second of the loader (the workers' and the main process's CPU time,
read from /proc): other jobs on the shared box stretch wall time, not CPU time. Wall samples/s is
shown beside it. Randomness of each order: the lag-1 correlation of consecutive batches' mean
window position (time, row, column; ~0 for a uniform shuffle, 1 for a sorted order) and the
distinct chunk blocks per batch. Only ratios within one run are claims.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from depthdif.benchmarks.report import benchmark_parser, machine_line, publish
from depthdif.data.chunk_sampler import ChunkShuffle, chunk_layout, straddles, window_blocks
from depthdif.data.dataset import PatchDataset
from depthdif.data.store import OceanStore
from depthdif.data.synthetic import SynthConfig, make_synthetic_store

WORKERS, BATCH = 2, 16
OLD_CHUNK = 64


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its live children (the loader workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = time.process_time()
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if fields[1] == me:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Variant:
    """One loader over the train split, kept alive (persistent workers) across epochs."""

    def __init__(self, name: str, dataset: PatchDataset, sampler: torch.utils.data.Sampler):
        self.name, self.dataset, self.sampler = name, dataset, sampler
        self.loader = torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=BATCH, num_workers=WORKERS,
                                                  persistent_workers=True)
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        cpu, wall, n = cpu_seconds(), time.perf_counter(), 0
        for batch in self.loader:
            n += batch["x"].shape[0]
        self.wall.append(n / (time.perf_counter() - wall))
        self.cpu.append(n / (cpu_seconds() - cpu))


def variants(store: Path, cache_bytes: int, seed: int = 0) -> tuple[list[Variant], dict]:
    from depthdif.train.datamodule import SeededShuffle

    layout = chunk_layout(OceanStore.open(store, check_chunks=False).ds.data_vars)
    zarr = PatchDataset(store, "train", cache_bytes=cache_bytes)
    w = zarr.windows()
    blocks = window_blocks(w["time_index"], w["y0"], w["x0"], layout.edges)
    buffer = layout.buffer_blocks(cache_bytes, straddles(w["y0"], w["x0"], w["size"], layout.edges))
    facts = {"chunk": layout.edges[0], "blocks": int(blocks.max() + 1), "buffer_blocks": buffer,
             "windows": len(zarr), "decoded_mb": (blocks.max() + 1) * layout.block_bytes / 2**20,
             "cache_mb": cache_bytes / 2**20}
    made = [Variant("RAM", PatchDataset(store, "train", in_memory=True), SeededShuffle(len(zarr), seed)),
            Variant("zarr, window shuffle", zarr, SeededShuffle(len(zarr), seed)),
            Variant("zarr, chunk shuffle", PatchDataset(store, "train", cache_bytes=cache_bytes),
                    ChunkShuffle(blocks, batch_size=BATCH, num_workers=WORKERS, buffer_blocks=buffer, seed=seed))]
    return made, facts


def randomness(sampler: torch.utils.data.Sampler, dataset: PatchDataset, blocks: np.ndarray,
               epochs: int = 20) -> dict:
    """Over `epochs` epochs of the order alone: the lag-1 correlation of consecutive batches' mean
    (time, row, column), averaged over the three, and the distinct blocks per batch."""
    w = dataset.windows()
    position = np.stack([w["time_index"], w["y0"], w["x0"]], axis=1).astype(float)
    pairs, distinct = [], []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        order = np.array([int(getattr(r, "index", r)) for r in sampler])
        n = len(order) // BATCH * BATCH
        means = position[order[:n]].reshape(-1, BATCH, 3).mean(axis=1)
        pairs.append(np.concatenate([means[:-1], means[1:]], axis=1))  # consecutive batches of one epoch
        distinct += [len(set(blocks[order[i:i + BATCH]].tolist())) for i in range(0, n, BATCH)]
    pairs = np.concatenate(pairs)
    corr = [np.corrcoef(pairs[:, k], pairs[:, k + 3])[0, 1] for k in range(3) if pairs[:, k].std() > 0]
    return {"lag1_corr": float(np.mean(corr)), "blocks_per_batch": float(np.mean(distinct))}


def make_store(folder: Path, quick: bool, chunk: int | None) -> Path:
    size = dict(nlat=256, nlon=256, ntime=4 if quick else 12, n_levels=50)
    path = folder / f"store-{chunk or 'default'}.zarr"
    make_synthetic_store(SynthConfig(**size, patch_size=32, stride=32, chunk=chunk, seed=0), path, progress=False)
    return path


def run(quick: bool) -> dict:
    torch.set_num_threads(1)
    epochs = 2 if quick else 3
    with tempfile.TemporaryDirectory(prefix="depthdif-bench-loader-") as tmp:
        new, old = make_store(Path(tmp), quick, None), make_store(Path(tmp), quick, OLD_CHUNK)
        probe, facts = variants(new, 2**40)
        cache_bytes = int(facts["decoded_mb"] * 2**20 / 10)  # the train data is 10x the cache
        del probe
        made, facts = variants(new, cache_bytes)
        old_made, old_facts = variants(old, cache_bytes)
        made += old_made[1:]
        for v, chunk in zip(made, [facts["chunk"]] * 3 + [old_facts["chunk"]] * 2):
            v.name += f" ({chunk}x{chunk} chunks)" if v.name != "RAM" else ""
        for v in made:  # warm-up: workers start, RAM readers load the store, the land mask is cached
            v.epoch(-1)
            v.cpu, v.wall = [], []
        for epoch in range(epochs):
            for v in made if epoch % 2 == 0 else reversed(made):
                v.epoch(epoch)
            print(f"epoch {epoch}: " + ", ".join(f"{v.name} {v.cpu[-1]:.0f}" for v in made), file=sys.stderr)
        out = {"epochs": epochs, "new": facts, "old": old_facts, "variants": {}}
        for v, facts_of in zip(made, [facts] * 3 + [old_facts] * 2):
            layout = chunk_layout(OceanStore.open(v.dataset.store_path, check_chunks=False).ds.data_vars)
            w = v.dataset.windows()
            quality = randomness(v.sampler, v.dataset, window_blocks(w["time_index"], w["y0"], w["x0"], layout.edges))
            out["variants"][v.name] = {"cpu": v.cpu, "wall": v.wall, **quality}
        del made, old_made
    return out


def markdown(r: dict, quick: bool) -> str:
    ram = r["variants"]["RAM"]
    lines = []
    for name, v in r["variants"].items():
        per_epoch = " / ".join(f"{c / rc:.2f}" for c, rc in zip(v["cpu"], ram["cpu"]))
        ratio = np.mean(v["cpu"]) / np.mean(ram["cpu"])
        wall = np.mean(v["wall"]) / np.mean(ram["wall"])
        lines.append(f"| {name} | {np.mean(v['cpu']):.0f} | {per_epoch} | {ratio:.2f} | {np.mean(v['wall']):.0f} "
                     f"| {wall:.2f} | {v['lag1_corr']:+.2f} | {v['blocks_per_batch']:.1f} |")
    new, old = r["new"], r["old"]
    return f"""## Loader: a store 10x the chunk cache, chunk-aware vs window shuffling (`python -m depthdif.benchmarks.loader{' --quick' if quick else ''}`)

{machine_line()}. Synthetic store, 32x32 windows (stride 32), {new['windows']} train windows; DataLoader with
{WORKERS} worker processes, batch {BATCH}, persistent workers; one warm-up epoch per variant (workers start, RAM
readers load the store), then {r['epochs']} timed epochs per variant, interleaved epoch by epoch.
Chunk cache per reader: {new['cache_mb']:.0f} MiB; the train windows' chunks decode to {new['decoded_mb']:.0f} MiB
(default {new['chunk']}x{new['chunk']} chunks: {new['blocks']} blocks, buffer {new['buffer_blocks']} blocks per reader)
and {old['decoded_mb']:.0f} MiB ({OLD_CHUNK}x{OLD_CHUNK} chunks: {old['blocks']} blocks, buffer {old['buffer_blocks']}).
Throughput = samples per CPU-second of the loader processes (workers + main, from /proc), the claim
on this shared box; wall samples/s beside it. Randomness: lag-1 correlation of consecutive batches'
mean position (time, row, column; ~0 for a uniform shuffle), over 20 epochs of each order, and distinct
chunk blocks per batch of {BATCH}.

| reader | samples / CPU-s | ratio to RAM, per epoch | ratio, mean | samples / s (wall) | wall ratio | lag-1 corr | blocks / batch |
|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

Goal: >= 0.8x RAM for a store >= 10x the cache, epoch after epoch. A window shuffle through a cache
a tenth of the data decodes a chunk block for almost every window; the chunk shuffle decodes each
block once per epoch (tests/data/test_chunk_sampler.py counts the decodes) and serves all its
windows from the buffer, at the price of batches drawn from at most the buffer's blocks.
Every zarr row uses today's reader: chunks decoded straight from their files and all variables of
a place read together (chunk_cache.py, chunk_decode.py); through zarr's own reads a block of six
chunks cost about 2.5x the CPU (7 ms vs 2.9 ms per 128x128 block when this was built).
"""


def main(argv: list[str] | None = None) -> int:
    args = benchmark_parser(__doc__, "smaller store, 2 epochs").parse_args(argv)
    result = run(args.quick)
    print(json.dumps(result, indent=1, default=float))
    publish("loader", markdown(result, args.quick), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
