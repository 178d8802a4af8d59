"""Headless training from an experiment spec, on one device or many (``torchrun``).

The spec is the JSON of an :class:`~helpers.experiment.Experiment`: every
notebook run writes its own as ``spec.json`` in its run folder, and
``python -m helpers.cli spec`` prints the library's defaults to start from::

    python -m helpers.cli train SPEC.json --run-name NAME [--runs-dir DIR] [--data-dir DIR]
    torchrun --nproc_per_node 4 -m helpers.cli train SPEC.json --run-name NAME     # 4 GPUs (or CPU processes)
    torchrun --nnodes 2 --node_rank R --nproc_per_node 8 --master_addr HOST --master_port 29500 \\
        -m helpers.cli train SPEC.json --run-name NAME                             # 2 machines

Under ``torchrun`` each process takes one GPU (``LOCAL_RANK``; NCCL) or, with
no GPU, part of the CPU (gloo), and trains with DistributedDataParallel on its
share of one seeded global order of segments; ``TrainConfig.batch_size`` is
per process, so the effective batch is that times the number of processes.
Rank 0 builds the dataset (the others wait, then load its cache), writes the
checkpoints, the history, ``spec.json`` and ``summary.json``. The run folder is
a notebook's: the notebook with the same ``RUN_NAME`` resumes it, and
``PRETRAINED`` set to its path generates from it; running this command again
resumes it from ``last.pt``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch

from . import colab, experiment
from .experiment import Experiment, RunFolder
from .train import CheckpointError, barrier


def _init_process_group() -> tuple[int, int, torch.device]:
    """``(rank, world, device)``: from torchrun's environment, or one process."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    # On GPUs the model's gradients go through NCCL; the epoch figures and the probe's, which are small CPU
    # objects, through gloo (NCCL carries only CUDA tensors).
    dist.init_process_group("cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def train_command(args) -> int:
    spec = Experiment.load(args.spec)
    if args.epochs is not None or args.extend:
        spec = replace(spec, train=replace(spec.train, epochs=args.epochs or spec.train.epochs,
                                           extend=args.extend or spec.train.extend))
    spec.validate()
    rank, world, device = _init_process_group()
    main = rank == 0
    try:
        base = colab.repo_root()  # as in the notebooks outside Colab: data/ and runs/ of the repository
        data_dir = Path(args.data_dir or base / "data")
        run = RunFolder(Path(args.runs_dir or base / "runs") / args.run_name, data_dir)
        spec = spec.for_device(device, run)
        if main:
            print(f"{world} process(es) on {device.type}; {spec.train.batch_size} segments per process and step "
                  f"(effective batch {spec.train.batch_size * world}); run {run.root}", flush=True)
            splits = experiment.build_splits(spec.data, data_dir, progress=False)
        barrier()  # the others load the cache rank 0 has built
        if not main:
            splits = experiment.build_splits(spec.data, data_dir, progress=False)
        model = experiment.build_model(spec, splits)

        def report(history):
            row = history[-1]
            print(f"epoch {row['epoch']}/{spec.train.epochs}: train loss {row['train_loss']:.1f}, valid ELBO "
                  f"{row['valid_elbo']:.1f} ({row['seconds']:.1f} s)", flush=True)

        history = experiment.train_vae(model, spec, splits, run, device, callback=report, progress=False,
                                       seeded_order=True)
        if main:
            last = history[-1]
            run.write_summary({"trained_by": "helpers.cli", "processes": world, "device": str(device),
                               "epochs": last["epoch"], "valid_elbo": last["valid_elbo"],
                               "valid_recon": last["valid_recon"], "valid_kl": last["valid_kl"],
                               "train_seconds": sum(row["seconds"] for row in history)})
            print(experiment.epochs_text(history, run, spec.train.monitor), flush=True)
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (or resume) the experiment of a spec file")
    t.add_argument("spec", help="a spec JSON file (a notebook run's spec.json, or python -m helpers.cli spec)")
    t.add_argument("--run-name", required=True, help="the run folder's name under --runs-dir")
    t.add_argument("--runs-dir", help="where run folders go (default: runs/ of the repository, as the notebooks)")
    t.add_argument("--data-dir", help="data folder of the dataset cache (default: data/ of the repository)")
    t.add_argument("--epochs", type=int, help="instead of the spec's (with --extend on a resumed run: a new plan)")
    t.add_argument("--extend", action="store_true", help="on resume, let --epochs differ from the run's plan")
    sub.add_parser("spec", help="print the library's default spec as JSON, to edit")
    args = parser.parse_args(argv)
    if args.command == "spec":
        print(json.dumps(Experiment().to_dict(), indent=1))
        return 0
    try:
        return train_command(args)
    except (CheckpointError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
