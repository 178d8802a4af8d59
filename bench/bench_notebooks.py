"""How long the notebooks take with their defaults: a few epochs at full size, timed, and what that says of
their default number of epochs.

    python -m bench.bench_notebooks [--epochs 3] [--notebooks 01_basic_vae 02_style_vae]
                                    [--runs-dir runs/bench-notebooks] [--out bench/results/notebooks.json]
    python -m bench.bench_notebooks --collect RUN_DIR ... --conditions TEXT --out FILE

Each notebook runs headless (papermill) with its defaults except ``EPOCHS``
(and ``USE_DRIVE = False``), on whatever device the machine has. From the
run's ``summary.json`` and ``history.json``: the whole notebook's time, its
training time, the time of the training steps per epoch, the rest of a
probed epoch (validation, the probe that chooses ``best.pt``, checkpoints),
and the time outside training (data, judge, generation, audio). A run of up
to ``helpers.experiment.PROBES`` epochs probes after every epoch; the
default plan (150 epochs on a GPU, 40 on a CPU) probes about every
``ceil(epochs / PROBES)`` epochs, so the estimate of the default notebook
is a range: its epochs without a probe counted at their steps alone (low)
or as a probed one (high). The first epoch (warm-up) is left out of the
means when there are more.

``--collect`` reads run folders made elsewhere by the same command (a GPU
machine's, say: ``papermill notebooks/NB.ipynb out.ipynb -p EPOCHS 3 -p
USE_DRIVE False``); ``--conditions`` says where they ran.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import describe, write_results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_basic_vae", "02_style_vae")


def probes(epochs: int) -> int:
    """How many of ``epochs`` epochs end with a probe (every ``ceil(epochs / PROBES)``-th, and the last)."""
    from helpers.experiment import PROBES

    every = max(1, math.ceil(epochs / PROBES))
    return sum(1 for epoch in range(1, epochs + 1) if epoch % every == 0 or epoch == epochs)


def minutes(low: float, high: float) -> str:
    """``"7-10"``, or one figure where the range is one."""
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


def figures(run_dir: Path) -> dict:
    """One notebook run's times, and the estimate for its default number of epochs."""
    from helpers.experiment import CPU_EPOCHS, GPU_EPOCHS, PROBES

    summary = json.loads((run_dir / "summary.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    if len(history) > PROBES:
        raise ValueError(f"{run_dir}: {len(history)} epochs, more than the {PROBES} that are each probed")
    rows = history[1:] if len(history) > 1 else history
    step = sum(r["step_seconds"] for r in rows) / len(rows)
    rest_of_epoch = sum(r["seconds"] - r["step_seconds"] for r in rows) / len(rows)
    outside = summary["notebook_seconds"] - summary["train_seconds"]
    default = GPU_EPOCHS if summary["device"] == "cuda" else CPU_EPOCHS
    probed = probes(default)
    low = outside + default * step + probed * rest_of_epoch
    high = outside + default * (step + rest_of_epoch)
    return {"notebook": "style" if "styles" in summary else "basic", "device": summary["device"],
            "epochs": len(history), "steps_per_epoch": history[-1]["step"] // history[-1]["epoch"],
            "notebook_s": round(summary["notebook_seconds"], 1), "train_s": round(summary["train_seconds"], 1),
            "outside_training_s": round(outside, 1), "epoch_steps_s": round(step, 2),
            "epoch_rest_s": round(rest_of_epoch, 2), "default_epochs": default,
            "default_probes": probed,
            "default_notebook_min": [round(low / 60, 1), round(high / 60, 1)]}


def run_notebook(name: str, epochs: int, runs_dir: Path) -> Path:
    """Run one notebook with ``EPOCHS = epochs`` into ``runs_dir/<name>``; its run folder."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / f"{name}.ipynb"),
               str(runs_dir / f"{name}.ipynb"), "-p", "EPOCHS", str(epochs), "-p", "RUN_NAME", name,
               "-p", "RUNS_DIR", str(runs_dir), "-p", "USE_DRIVE", "False"]
    start = time.time()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{name} failed after {time.time() - start:.0f} s:\n{done.stderr[-3000:]}")
    return runs_dir / name


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each notebook (default: %(default)s)")
    parser.add_argument("--notebooks", nargs="+", choices=NOTEBOOKS, default=list(NOTEBOOKS))
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "bench-notebooks")
    parser.add_argument("--collect", type=Path, nargs="+", metavar="RUN_DIR",
                        help="train nothing: the figures of these notebook runs")
    parser.add_argument("--conditions", help="with --collect: the machine the runs were made on")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "notebooks.json")
    args = parser.parse_args(argv)
    if not 1 <= args.epochs <= 50:
        parser.error(f"--epochs must be between 1 and 50 (each epoch probed), got {args.epochs}")
    if args.collect:
        if not args.conditions:
            parser.error("--collect needs --conditions: the machine the runs were made on")
        runs, machine = args.collect, {"conditions": args.conditions}
        command = ("papermill notebooks/NB.ipynb ... -p EPOCHS E -p USE_DRIVE False; "
                   "python -m bench.bench_notebooks --collect")
    else:
        runs = [run_notebook(name, args.epochs, args.runs_dir) for name in args.notebooks]
        machine = describe()
        command = f"python -m bench.bench_notebooks --epochs {args.epochs}"
    results = {"machine": machine, "command": command, "notebooks": [figures(Path(r)) for r in runs]}
    for f in results["notebooks"]:
        low, high = f["default_notebook_min"]
        print(f"{f['notebook']} ({f['device']}): {f['epochs']} epochs in {f['notebook_s']:.0f} s (training "
              f"{f['train_s']:.0f} s, steps {f['epoch_steps_s']:.1f} s + {f['epoch_rest_s']:.1f} s per epoch); "
              f"its default {f['default_epochs']} epochs: about {minutes(low, high)} min")
    return write_results(results, args.out)


if __name__ == "__main__":
    main()
