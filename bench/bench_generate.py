"""Generation benchmark: time to sample 100 pieces from the prior and write them as MIDI files.

    python -m bench.bench_generate [--checkpoint runs/basic/best.pt] [--pieces 100] [--out bench/results/generate.json]

Sampling is one batch through the decoder (Bernoulli draws that keep notes
whole, as in the notebooks); writing turns each grid into notes and a MIDI
file (``helpers.pianoroll.grid_to_midi``). With no trained checkpoint, an
untrained model of the default preset is timed instead (the JSON says which).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.machine import describe, write_results
from helpers import generate
from helpers.experiment import load_run
from helpers.models import GridVAE, preset
from helpers.pianoroll import grid_to_midi
from helpers.train import pick_device

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "runs" / "basic" / "best.pt"))
    parser.add_argument("--pieces", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="the best of this many runs is kept")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "generate.json"))
    args = parser.parse_args(argv)
    if args.pieces < 1 or args.repeats < 1:
        parser.error("--pieces and --repeats must be positive")
    device = pick_device(verbose=False)
    if Path(args.checkpoint).is_file():
        model, _, _ = load_run(args.checkpoint, map_location=device)
        path = Path(args.checkpoint).resolve()
        source = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    else:
        torch.manual_seed(0)
        model, source = GridVAE(preset("autoregressive")).to(device).eval(), "untrained autoregressive preset"
    cfg = model.config
    generate.sample(model, 2, seed=0)  # warm-up
    rows = []
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            grids = generate.sample(model, args.pieces, seed=rep)
            sampled = time.perf_counter()
            notes = 0
            for k, grid in enumerate(grids):
                midi = grid_to_midi(grid, cfg.format, qpm=100)
                midi.write(str(Path(folder) / f"sample_{k + 1}.mid"))
                notes += sum(len(i.notes) for i in midi.instruments)
            written = time.perf_counter()
        rows.append({"sample_s": sampled - start, "write_s": written - sampled, "total_s": written - start,
                     "notes": notes})
    best = min(rows, key=lambda r: r["total_s"])
    results = {
        "machine": describe(), "device": str(device), "model": source,
        "command": "python -m bench.bench_generate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "pieces": args.pieces, "steps_per_piece": cfg.seq_len, "decoder": cfg.decoder,
        "sample_s": round(best["sample_s"], 3), "write_midi_s": round(best["write_s"], 3),
        "total_s": round(best["total_s"], 3), "pieces_per_s": round(args.pieces / best["total_s"], 1),
        "notes_written": best["notes"], "repeats": args.repeats,
    }
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1))
    return write_results(results, args.out)


if __name__ == "__main__":
    main()
