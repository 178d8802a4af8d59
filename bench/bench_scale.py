"""Large corpora: dataset build throughput and peak memory on generated corpora of growing size.

    python -m bench.bench_scale [--sizes 5000 20000] [--out bench/results/scale.json]

For each size, a corpus of that many MIDI files is generated (four style
folders of four-voice pieces, 8 to 24 bars, with one file in a hundred
broken), then built cold by ``helpers.data.build_from_folder`` with every core,
in a fresh process. Recorded: files/s, the peak resident memory of the
building process and of its largest worker, the number of shards, and the
cache's size on disk. Then a warm load of the same cache, and a pass that
draws one segment from every piece of it, with their peak memory: the cache
is memory-mapped, so neither should grow with the corpus.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.machine import describe, write_results

STYLES = ("alpha", "beta", "gamma", "delta")


def generate(root: Path, n: int, seed: int = 0) -> None:
    """``n`` MIDI files under ``root/<style>/``: four voices of quarter and eighth notes; 1% truncated."""
    import mido

    rng = np.random.default_rng(seed)
    tpq = 480
    for k in range(n):
        style = STYLES[k % len(STYLES)]
        path = root / style / f"{k // 1000:03d}" / f"piece{k:06d}.mid"
        path.parent.mkdir(parents=True, exist_ok=True)
        if k % 100 == 99:
            path.write_bytes(b"MThd\x00\x00\x00\x06")  # broken: skipped with its reason
            continue
        events, bars = [], int(rng.integers(8, 25))
        for voice, low in enumerate((36, 48, 55, 62)):
            t = 0
            while t < bars * 4 * tpq:
                length = tpq if rng.random() < 0.7 else tpq // 2
                pitch = int(low + rng.integers(0, 12))
                events += [(t, 1, pitch), (t + length, 0, pitch)]
                t += length
        events.sort()
        track, now = mido.MidiTrack(), 0
        for tick, on, pitch in events:
            track.append(mido.Message("note_on", note=pitch, velocity=80 if on else 0, time=tick - now))
            now = tick
        midi = mido.MidiFile(ticks_per_beat=tpq)
        midi.tracks.append(track)
        midi.save(str(path))


CHILD = r"""
import json, resource, sys, time, tracemalloc
from helpers import data
root, cache, mode = sys.argv[1:4]
start = time.perf_counter()
pieces = data.build_from_folder(root, cache, progress=False)
seconds = time.perf_counter() - start
out = {"seconds": seconds, "pieces": len(pieces), "skipped": len(pieces.skipped)}
if mode == "read":
    from helpers.pianoroll import GridFormat
    from helpers.segments import SegmentDataset
    tracemalloc.start()
    segments = SegmentDataset(pieces, None, GridFormat(low=36, high=73, segment_bars=4))
    for i in range(len(segments)):
        segments[i]
    out["segments"] = len(segments)
    out["read_heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
out["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["worker_rss_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


def measure(root: Path, cache: Path, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), str(cache), mode], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def main(argv=None) -> dict:
    from helpers import data

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scale.json"))
    args = parser.parse_args(argv)
    results = {"machine": describe(), "command": "python -m bench.bench_scale " + " ".join(
        argv if argv is not None else sys.argv[1:]), "shard_files": data.SHARD_FILES, "sizes": {}}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            generate(work / "corpus", n)
            cold = measure(work / "corpus", work / "cache", "build")
            warm = measure(work / "corpus", work / "cache", "read")
            row = {"files": n, "pieces": cold["pieces"], "skipped": cold["skipped"],
                   "files_per_s": round(n / cold["seconds"], 1), "build_s": round(cold["seconds"], 2),
                   "build_rss_peak_mb": round(cold["rss_peak_mb"], 1),
                   "build_worker_rss_peak_mb": round(cold["worker_rss_peak_mb"], 1),
                   "cache_mb": round(folder_mb(work / "cache"), 1), "warm_load_s": round(warm["seconds"], 3),
                   "warm_rss_peak_mb": round(warm["rss_peak_mb"], 1), "segments_read": warm["segments"],
                   "read_heap_peak_mb": round(warm["read_heap_peak_mb"], 2), "workers": os.cpu_count()}
        results["sizes"][str(n)] = row
        print(json.dumps(row), flush=True)
    return write_results(results, args.out)


if __name__ == "__main__":
    main()
