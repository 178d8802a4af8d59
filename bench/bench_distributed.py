"""Training throughput with 1 and 2 processes (torchrun; gloo on a CPU, NCCL on GPUs).

    python -m bench.bench_distributed [--epoch-segments 1536] [--out bench/results/distributed.json]

The default experiment (autoregressive preset, Bach chorales) is trained for
one epoch of ``--epoch-segments`` segments by ``python -m helpers.cli train``:
once in one process with batch 64, once under ``torchrun --nproc_per_node 2``
with batch 32 per process (the same effective batch of 64). The segments per
second come from the history's ``step_seconds`` (the optimiser steps alone).
The bare loop, as in ``bench.bench_train``, is a plain forward/backward/step
over the same number of batches already in memory, in this process.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench.bench_train import bare_loop
from bench.machine import describe, write_results
from helpers.experiment import DataConfig, Experiment, build_model, build_splits
from helpers.losses import LossConfig, make_step
from helpers.models import preset
from helpers.train import TrainConfig, autocast_dtype, pick_device

ROOT = Path(__file__).resolve().parents[1]


def run(spec: Experiment, processes: int, work: Path, data_dir: str) -> dict:
    path = spec.save(work / f"spec-{processes}.json")
    command = [sys.executable, "-m", "helpers.cli", "train", str(path), "--run-name", f"p{processes}",
               "--runs-dir", str(work / "runs"), "--data-dir", data_dir]
    if processes > 1:
        command[1:3] = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
                        "-m", "helpers.cli"]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    row = json.loads((work / "runs" / f"p{processes}" / "history.json").read_text())[-1]
    return {"processes": processes, "batch_per_process": spec.train.batch_size, "segments": row["segments"],
            "step_seconds": round(row["step_seconds"], 2),
            "segments_per_s": round(row["segments"] / row["step_seconds"], 1)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epoch-segments", type=int, default=1536, help="segments in the timed epoch")
    parser.add_argument("--data-dir", default=str(ROOT / "data"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "distributed.json"))
    args = parser.parse_args(argv)
    data = DataConfig(styles=("bach",), balance_styles=True, epoch_segments=args.epoch_segments)
    spec = Experiment(data, preset("autoregressive"), LossConfig(), TrainConfig(epochs=1, batch_size=64))
    splits = build_splits(spec.data, args.data_dir, progress=False)  # built once, before any timing
    device = pick_device(verbose=False)
    results = {"machine": describe(), "device": str(device), "command": "python -m bench.bench_distributed " +
               " ".join(argv if argv is not None else sys.argv[1:]), "effective_batch": 64, "runs": []}
    with tempfile.TemporaryDirectory() as work:
        for processes, batch in ((1, 64), (2, 32)):
            one = Experiment(data, spec.model, spec.loss, TrainConfig(epochs=1, batch_size=batch))
            results["runs"].append(run(one, processes, Path(work), args.data_dir))
            print(json.dumps(results["runs"][-1]), flush=True)
    # The bare loop: the same batches of 64, already on the device, forward/backward/step and nothing else.
    model = build_model(spec, splits, seed=0).to(device)
    n = args.epoch_segments
    grids = torch.stack([splits.train[i % len(splits.train)][0] for i in range(n)]).to(device)
    batches = [(grids[i:i + 64], torch.zeros(len(grids[i:i + 64]), dtype=torch.long, device=device))
               for i in range(0, n, 64)]
    step_fn, dtype = make_step(spec.loss), autocast_dtype("auto", device)
    bare_loop(model, batches[:3], step_fn, device, dtype)  # warm-up
    bare = n / bare_loop(model, batches, step_fn, device, dtype)
    results["bare_loop_segments_per_s"] = round(bare, 1)
    for r in results["runs"]:
        r["ratio_to_bare_loop"] = round(bare / r["segments_per_s"], 2)
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1))
    return write_results(results, args.out)


if __name__ == "__main__":
    main()
