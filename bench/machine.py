"""A description of the machine a benchmark ran on, the file that stores it with the figures, and the models a
benchmark of trained models measures."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path


def describe() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory_gib = None
    try:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    info = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory_gib,
        "python": sys.version.split()[0],
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info


def write_results(results: dict, out) -> dict:
    """Write a benchmark's results as JSON to ``out`` (its folder made if needed) and say where."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {out}")
    return results


def measure_models(parser, names, measure) -> dict:
    """``{key: measure(name)}`` for each of ``names``, a shipped model's name (key ``shipped NAME``) or a run
    folder (its folder's name, or the path as given where two folders share a name); a model named twice is
    the command line's error (``parser``)."""
    from helpers import pretrained

    def key(name):
        return f"shipped {name}" if name in pretrained.NAMES else Path(name).name

    seen = set()
    for name in names:
        where = name if name in pretrained.NAMES else Path(name).resolve()
        if where in seen:
            parser.error(f"{name}: named twice")
        seen.add(where)
    folders = [key(name) for name in names]
    return {key(name) if folders.count(key(name)) == 1 else str(name): measure(name) for name in names}


def models_bench(name: str, doc: str, argv, measure, samples: int, samples_help: str, out: str,
                 options: dict | None = None) -> dict:
    """The command line of a benchmark that measures models (``python -m bench.NAME MODEL ... [--samples N]
    [--data-dir DIR] [--out FILE]``): ``measure(model, samples, data_dir=...)`` for each named model
    (:func:`measure_models`), written with the machine and the command to ``out`` (under ``bench/results/``
    unless ``--out`` says). ``options`` adds the benchmark's own: ``{flag: argparse keywords}``, each value
    passed to ``measure`` by the flag's name (``--split-seeds`` -> ``split_seeds=``)."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="run folders or shipped models' names")
    parser.add_argument("--samples", type=int, default=samples, help=f"{samples_help} (default: %(default)s)")
    parser.add_argument("--data-dir", help="data folder (default: data/ of the repository)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / out)
    own = [parser.add_argument(flag, **keywords).dest for flag, keywords in (options or {}).items()]
    args = parser.parse_args(argv)
    if args.samples < 2:
        parser.error(f"--samples must be at least 2, got {args.samples}")
    extra = {dest: getattr(args, dest) for dest in own}
    rows = measure_models(parser, args.models,
                          lambda model: measure(model, args.samples, data_dir=args.data_dir, **extra))
    command = f"python -m bench.{name} " + " ".join(argv if argv is not None else sys.argv[1:])
    return write_results({"machine": describe(), "command": command, "models": rows}, args.out)
