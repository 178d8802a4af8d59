"""The decoder ablation: each design trained on the default corpus with several seeds, then evaluated.

    python -m bench.bench_decoders [--epochs 40] [--seeds 0 1] [--only NAME ...] [--jobs 2] [--threads 1]
                                   [--train-minutes M] [--runs-dir runs/ablation] [--export DIR] [--extend]
                                   [--collect [--last]] [--conditions TEXT]

Every design is the basic notebook's experiment (Bach; the style notebook's
for the ``style-*`` designs) with a few settings changed (:data:`DESIGNS`);
the base is the notebooks' earlier default (autoregressive decoder, frames).
Each (design, seed) trains in its own process (``--jobs`` at a time, one CPU
thread each unless ``--threads`` says more, all on the GPU when there is one) into ``<runs-dir>/<design>-s<seed>``,
resuming from its ``last.pt`` when run again (with ``--extend``, past its plan to ``--epochs``, the extra epochs
at its final learning rate); ``--train-minutes`` stops a
run after the epoch that passes that wall time (the figures then say how many
epochs it had). Each run is then measured by :func:`helpers.evaluation.evaluate_run`
(its ``eval.json``: held-out reconstructions decoded freely, the decoder
diagnostics, samples against the real statistics, and for style runs the
judge's verdicts on samples, transfers and style interpolations); where the
epoch its monitor kept as ``best.pt`` is not the last, its ``last.pt`` is
measured too (``eval-last.json``), so that a monitor that kept an early epoch
shows what training went on to reach.

The figures of every run, and their mean per design, go to
``bench/results/ablation.json`` (``--out``); the report's ablation table is
made from that file (the means over the seeds of ``best.pt``; each run's rows, of
``best.pt`` and of ``last.pt`` where it differs); ``--collect`` only gathers the runs already in
``--runs-dir`` (with ``--last``, after measuring the ``last.pt`` of those not yet measured); the rows
``--out`` already holds of runs no longer in ``--runs-dir`` are kept (``--fresh`` drops them), and
``--conditions`` says in the file how they shared the machine (default: what the file said).
``--export DIR`` also writes each seed-0 run as a shipped-model file
(:func:`helpers.pretrained.export`) into ``DIR``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "ablation.json"

VOCAL_TRIO = ("palestrina", "monteverdi", "trecento")  # close styles: three repertoires of vocal polyphony
# name -> (label, changes to the model, changes to the loss[, changes to the data[, the probe figure that keeps
# best.pt (helpers.experiment.MONITORS)]]); "style-*" designs use the style notebook's experiment
DESIGNS = {
    "seed": ("seed decoder (z -> LSTM -> notes)", {"decoder": "seed"}, {}),
    "autoregressive": ("autoregressive, independent cells", {"decoder": "autoregressive"}, {}),
    "seed-nade": ("seed decoder + chord model (NADE): chords, and no past to drift on",
                  {"decoder": "seed", "chords": "nade"}, {}),
    "seed-nade-z64": ("seed decoder + chord model, z 64, beta 0.2, free bits 0.5: more of the piece in z",
                      {"decoder": "seed", "chords": "nade", "latent": 64}, {"beta": 0.2, "free_bits": 0.5}),
    "seed-whole": ("seed decoder + whole notes: each note's length drawn at its onset, so no note breaks off",
                   {"decoder": "seed", "notes": "whole"}, {}),
    "ar-whole": ("autoregressive + whole notes", {"decoder": "autoregressive", "notes": "whole"}, {}),
    "seed-whole-z64": ("seed decoder + whole notes, z 64, beta 0.2, free bits 0.5: more of the piece in z",
                       {"decoder": "seed", "notes": "whole", "latent": 64}, {"beta": 0.2, "free_bits": 0.5}),
    "seed-whole-plan": ("seed decoder + whole notes + bar plan: z also gives each bar's pitches, which the "
                        "decoder hears", {"decoder": "seed", "notes": "whole", "bar_plan": True}, {}),
    "seed-whole-plan-w03": ("seed decoder + whole notes + bar plan, the plan's loss weighted 0.3",
                            {"decoder": "seed", "notes": "whole", "bar_plan": True}, {"plan_weight": 0.3}),
    "seed-whole-plan-w01": ("seed decoder + whole notes + bar plan, the plan's loss weighted 0.1",
                            {"decoder": "seed", "notes": "whole", "bar_plan": True}, {"plan_weight": 0.1}),
    "seed-nade-whole": ("seed decoder + whole notes + chord model over each step's onsets, hearing the notes held",
                        {"decoder": "seed", "notes": "whole", "chords": "nade"}, {}),
    "ar-nade": ("autoregressive + chord model (NADE)", {"decoder": "autoregressive", "chords": "nade"}, {}),
    "ar-nade-ss": ("autoregressive + NADE + scheduled sampling 0.5",
                   {"decoder": "autoregressive", "chords": "nade", "scheduled_sampling": 0.5}, {}),
    "hier-nade-ss": ("hierarchical + NADE + scheduled sampling 0.5",
                     {"decoder": "hierarchical", "chords": "nade", "scheduled_sampling": 0.5}, {}),
    "ar-nade-ss-z64": ("autoregressive + NADE + scheduled sampling, z 64, beta 0.2, free bits 0.5",
                       {"decoder": "autoregressive", "chords": "nade", "scheduled_sampling": 0.5, "latent": 64},
                       {"beta": 0.2, "free_bits": 0.5}),
    "style-default": ("style: the earlier default model (autoregressive, frames)", {}, {}),
    "style-allz": ("style: classifier on all of z (baseline)",
                   {"decoder": "autoregressive", "chords": "nade", "scheduled_sampling": 0.5}, {}),
    "style-code": ("style: classifier on an 8-dimensional style code + adversary",
                   {"decoder": "autoregressive", "chords": "nade", "scheduled_sampling": 0.5, "style_latent": 8,
                    "style_adversary": 1.0}, {}),
    "style-vocal": ("style: the earlier default model on the vocal trio palestrina / monteverdi / trecento",
                    {}, {}, {"styles": VOCAL_TRIO}),
    "style-seed-nade": ("style: seed decoder + chord model, classifier on all of z",
                        {"decoder": "seed", "chords": "nade"}, {}),
    "style-seed-whole": ("style: seed decoder + whole notes, classifier on all of z",
                         {"decoder": "seed", "notes": "whole"}, {}),
    "style-vocal-seed-nade": ("style: seed decoder + chord model on the vocal trio",
                              {"decoder": "seed", "chords": "nade"}, {}, {"styles": VOCAL_TRIO}),
    "style-seed-nade-whole": ("style: seed decoder + whole notes + chord model over each step's onsets",
                              {"decoder": "seed", "notes": "whole", "chords": "nade"}, {}),
    "style-vocal-seed-whole": ("style: seed decoder + whole notes on the vocal trio",
                               {"decoder": "seed", "notes": "whole"}, {}, {"styles": VOCAL_TRIO}),
    "seed-whole-ends": ("seed decoder + whole notes ended also by the onsets they meet",
                        {"decoder": "seed", "notes": "whole", "note_ends": "onsets"}, {}),
    "style-seed-whole-ends": ("style: seed decoder + whole notes ended also by the onsets they meet",
                              {"decoder": "seed", "notes": "whole", "note_ends": "onsets"}, {}),
    "style-seed-nade-whole-ends": ("style: seed decoder + whole notes ended by the onsets they meet + chord model",
                                   {"decoder": "seed", "notes": "whole", "chords": "nade", "note_ends": "onsets"}, {}),
    "style-seed-voices-whole-ends": ("style: seed decoder + whole notes ended by the onsets they meet + chord model "
                                     "with voices: how many notes a step starts, as the state says",
                                     {"decoder": "seed", "notes": "whole", "chords": "nade", "chord_voices": True,
                                      "note_ends": "onsets"}, {}),
    "style-ar-whole-ends": ("style: autoregressive + whole notes ended also by the onsets they meet: a line "
                            "that hears the notes it played",
                            {"decoder": "autoregressive", "notes": "whole", "note_ends": "onsets"}, {}),
    "style-ar-nade-whole-ends": ("style: autoregressive + whole notes ended by the onsets they meet + chord model",
                                 {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                  "note_ends": "onsets"}, {}),
    "style-ar-voices-whole-ends": ("style: autoregressive + whole notes ended by the onsets they meet + chord model "
                                   "with voices", {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                                   "chord_voices": True, "note_ends": "onsets"}, {}),
    "style-ar-voices-whole-ends-samples": ("style: autoregressive + whole notes ended by the onsets they meet + "
                                           "chord model with voices; best.pt chosen by its samples",
                                           {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                            "chord_voices": True, "note_ends": "onsets"}, {}, {}, "sample_distance"),
    "style-ar-voices-before-whole-ends-samples": ("style: the style default with the voices' count read against "
                                                  "the notes that sounded the step before",
                                                  {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                                   "chord_voices": True, "voices_before": True,
                                                   "note_ends": "onsets"}, {}, {}, "sample_distance"),
    "style-ar-voices-whole-joint-samples": ("style: the style default with joint note ends: the notes going on "
                                            "into a step end in turn from the lowest, each hearing those below",
                                            {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                             "chord_voices": True, "note_ends": "joint"}, {}, {}, "sample_distance"),
    "style-ar-voices-whole-ends-plan-samples": ("style: the style default + bar plan: z (and the style) also "
                                                "give each bar's pitches, which the decoder hears",
                                                {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                                 "chord_voices": True, "note_ends": "onsets", "bar_plan": True}, {},
                                                {}, "sample_distance"),
    "style-ar-voices-whole-ends-plan-w03-samples": ("style: the style default + bar plan, the plan's loss weighted 0.3",
                                                    {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                                     "chord_voices": True, "note_ends": "onsets", "bar_plan": True},
                                                    {"plan_weight": 0.3}, {}, "sample_distance"),
    "style-ar-nade-whole-ends-samples": ("style: autoregressive + whole notes ended by the onsets they meet + chord "
                                         "model; best.pt chosen by its samples",
                                         {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                          "note_ends": "onsets"}, {}, {}, "sample_distance"),
    "style-vocal-ar-nade-whole-ends": ("style: autoregressive + whole notes ended by the onsets they meet + chord "
                                       "model, on the vocal trio",
                                       {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                        "note_ends": "onsets"}, {}, {"styles": VOCAL_TRIO}),
    "style-vocal-ar-voices-whole-ends-samples": ("style: the style notebook's default (autoregressive + whole notes "
                                                 "ended by the onsets they meet + chord model with voices; best.pt "
                                                 "chosen by its samples), on the vocal trio",
                                                 {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                                  "chord_voices": True, "note_ends": "onsets"}, {},
                                                 {"styles": VOCAL_TRIO}, "sample_distance"),
    "style-vocal-ar-voices-whole-joint-samples": ("style: the style default with joint note ends, on the vocal trio",
                                                  {"decoder": "autoregressive", "notes": "whole", "chords": "nade",
                                                   "chord_voices": True, "note_ends": "joint"}, {},
                                                  {"styles": VOCAL_TRIO}, "sample_distance"),
    "style-vocal-code": ("style: an 8-dimensional style code + adversary on the vocal trio",
                         {"style_latent": 8, "style_adversary": 1.0}, {}, {"styles": VOCAL_TRIO}),
}


def base_spec(style: bool):
    """The basic (or style) notebook's experiment as it was before whole notes (autoregressive decoder, frames);
    every later design names its decoder and notes."""
    from helpers.experiment import DataConfig, Experiment, vae_train_config
    from helpers.losses import LossConfig
    from helpers.models import preset

    if style:
        data = DataConfig(styles=("bach", "folk", "palestrina"), balance_styles=True, epoch_segments=4000)
        model = preset("autoregressive", enc_hidden=128, latent=32, dec_hidden=256, dec_input=128, n_styles=2)
        loss = LossConfig(beta=0.5, beta_warmup=1000, free_bits=0.25, style_weight=5.0)
    else:
        data = DataConfig(styles=("bach",))
        model = preset("autoregressive", enc_hidden=128, latent=32, dec_hidden=256, dec_input=128)
        loss = LossConfig(beta=0.5, beta_warmup=1000, free_bits=0.25)
    return Experiment(data, model, loss, vae_train_config(batch_size=64, lr=1e-3))


def design_spec(name: str, seed: int, epochs: int, extend: bool = False):
    from helpers.experiment import monitored

    label, model_changes, loss_changes, *more = DESIGNS[name]
    spec = base_spec(name.startswith("style"))
    data_changes, monitor = more[0] if more else {}, more[1] if len(more) > 1 else spec.train.monitor
    return replace(spec, data=replace(spec.data, **data_changes),
                   model=replace(spec.model, **model_changes), loss=replace(spec.loss, **loss_changes),
                   train=monitored(replace(spec.train, epochs=epochs, seed=seed, extend=extend),
                                   monitor)).validate()


class _OutOfTime(Exception):
    pass


EVALUATION = {"n_samples": 300, "transfers": 50, "paths": 10}  # what the bench measures of every run


def evaluate_last(run_dir: Path, device=None) -> dict | None:
    """Measure a run's ``last.pt`` into ``eval-last.json`` where its epoch is not that of ``best.pt`` and it is
    not measured yet; its figures, or None where there is nothing to measure."""
    from helpers import evaluation, experiment
    from helpers.train import load_checkpoint

    run = experiment.RunFolder(run_dir)
    if run.eval_of("last").is_file() or not run.last.is_file() or not run.eval.is_file():
        return None
    if load_checkpoint(run.last)["epoch"] == json.loads(run.eval.read_text())["epoch"]:
        return None
    return evaluation.evaluate_run(run.root, ROOT / "data", device=device, checkpoint="last", **EVALUATION)


def worker(name: str, seed: int, epochs: int, runs_dir: Path, minutes: float | None, export_dir,
           threads: int = 1, extend: bool = False) -> None:
    """Train one (design, seed) and evaluate it."""
    import torch

    from helpers import evaluation, experiment, pretrained
    from helpers.train import pick_device

    torch.set_num_threads(threads)
    device = pick_device(verbose=False)
    spec = design_spec(name, seed, epochs, extend)
    run = experiment.RunFolder(runs_dir / f"{name}-s{seed}")
    splits = experiment.build_splits(spec.data, ROOT / "data", progress=False)
    model = experiment.build_model(spec, splits)
    start = time.time()

    def stop_when_late(history):
        if minutes is not None and time.time() - start > 60 * minutes:
            raise _OutOfTime

    stopped = False
    try:
        experiment.train_vae(model, spec, splits, run, device=device, callback=stop_when_late, progress=False,
                             seeded_order=True)
    except _OutOfTime:
        stopped = True
    if spec.model.n_styles and not (run.judge / "best.pt").is_file():
        experiment.train_judge(splits, run, experiment.JUDGE_EPOCHS, 64, spec.data.epoch_segments, seed=0,
                               device=device)
    result = evaluation.evaluate_run(run.root, ROOT / "data", device=device, **EVALUATION)
    evaluate_last(run.root, device)
    history = json.loads(run.history.read_text())
    cpu = f"cpu ({os.cpu_count()} cores, {threads} thread{'s' if threads > 1 else ''})"
    info = {"design": name, "seed": seed, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else cpu,
            "epochs_planned": epochs, "epochs_done": len(history),
            "stopped_by_time": stopped, "steps": history[-1]["step"],
            "train_seconds": round(sum(r["seconds"] for r in history), 1)}
    (run.root / "ablation.json").write_text(json.dumps(info, indent=1))
    if export_dir and seed == 0:
        summary = {"trained_by": f"python -m bench.bench_decoders (design {name})", "device": info["device"],
                   "valid_elbo": history[-1].get("valid_elbo"), "active_dims": result["active_dims"],
                   "threshold": result["threshold"]["chosen"], "floor": result["floor"]["chosen"],
                   "test_scores": result["reconstruction"]}
        if "style" in result:
            s = result["style"]
            summary.update(judge_real_accuracy=s["judge_real_accuracy"],
                           latent_classifier_accuracy=result.get("latent_classifier_accuracy"),
                           generated_accuracy=s["generated_accuracy"])
        run.write_summary(summary)
        kind = "style" if spec.model.n_styles else "basic"
        target = pretrained.export(run.root, kind, Path(export_dir) / name)
        print(f"exported {target}")


def _figures(run_dir: Path, checkpoint: str = "best") -> dict | None:
    from helpers.evaluation import TRANSFER_WAYS
    from helpers.experiment import RunFolder

    eval_file, info_file = RunFolder(run_dir).eval_of(checkpoint), run_dir / "ablation.json"
    if not eval_file.is_file() or not info_file.is_file():
        return None
    e, info = json.loads(eval_file.read_text()), json.loads(info_file.read_text())
    info = dict(info, checkpoint=checkpoint, epoch=e.get("epoch"), evaluation=e.get("version"))
    stats = e["sample_statistics"]

    def distances_of(statistics):
        return {group: {k: v["distance"] for k, v in table.items()} for group, table in statistics.items()}

    def worst(distances):
        return max(d for group in distances.values() for d in group.values() if d is not None)

    distances = distances_of(stats)
    row = dict(info, reconstruction=e["reconstruction"], threshold=e["threshold"]["chosen"],
               diagnostics=e["diagnostics"], kl=e["test_nll"]["kl"],
               elbo=e["test_nll"]["elbo"], active_dims=e["active_dims"], sample_distances=distances,
               worst_sample_distance=worst(distances),
               polyphony={g: (t["polyphony"]["real_mean"], t["polyphony"]["generated_mean"])
                          for g, t in stats.items() if "polyphony" in t})
    if "sample_statistics_floored" in e:  # the same draws with the onset floor chosen on validation (version 6)
        row["floor"] = e["floor"]["chosen"]
        row["sample_distances_floored"] = distances_of(e["sample_statistics_floored"])
        row["worst_sample_distance_floored"] = worst(row["sample_distances_floored"])
    if "sample_statistics_style_region" in e:  # a style run's samples from each style's region of z
        row["sample_distances_style_region"] = distances_of(e["sample_statistics_style_region"])
    if "style" in e:
        s = e["style"]

        def mean_of(table):
            values = [v for row in table.values() for v in row.values()]
            return sum(values) / len(values) if values else None

        row["style"] = {"judge_real": s["judge_real_accuracy"], "generated": s["generated_accuracy"],
                        **({"generated_style_region": s["generated_accuracy_style_region"]}
                           if "generated_accuracy_style_region" in s else {}),
                        "transfer": {k: mean_of(s[k]) for k in TRANSFER_WAYS if k in s},
                        "transfer_min": {k: min(v for r in s[k].values() for v in r.values())
                                         for k, (how, _) in TRANSFER_WAYS.items() if how and k in s},
                        "latent_classifier": e.get("latent_classifier_accuracy"),
                        **({"generated_floored": s["generated_accuracy_floored"]}
                           if "generated_accuracy_floored" in s else {}),
                        **({"kept": s["transfer_kept"]} if "transfer_kept" in s else {})}
    return row


def _key(row: dict) -> tuple:
    return row["design"], row["seed"], row.get("checkpoint", "best")


def collect(runs_dir: Path, out: Path, conditions: str | None = None, fresh: bool = False) -> dict:
    """Every finished run's figures and each design's mean over its seeds, into ``out``, with ``conditions``
    (how the runs shared the machine) when given. The rows already in ``out`` of runs that ``runs_dir`` does
    not hold are kept (run folders are not kept for ever; their figures are), unless ``fresh``."""
    runs = []
    for run_dir in sorted(d for d in runs_dir.glob("*-s*") if d.is_dir()):
        best, last = _figures(run_dir), _figures(run_dir, "last")
        runs += [r for r in (best, last) if r and not (r is last and best and r["epoch"] == best["epoch"])]
    if out.is_file() and not fresh:
        before = json.loads(out.read_text())
        conditions = conditions or before.get("conditions")
        found = {_key(r) for r in runs}
        kept = [dict(r, checkpoint=r.get("checkpoint", "best")) for r in before["runs"]]
        runs = sorted([r for r in kept if _key(r) not in found and r["design"] in DESIGNS] + runs,
                      key=lambda r: (r["design"], r["seed"], r["checkpoint"]))
    designs = {}
    for name, (label, *_) in DESIGNS.items():
        mine = [r for r in runs if r["design"] == name and r["checkpoint"] == "best"]
        if not mine:
            continue

        def mean(get):
            values = [get(r) for r in mine]
            return round(sum(values) / len(values), 4)

        designs[name] = {
            "label": label, "seeds": [r["seed"] for r in mine],
            "epochs_done": [r["epochs_done"] for r in mine], "steps": [r["steps"] for r in mine],
            "frame_f1": mean(lambda r: r["reconstruction"]["frame_f1"]),
            "onset_f1": mean(lambda r: r["reconstruction"]["onset_f1"]),
            "note_f1": mean(lambda r: r["reconstruction"]["note_f1"]),
            "teacher_forced_f1": mean(lambda r: r["diagnostics"]["teacher_forced"]["frame_f1"]),
            "shuffled_f1": mean(lambda r: r["diagnostics"]["shuffled_codes"]["frame_f1"]),
            "onset_p_median": mean(lambda r: r["diagnostics"]["onset_probability"]["median"]),
            "worst_sample_distance": mean(lambda r: r["worst_sample_distance"]),
            "kl": mean(lambda r: r["kl"]),
            "elbo": mean(lambda r: r["elbo"]),
            "frame_f1_per_seed": [r["reconstruction"]["frame_f1"] for r in mine],
        }
    result = {"runs": runs, "designs": designs}
    if conditions:
        result["conditions"] = conditions
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_decoders", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--only", nargs="+", choices=list(DESIGNS), metavar="NAME")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of each run (default: %(default)s; a run alone trains faster on more)")
    parser.add_argument("--train-minutes", type=float, default=None, help="stop each run's training after this")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "ablation")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--export", type=Path, default=None, help="write each seed-0 run as a shipped model here")
    parser.add_argument("--collect", action="store_true", help="train nothing: gather the runs of --runs-dir")
    parser.add_argument("--fresh", action="store_true",
                        help="drop the rows of --out whose runs --runs-dir does not hold (default: keep them)")
    parser.add_argument("--last", action="store_true",
                        help="with --collect: first measure each run's last.pt where it is not best.pt's epoch")
    parser.add_argument("--extend", action="store_true",
                        help="a run planned for fewer --epochs goes on from its last.pt to --epochs, the extra "
                             "epochs at its final learning rate (without: refused)")
    parser.add_argument("--conditions", help="how the runs shared the machine, for the report")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.epochs, args.runs_dir, args.train_minutes, args.export,
               args.threads, args.extend)
        return 0
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.last and not args.collect:
        parser.error("--last goes with --collect (a training run measures its last.pt itself)")
    jobs = [] if args.collect else [(name, seed) for name in (args.only or DESIGNS) for seed in args.seeds]
    if args.last:
        for run_dir in sorted(d for d in args.runs_dir.glob("*-s*") if d.is_dir()):
            if evaluate_last(run_dir) is not None:
                print(f"measured {run_dir.name}/last.pt", flush=True)
    for name, seed in jobs:
        design_spec(name, seed, args.epochs)  # a bad design is refused before anything runs
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, PYTHONUNBUFFERED="1")
    running, failed = [], []
    start = time.time()
    while jobs or running:
        while jobs and len(running) < args.jobs:
            name, seed = jobs.pop(0)
            command = [sys.executable, "-m", "bench.bench_decoders", "--worker", name, str(seed),
                       "--epochs", str(args.epochs), "--runs-dir", str(args.runs_dir), "--threads", threads]
            if args.train_minutes is not None:
                command += ["--train-minutes", str(args.train_minutes)]
            if args.export is not None:
                command += ["--export", str(args.export)]
            if args.extend:
                command.append("--extend")
            log = open(args.runs_dir / f"{name}-s{seed}.log", "a")
            running.append((name, seed, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log), log))
        time.sleep(2)
        for item in list(running):
            name, seed, process, log = item
            if process.poll() is not None:
                running.remove(item)
                log.close()
                state = "done" if process.returncode == 0 else f"FAILED ({process.returncode})"
                if process.returncode:
                    failed.append(f"{name}-s{seed}")
                print(f"{name}-s{seed}: {state} after {(time.time() - start) / 60:.1f} min", flush=True)
    result = collect(args.runs_dir, args.out, args.conditions, args.fresh)
    print(f"{'design':16s} {'frame':>6s} {'onset':>6s} {'note':>6s} {'forced':>6s} {'shuff':>6s} {'worst':>6s}  steps")
    for name, d in result["designs"].items():
        print(f"{name:16s} {d['frame_f1']:6.3f} {d['onset_f1']:6.3f} {d['note_f1']:6.3f} {d['teacher_forced_f1']:6.3f} "
              f"{d['shuffled_f1']:6.3f} {d['worst_sample_distance']:6.2f}  {d['steps']}")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
