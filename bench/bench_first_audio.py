"""Music in a minute: seconds from a fresh kernel to the first audio of each notebook with PRETRAINED.

    python -m bench.bench_first_audio [--notebooks 01_basic_vae 02_style_vae] [--out bench/results/first_audio.json]

Each notebook runs headless (papermill) in a new kernel, with ``PRETRAINED=True``
and an empty data folder, as on a fresh runtime: the shipped model is loaded and
its samples are written and rendered to audio before any data is built. The
notebook prints how many seconds after its set-up cell the first audio was
ready; the benchmark adds the kernel's start (the whole run's time less the
notebook's own) and also records the whole notebook's time (which includes a
cold build of the shipped model's data, for the reconstructions and transfers).
Not counted: installing the packages on a new Colab runtime.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import describe, write_results

ROOT = Path(__file__).resolve().parents[1]
FIRST_AUDIO = re.compile(r"first audio (\d+) s after the start")
DONE = re.compile(r"done in (\d+) s")


def run_one(name: str, folder: Path) -> dict:
    import jupytext
    import papermill

    out = folder / f"{name}.ipynb"
    start = time.perf_counter()
    papermill.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(out), cwd=str(ROOT / "notebooks"),
                               parameters={"PRETRAINED": True, "DATA_DIR": str(folder / "data"),
                                           "RUNS_DIR": str(folder / "runs")},
                               progress_bar=False, kernel_name="python3")
    total = time.perf_counter() - start
    text = "".join(o.get("text", "") for c in jupytext.read(out).cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    found, done = FIRST_AUDIO.search(text), DONE.search(text)
    if not found or not done:
        raise RuntimeError(f"{name}: the notebook did not report its first audio and its end")
    kernel = max(0.0, total - int(done.group(1)))  # starting the kernel, before the notebook's clock starts
    return {"first_audio_s": round(int(found.group(1)) + kernel), "in_notebook_s": int(found.group(1)),
            "kernel_start_s": round(kernel, 1), "notebook_s": round(total, 1)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=["01_basic_vae", "02_style_vae"])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "first_audio.json"))
    args = parser.parse_args(argv)
    results = {"machine": describe(), "command": "python -m bench.bench_first_audio " + " ".join(
        argv if argv is not None else sys.argv[1:]), "notebooks": {}}
    for name in args.notebooks:
        with tempfile.TemporaryDirectory() as folder:
            results["notebooks"][name] = run_one(name, Path(folder))
        print(name, results["notebooks"][name], flush=True)
    return write_results(results, args.out)


if __name__ == "__main__":
    main()
