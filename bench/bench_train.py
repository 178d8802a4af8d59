"""Training benchmark: segments/s of ``helpers.train.train`` against a bare loop, in one run.

    python -m bench.bench_train [--notebook basic|style] [--batches 40] [--batch-size 64] [--out FILE]

Both train the same model, a notebook's default experiment (its shipped
model's settings: ``basic``, Bach chorales with the seed decoder and whole
notes; ``style``, the default trio with the autoregressive decoder, the chord
model with voices and whole notes), with the same batch size and loss for the
same number of batches:

- ``train()``: the notebook's path, segments read from the dataset and
  transposed on the fly by the ``DataLoader``, AdamW with the learning-rate
  schedule and gradient clipping, mixed precision on CUDA, one validation
  batch and ``last.pt`` / ``best.pt`` written atomically after each of its two
  epochs, the history files; all of it counted;
- a bare loop: the same batches already stacked in memory (on the device),
  forward, loss, backward, ``optimizer.step()``, nothing else.

The ratio of the two is the overhead of our data path and training loop. The
bare loop runs before and after ``train()``, so drift on a busy machine shows.
The figures include what one of the notebook's epochs takes at that speed
(without the probes that choose ``best.pt``), and the notebook's default
number of epochs on that device. The file: ``bench/results/train.json``
(``train_style.json`` for the style notebook) unless ``--out`` names another,
as for a GPU's figures (``train_gpu.json``, ``train_style_gpu.json``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import Subset

from bench.machine import describe, write_results
from helpers import pretrained
from helpers.experiment import CPU_EPOCHS, GPU_EPOCHS, build_model, build_splits
from helpers.losses import make_step
from helpers.segments import make_loader
from helpers.train import TrainConfig, autocast_dtype, pick_device, train


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_loop(model, batches, step_fn, device, dtype) -> float:
    """Seconds for one pass of forward/backward/step over batches already on the device.

    ``dtype``: the autocast dtype train() picks on this device (``None``: float32).
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    model.train()
    sync(device)
    start = time.perf_counter()
    for step, batch in enumerate(batches):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = step_fn(model, batch, step)["loss"]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    sync(device)
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", choices=pretrained.NAMES, default="basic",
                        help="whose default experiment (default: %(default)s)")
    parser.add_argument("--batches", type=int, default=40, help="batches per measurement (two epochs in train())")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1] / "data"))
    parser.add_argument("--out", help="default: bench/results/train.json, train_style.json for the style notebook")
    args = parser.parse_args(argv)
    out = args.out or str(Path(__file__).parent / "results" / ("train.json" if args.notebook == "basic"
                                                                else f"train_{args.notebook}.json"))
    if args.batches < 2 or args.batches % 2:
        parser.error(f"--batches must be an even number >= 2, got {args.batches}")
    device = pick_device(verbose=False)
    dtype = autocast_dtype("auto", device)
    torch.manual_seed(0)

    _, shipped, _, _ = pretrained.load(args.notebook)  # the notebook's defaults, as trained for the shipped model
    spec = replace(shipped, train=TrainConfig(epochs=2, batch_size=args.batch_size, precision="auto"))
    splits = build_splits(spec.data, args.data_dir, progress=False)
    train_set, valid_set = splits.train, splits.valid
    n = args.batches * args.batch_size
    if len(train_set) < n // 2:
        parser.error(f"{len(train_set)} training segments, fewer than {n // 2}: ask for fewer --batches")
    per_epoch = Subset(train_set, range(n // 2))  # train() runs two epochs of half the batches each
    step_fn = make_step(spec.loss)

    def fresh():
        return build_model(spec, splits, seed=0).to(device)

    # The bare loop's batches: the same segments, stacked once, on the device.
    items = [train_set[i % (n // 2)] for i in range(n)]
    grids = torch.stack([grid for grid, _ in items])
    styles = torch.as_tensor([int(style) for _, style in items], dtype=torch.long)
    batches = [(grids[i:i + args.batch_size].to(device), styles[i:i + args.batch_size].to(device))
               for i in range(0, n, args.batch_size)]
    bare_loop(fresh(), batches[:3], step_fn, device, dtype)  # warm-up: allocator, kernels

    bare_before = bare_loop(fresh(), batches, step_fn, device, dtype)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        valid_loader = make_loader(Subset(valid_set, range(min(args.batch_size, len(valid_set)))), args.batch_size,
                                   shuffle=False)
        train(fresh(), step_fn, make_loader(per_epoch, args.batch_size), valid_loader, spec.train, run_dir,
              device=device, progress=False)
        sync(device)
        ours = time.perf_counter() - start
    bare_after = bare_loop(fresh(), batches, step_fn, device, dtype)
    bare = (bare_before + bare_after) / 2
    epoch_segments = spec.data.epoch_segments or len(train_set)
    epochs = GPU_EPOCHS if device.type == "cuda" else CPU_EPOCHS
    results = {
        "machine": describe(), "device": str(device), "notebook": args.notebook,
        "precision": str(dtype).replace("torch.", "") if dtype else "float32",
        "command": "python -m bench.bench_train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": fresh().config.to_dict(), "batch_size": args.batch_size, "batches": args.batches, "segments": n,
        "train_function_segments_per_s": round(n / ours, 1),
        "bare_loop_segments_per_s": round(n / bare, 1),
        "bare_loop_before_s": round(bare_before, 2), "bare_loop_after_s": round(bare_after, 2),
        "train_function_s": round(ours, 2),
        "overhead_ratio": round(ours / bare, 3),
        "epoch_segments": epoch_segments, "epoch_s": round(epoch_segments * ours / n, 1),
        "default_epochs": epochs, "default_epochs_min": round(epochs * epoch_segments * ours / n / 60, 1),
    }
    print(json.dumps({k: v for k, v in results.items() if k not in ("machine", "model")}, indent=1))
    return write_results(results, out)


if __name__ == "__main__":
    main()
