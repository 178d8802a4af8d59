"""Train every run the report needs: each notebook executed headless with papermill.

    python -m report.train_runs [--only NAME ...] [--force] [--list]

A run whose folder already holds its final file is skipped; a run stopped half
way resumes from its ``last.pt``. Each run's executed notebook and log go to
``runs/<name>/``, with ``machine.json`` (where it ran and for how long).
On the 2-core CPU of the report, the six runs take about 90 minutes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.machine import describe
from report.runs import EPOCHS, ROOT, RUNS, find


def train_run(run, force: bool = False) -> None:
    import papermill

    if run.files.finished and not force:
        print(f"{run.name}: done ({run.files.summary.name} exists), skipped")
        return
    run.folder.mkdir(parents=True, exist_ok=True)
    parameters = {"RUN_NAME": run.name, "EPOCHS": EPOCHS, **run.parameters}
    print(f"{run.name}: {run.notebook} with {parameters}", flush=True)
    start = time.time()
    papermill.execute_notebook(str(ROOT / "notebooks" / f"{run.notebook}.ipynb"),
                               str(run.folder / f"{run.notebook}.ipynb"), parameters=parameters,
                               cwd=str(ROOT / "notebooks"), progress_bar=False)
    info = {"machine": describe(), "wall_seconds": round(time.time() - start, 1), "parameters": parameters}
    (run.folder / "machine.json").write_text(json.dumps(info, indent=1))
    print(f"{run.name}: {info['wall_seconds'] / 60:.1f} min", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="train only these runs")
    parser.add_argument("--force", action="store_true", help="run again even if finished (resumes from last.pt)")
    parser.add_argument("--list", action="store_true", help="list the runs and exit")
    args = parser.parse_args(argv)
    if args.list:
        for run in RUNS:
            state = "done" if run.files.finished else "to train"
            print(f"{run.name:18s} {state:9s} {run.label}")
        return 0
    try:
        chosen = [find(name) for name in args.only] if args.only else RUNS
    except ValueError as err:
        parser.error(str(err))
    for run in chosen:
        train_run(run, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
