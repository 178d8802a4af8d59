"""Data benchmark: MIDI -> grid speed against a plain pretty_midi loop, and corpus build times.

    python -m bench.bench_data [--files 1000] [--skip-cold] [--out bench/results/data.json]

Measures, on the same MIDI files exported from the music21 corpus:

- files/s of our pipeline, MIDI file -> cached grids (``helpers.data.build_from_folder``:
  symusic parse, quantise, split, write the cache), with all cores and with one
  (the build uses worker processes from ``helpers.data.POOL_MIN_FILES`` files on,
  so fewer files than that measure one process twice; the JSON says how many
  processes each figure really had);
- files/s of a plain loop of ``pretty_midi.PrettyMIDI(path).get_piano_roll()`` on one core;
- how many of those files give identical pieces through the fast reader and the
  ``pretty_midi`` reader;
- the default corpus build, cold (music21 export + grids + cache, in a fresh folder)
  and warm (a second load of the same dataset), and each style's segments in
  4/4 and in other metres (left out by default).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pretty_midi

from bench.machine import describe, write_results
from helpers import corpus, data, pianoroll


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def mean_polyphony(pieces, indices) -> float:
    """Mean number of notes sounding at the steps where any note sounds."""
    counts = []
    for i in indices:
        full = pianoroll.GridFormat(low=0, high=127)
        frames = pianoroll.notes_to_grid(pieces.piece_notes(i), int(pieces.n_steps[i]), full)[:, 0].sum(1)
        counts.append(frames[frames > 0])
    return float(np.concatenate(counts).mean())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000,
                        help="MIDI files in the speed comparison (at least helpers.data.POOL_MIN_FILES for the "
                             "all-cores figure to use all cores)")
    parser.add_argument("--skip-cold", action="store_true", help="reuse an export instead of timing a cold build")
    parser.add_argument("--work", help="working folder (default: a temporary one)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "data.json"))
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-data-"))
    results = {"machine": describe(), "command": "python -m bench.bench_data " + " ".join(argv or sys.argv[1:])}

    # 1. The default corpus, cold then warm.
    corpus_dir = work / "corpus"
    if not args.skip_cold:
        shutil.rmtree(corpus_dir, ignore_errors=True)
    pieces, cold = timed(lambda: data.build("music21", corpus_dir, progress=False))
    _, warm = timed(lambda: data.build("music21", corpus_dir, progress=False))
    grid = pianoroll.DEFAULT_FORMAT  # 4-bar segments in 4/4: the default segments, and those of other metres
    per_style = pieces.summary(grid.segment_steps, grid.steps_per_bar)
    for row in per_style:  # a sanity figure: about 4 for Bach chorales, 1 for folk tunes
        row["mean_polyphony"] = round(mean_polyphony(pieces, pieces.indices(styles=[row["style"]])), 2)
    results["corpus"] = {
        "styles": list(corpus.DEFAULT_STYLES), "max_per_style": corpus.DEFAULT_MAX_PER_STYLE,
        "pieces": len(pieces), "skipped": len(pieces.skipped),
        "cold_build_s": None if args.skip_cold else round(cold, 2), "warm_load_s": round(warm, 3),
        "per_style": per_style,
    }
    print(f"corpus: {len(pieces)} pieces, cold build {cold:.1f} s, warm load {warm:.3f} s")

    # 2. The same files through both pipelines.
    files = sorted((corpus_dir / "music21").rglob("*.mid"))
    random.Random(0).shuffle(files)
    files = files[: args.files]
    if len(files) < args.files:
        print(f"the corpus export has {len(files)} MIDI files, fewer than --files {args.files}")
    sample = work / "sample"
    shutil.rmtree(sample, ignore_errors=True)
    for f in files:
        (sample / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, sample / f.parent.name / f.name)
    speed = {}
    cores = os.cpu_count() or 1
    if len(files) < data.POOL_MIN_FILES:
        print(f"{len(files)} files, fewer than {data.POOL_MIN_FILES}: the build runs in one process either way")
    for workers in (cores, 1):
        best = min(timed(lambda: data.build_from_folder(sample, work / f"cache-{workers}-{rep}", workers=workers,
                                                         progress=False))[1] for rep in range(3))
        speed[f"ours_{workers}_workers_files_per_s"] = round(len(files) / best, 1)
        processes = workers if workers > 1 and len(files) >= data.POOL_MIN_FILES else 1
        speed[f"ours_{workers}_workers_processes"] = processes

    def plain_loop():
        for f in files:
            pretty_midi.PrettyMIDI(str(f)).get_piano_roll(fs=8)

    _, plain = timed(plain_loop)
    speed["pretty_midi_loop_files_per_s"] = round(len(files) / plain, 1)
    ours = speed[f"ours_{cores}_workers_files_per_s"]
    speed["ratio"] = round(ours / speed["pretty_midi_loop_files_per_s"], 1)
    speed["files"] = len(files)
    same = 0
    for f in files:
        a, b = pianoroll.read_midi(f), pianoroll.read_midi(pretty_midi.PrettyMIDI(str(f)))
        same += np.array_equal(a.notes, b.notes) and np.array_equal(a.downbeats, b.downbeats)
    speed["identical_pieces_fast_vs_pretty_midi"] = f"{same}/{len(files)}"
    results["conversion"] = speed
    print(json.dumps(speed, indent=1))

    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return write_results(results, args.out)


if __name__ == "__main__":
    main()
