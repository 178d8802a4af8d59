"""Shipped trained models: music in the first minute, before any training.

``helpers/pretrained/<name>.pt`` (``basic`` and ``style``) holds what
generation needs and nothing more: the VAE's weights (stored as float16, read
back as float32), its experiment spec, for the style model the independent
judge's weights, and a *card* saying what the model was trained on, for how
long, on what, and how well it scores. Each file is an ordinary checkpoint of
this project, read with ``weights_only=True`` (no code runs from it).

The files are made by one command, which runs each notebook headless with
its default parameters (so the shipped models are exactly what a user trains
by running the notebook) and exports the run, or by exporting any finished
run of a notebook's default settings (the shipped style model is the
decoder ablation's run of them, ``bench.bench_decoders --export``)::

    python -m helpers.pretrained train            # both notebooks, then export
    python -m helpers.pretrained export RUN NAME  # export an existing run folder as NAME
    python -m helpers.pretrained show             # the cards of the shipped models
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

import torch

from . import experiment
from .train import CheckpointError, load_checkpoint, save_checkpoint

FOLDER = Path(__file__).resolve().parent / "pretrained"
NOTEBOOKS = {"basic": "01_basic_vae", "style": "02_style_vae"}  # name -> the notebook that trains it
NAMES = tuple(NOTEBOOKS)
CARD_SCORES = ("valid_elbo", "active_dims", "threshold", "floor", "onset_temperature", "test_scores",
               "judge_real_accuracy", "latent_classifier_accuracy", "generated_accuracy", "transfer")


def path(name: str, folder=None) -> Path:
    """The file of the shipped model ``name`` (``basic`` or ``style``)."""
    if name not in NAMES:
        raise ValueError(f"PRETRAINED model {name!r} unknown: choose one of {list(NAMES)}")
    return Path(folder or FOLDER) / f"{name}.pt"


def _half(state: dict) -> dict:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _card(name: str, model, spec, payload: dict, summary: dict) -> dict:
    history = payload.get("history") or []
    return {
        # who trained it: the command a run's summary names (helpers.cli, a benchmark), else the notebook
        "name": name, "notebook": summary.get("trained_by") or NOTEBOOKS.get(name)
        or ("a notebook" if "notebook_seconds" in summary else "a run"), "epoch": payload["epoch"],
        "epochs": spec.train.epochs, "steps": payload.get("step", 0),
        "train_seconds": round(sum(row["seconds"] for row in history), 1), "device": summary.get("device", "cpu"),
        "source": spec.data.source, "styles": list(spec.data.styles or []), "max_per_style": spec.data.max_per_style,
        "parameters": sum(p.numel() for p in model.parameters()),
        "scores": {k: summary[k] for k in CARD_SCORES if k in summary},
    }


def export(run_dir, name: str, folder=None) -> Path:
    """Write run ``run_dir`` (a finished notebook run) as the shipped model ``name``.

    The card takes the notebook's ``summary.json`` figures; the judge comes
    along when the run has one.
    """
    run = experiment.RunFolder(run_dir)
    if not run.finished:
        raise CheckpointError(f"{run.root}: no summary.json, so the notebook did not finish this run")
    model, spec, payload = experiment.load_run(run.root)
    card = _card(name, model, spec, payload, json.loads(run.summary.read_text()))
    out = {"model": _half(model.state_dict()), "model_config": payload["model_config"],
           "train_config": payload["train_config"], "extra": payload["extra"], "epoch": payload["epoch"],
           "card": card}
    judge = experiment.load_judge(run)
    if judge is not None:  # every member of an ensemble, each as a judge of its own
        out["judges"] = [{"model": _half(m.state_dict()), "model_config": asdict(m.config)}
                         for m in getattr(judge, "members", [judge])]
    target = path(name, folder)
    save_checkpoint(target, out)
    return target


def load(name, map_location="cpu", folder=None):
    """The shipped model ``name``, or any trained run: ``name`` a run folder or a checkpoint file.

    A run trained elsewhere (a notebook, ``python -m helpers.cli train``, on
    several GPUs) opens the same way, its card made from its checkpoint and
    its ``summary.json``, its judge from its ``judge/`` folder.

    Returns
    -------
    model : GridVAE
        In eval mode, float32, on ``map_location``.
    spec : Experiment
        What it was trained with (its data settings give its data back).
    card : dict
        What it was trained on and how it scores (:func:`describe` words it).
    judge : StyleClassifier, JudgeEnsemble or None
        The style model's independent classifier (all its members).
    """
    from .metrics import judge_from_payloads
    from .models import GridVAE

    if str(name) not in NAMES:
        given = Path(name)
        if not given.exists():
            raise ValueError(f"PRETRAINED must be True, one of {list(NAMES)}, or the path of a run folder or a "
                             f"checkpoint; {str(name)!r} is none of them")
        run = experiment.RunFolder(given if given.is_dir() else given.parent)
        model, spec, payload = experiment.load_run(given, map_location)
        summary = json.loads(run.summary.read_text()) if run.finished else {}
        return (model, spec, _card(given.name, model, spec, payload, summary),
                experiment.load_judge(run, map_location))
    file = path(name, folder)
    if not file.is_file():
        raise CheckpointError(f"{file}: the shipped model {name!r} is missing; train it with "
                              "`python -m helpers.pretrained train`, or set PRETRAINED = False")
    payload = load_checkpoint(file, map_location)
    spec = experiment.spec_from_checkpoint(payload, str(file))
    model = GridVAE(spec.model)
    model.load_state_dict(payload["model"])  # float16 on disk, copied into float32 parameters
    judges = payload.get("judges") or ([payload["judge"]] if "judge" in payload else [])  # "judge": files of one
    judge = judge_from_payloads(judges, map_location) if judges else None
    return model.to(map_location).eval(), spec, payload["card"], judge


def differences(asked, used) -> list[str]:
    """The data, model and loss settings where the ``asked`` experiment (a notebook's parameters) and the
    ``used`` one (a loaded model's own) differ: a loaded model keeps its own, and these lines say which.

    Left out: what the data decide (the pitch window, the grid format, the number of styles), the
    training plan, which a trained model no longer needs, and the bar plan's weight where neither has a plan.
    """
    left_out = {"window", "format", "n_styles"}
    if not (asked.model.bar_plan or used.model.bar_plan):
        left_out.add("plan_weight")
    lines = []
    for part in ("data", "model", "loss"):
        mine, theirs = getattr(asked, part), getattr(used, part)
        for f in fields(mine):
            value, kept = getattr(mine, f.name), getattr(theirs, f.name)
            if f.name not in left_out and value != kept:
                lines.append(f"{part}.{f.name}: {value!r} here, {kept!r} in the model")
    return lines


def drawing(card: dict, floor: float | None = None,
            onset_temperature: float | None = None) -> tuple[float, float, float]:
    """``(threshold, floor, onset_temperature)`` a model decodes and draws with: the threshold chosen on
    validation when it was trained (0.5 for a card without one), and its onset floor and onset temperature
    (1 for a card without one) unless ``floor`` or ``onset_temperature`` (a user's choice) is given."""
    scores = card["scores"]
    return (scores.get("threshold", 0.5), scores.get("floor", 0.0) if floor is None else floor,
            scores.get("onset_temperature", 1.0) if onset_temperature is None else onset_temperature)


def describe(card: dict) -> str:
    """A few lines on what a shipped model was trained on and how well it scores."""
    minutes = card["train_seconds"] / 60
    by = (f"the notebook {card['notebook']} with the default parameters it had then"
          if card["notebook"] in NOTEBOOKS.values()
          else card["notebook"])
    kind = "shipped model" if card["name"] in NAMES else "model"
    lines = [f"{kind} {card['name']!r}: {card['parameters']:,} parameters, trained by {by} for {card['epochs']} "
             f"epochs ({minutes:.0f} min on "
             f"{card['device']}); the weights of epoch {card['epoch']} ({card['steps']:,} optimiser steps), the best "
             "on validation",
             f"data: {card['source']}, styles {', '.join(card['styles'])}, at most {card['max_per_style']} "
             "files per style"]
    scores = card["scores"]
    if "test_scores" in scores:
        shown = {k: v for k, v in scores["test_scores"].items() if k.endswith("f1")}
        lines.append("held-out reconstructions (threshold {}): {}".format(
            scores.get("threshold"), ", ".join(f"{k} {v:.3f}" for k, v in shown.items())))
    if scores.get("floor"):
        lines.append(f"drawn with an onset floor of {scores['floor']} (chosen on validation segments)")
    if scores.get("onset_temperature", 1.0) != 1.0:
        lines.append(f"onsets drawn at a temperature of {scores['onset_temperature']}")
    if "generated_accuracy" in scores:
        lines.append("samples recognised as their style by the judge: " + ", ".join(
            f"{k} {v:.2f}" for k, v in scores["generated_accuracy"].items()))
    if "transfer" in scores:
        t = scores["transfer"]
        lines.append(f"transfer {t['from']} -> {t['to']} recognised as {t['to']}: {t['accuracy']:.2f}")
    lines.append("(its own data and model settings are used, not the notebook's; MY_MIDI brings in your music)")
    return "\n".join(lines)


def train(names=NAMES, runs_dir="runs", data_dir=None, epochs=None, folder=None) -> list:
    """Run each named notebook headless with its defaults (``PRETRAINED=False``), then export its run.

    A run folder that already holds a finished run resumes (nothing is
    trained twice); needs a checkout of the repository (its ``notebooks/``).
    """
    import papermill

    from .colab import repo_root

    notebooks = repo_root() / "notebooks"
    written = []
    for name in names:
        source = notebooks / f"{NOTEBOOKS[name]}.ipynb"
        if not source.is_file():
            raise FileNotFoundError(f"{source}: run this from a checkout of the repository")
        parameters = {"RUN_NAME": f"pretrained-{name}", "RUNS_DIR": str(Path(runs_dir).resolve()),
                      "PRETRAINED": False}
        if data_dir is not None:
            parameters["DATA_DIR"] = str(Path(data_dir).resolve())
        if epochs is not None:
            parameters["EPOCHS"] = epochs
        executed = Path(runs_dir) / f"pretrained-{name}.ipynb"
        print(f"training {name}: {source.name} -> {executed}", flush=True)
        papermill.execute_notebook(str(source), str(executed), parameters=parameters, cwd=str(notebooks),
                                   kernel_name="python3", progress_bar=False)
        written.append(export(Path(runs_dir) / f"pretrained-{name}", name, folder))
        print(f"wrote {written[-1]} ({written[-1].stat().st_size / 1e6:.1f} MB)", flush=True)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.pretrained", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the shipped models by running the notebooks, then export them")
    t.add_argument("names", nargs="*", metavar="NAME", help=f"some of {list(NAMES)} (default: all)")
    t.add_argument("--runs-dir", default="runs")
    t.add_argument("--data-dir", default=None)
    t.add_argument("--epochs", type=int, default=None, help="default: the notebook's (40 on a CPU, 150 on a GPU)")
    e = sub.add_parser("export", help="export a finished run folder as a shipped model")
    e.add_argument("run_dir")
    e.add_argument("name", choices=list(NAMES))
    sub.add_parser("show", help="describe the shipped models")
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            for name in args.names:
                path(name)  # an unknown name is refused before anything is trained
            train(args.names or NAMES, args.runs_dir, args.data_dir, args.epochs)
        elif args.command == "export":
            print(export(args.run_dir, args.name))
        else:
            for name in NAMES:
                print(describe(load(name)[2]) if path(name).is_file() else f"{name}: not shipped", end="\n\n")
    except (CheckpointError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
