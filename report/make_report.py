"""Regenerate every figure and table of the report from the saved runs and benchmark results.

    python -m report.make_report [--reevaluate] [--pdf]

For each finished run of ``report/runs.py``, ``eval.json`` is computed
(``helpers.evaluation``) when missing, older than the checkpoint, or written
by another version of the evaluation.
Then the figures are drawn into ``report/figures/``, the tables are written
into ``report/report.md`` and the headline figures into ``README.md``, each
between its ``<!-- begin: NAME -->`` and ``<!-- end: NAME -->`` lines (the
prose around them is left as it is), and ``report/results.json`` collects
every figure used. ``--pdf`` also writes ``report/report.pdf``.

Every measured number of the report lives in a generated block; the prose
between blocks says what the numbers mean and copies none of them.
``--from-results`` rebuilds the text from ``report/results.json`` alone (on a
machine without the runs; the figures drawn from examples and histories are
then left as they are).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

from bench import bench_notebooks  # noqa: E402
from helpers import render  # noqa: E402
from helpers.evaluation import EVAL_VERSION, FIRST_STEP_HELD, evaluate_run  # noqa: E402
from helpers.musicstats import STATISTICS  # noqa: E402
from helpers.pianoroll import GridFormat  # noqa: E402
from helpers.models import GridVAE, VAEConfig, count_parameters  # noqa: E402
from report.runs import EPOCHS, ROOT, RUNS, find  # noqa: E402

HERE = Path(__file__).resolve().parent

FIGURES = HERE / "figures"
BENCH = ROOT / "bench" / "results"
BASIC_DEFAULT, SEED, STYLE = "basic", "basic-seed", "style"
# the style notebook's default design, measured by the decoder ablation (its CPU runs)
STYLE_DEFAULT_DESIGN, STYLE_DEFAULT_ABLATION = "style-ar-voices-whole-ends-samples", "ablation_cpu_whole"
EARLIER_BASIC = "basic-ar"  # the default before whole notes: autoregressive, frames


# ------------------------------------------------------------------ collecting

def _json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def is_stale(eval_path: Path, checkpoint: Path) -> bool:
    """An evaluation is redone when missing, older than its checkpoint, or from another evaluation version."""
    if not eval_path.is_file() or eval_path.stat().st_mtime < checkpoint.stat().st_mtime:
        return True
    return (_json(eval_path) or {}).get("version") != EVAL_VERSION


def collect(reevaluate: bool = False, data_dir=None) -> dict:
    """Every run's files (evaluated first where needed) and the benchmark results."""
    runs = {}
    for run in RUNS:
        files = run.files
        if not files.finished:
            print(f"{run.name}: not trained to the end, left out (python -m report.train_runs --only {run.name})")
            continue
        if reevaluate or is_stale(files.eval, files.checkpoint):
            print(f"{run.name}: evaluating ...", flush=True)
            evaluate_run(run.folder, data_dir)
        history = _json(files.history) or []
        runs[run.name] = {
            "run": run, "eval": _json(files.eval), "history": history, "summary": _json(files.summary),
            "machine": _json(run.folder / "machine.json"),
            "train_seconds": sum(row.get("seconds", 0) for row in history),
            "examples": np.load(files.examples) if files.examples.is_file() else None,
        }
    return {"runs": runs, "bench": collect_bench()}


TRAININGS = ("train", "train_style", "train_gpu", "train_style_gpu")  # bench_train's files: each notebook, CPU and GPU


def collect_bench() -> dict:
    """The benchmark results as committed in ``bench/results/``."""
    return {name: _json(BENCH / f"{name}.json")
            for name in ("data", *TRAININGS, "notebooks", "notebooks_gpu", "generate", "first_audio", "scale", "distributed", "ablation",
                         "ablation_long", "ablation_gpu", "ablation_cpu_whole", "ablation_cpu_150",
                         "ablation_cpu_extended", "ablation_cpu_joint", "ablation_cpu_plan", "decoding", "judge",
                         "style_vocal", "lines", "attributes", "metre", "judge_splits", "voices")}


def collect_saved(path: Path) -> dict:
    """The runs' figures of an earlier ``make_report`` (``report/results.json``), without their examples,
    and the benchmark results as they are now."""
    saved = json.loads(path.read_text())
    runs = {name: {"run": find(name), "eval": r["eval"], "history": [], "summary": None, "machine": r["machine"],
                   "train_seconds": r["train_seconds"], "epochs": r.get("epochs"), "examples": None}
            for name, r in saved["runs"].items()}
    return {"runs": runs, "bench": collect_bench()}


# ------------------------------------------------------------------ tables

def _f(value, digits=3):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _table(header, rows, align=None) -> str:
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _minutes(seconds):
    return "n/a" if not seconds else f"{seconds / 60:.1f} min"


def table_data(c) -> str:
    d = c["bench"]["data"]
    if not d:
        return "(no data benchmark: python -m bench.bench_data)"
    per_style = d["corpus"]["per_style"]
    metre = all("other_metre" in r for r in per_style)  # measured since segments keep the grid's metre
    rows = [[r["style"], r["pieces"], f"{r['train']} / {r['valid']} / {r['test']}", f"{r['segments']:,}"]
            + ([f"{r['other_metre']:,}"] if metre else []) + [r["skipped"], _f(r["mean_polyphony"], 2)]
            for r in per_style]
    return _table(["style", "pieces", "train / valid / test pieces",
                   "segments (4 bars of 4/4)" if metre else "segments (64 steps)"]
                  + (["of another metre (left out)"] if metre else []) + ["skipped", "mean polyphony"], rows)


def _where(r) -> str:
    """Where a run trained, from its ``machine.json``; the evaluation's device for runs without one."""
    return _machine_words(r["machine"]["machine"]) if r["machine"] else r["eval"]["device"]


def table_runs(c) -> str:
    rows = []
    for name, r in c["runs"].items():
        params = ", ".join(f"`{k}={v}`" for k, v in r["run"].parameters.items()) or "defaults"
        wall = _minutes(r["machine"]["wall_seconds"]) if r["machine"] else "n/a"
        rows.append([f"`{name}`", r["run"].label, params, r["eval"]["epoch"], _minutes(r["train_seconds"]), wall,
                     _where(r)])
    return _table(["run", "what", "notebook parameters", "best epoch", "training", "whole notebook", "where"], rows,
                  ["---", "---", "---", "---:", "---:", "---:", "---"])


def table_reconstruction(c) -> str:
    rows = []
    for name, r in c["runs"].items():
        e = r["eval"]
        n, rec = e["test_nll"], e["reconstruction"]
        rows.append([f"`{name}`", _f(n["elbo"], 1), _f(n["elbo_per_step"], 2), _f(n["recon"], 1), _f(n["kl"], 1),
                     f"{e['active_dims']}/{e['model_config']['latent']}", e["threshold"]["chosen"],
                     _f(rec["frame_precision"]), _f(rec["frame_recall"]), _f(rec["frame_f1"]),
                     _f(rec["frame_accuracy"]), _f(rec["onset_f1"]), _f(rec["note_f1"])])
    return _table(["run", "-ELBO", "per step", "recon", "KL", "active dims", "threshold", "frame P", "frame R",
                   "frame F1", "frame acc.", "onset F1", "note F1"], rows)


def table_posterior(c) -> str:
    rows = []
    for name, r in c["runs"].items():
        kl = np.array(r["eval"]["kl_per_dim"])
        rows.append([f"`{name}`", _f(kl.sum(), 1), _f(kl.min(), 2), _f(np.median(kl), 2), _f(kl.max(), 2),
                     int((kl > 0.1).sum()), f"{r['eval']['active_dims']}/{len(kl)}"])
    return _table(["run", "KL total", "KL min dim", "KL median dim", "KL max dim", "dims > 0.1 nats",
                   "active dims"], rows)


def table_statistics(c, run=BASIC_DEFAULT, group="all") -> str:
    stats = c["runs"][run]["eval"]["sample_statistics"][group]
    rows = [[label, f"{_f(s['real_mean'], 2)} ± {_f(s['real_std'], 2)}",
             f"{_f(s['generated_mean'], 2)} ± {_f(s['generated_std'], 2)}", _f(s["distance"], 2)]
            for label, s in ((STATISTICS[k], stats[k]) for k in STATISTICS)]
    return _table(["statistic (per segment)", "real test segments", "samples", "distance"], rows)


def table_distances(c) -> str:
    names = [n for n, r in c["runs"].items() if "all" in r["eval"]["sample_statistics"]]
    rows = []
    for key, label in STATISTICS.items():
        rows.append([label] + [_f(c["runs"][n]["eval"]["sample_statistics"]["all"][key]["distance"], 2)
                               for n in names])
    means = [np.mean([c["runs"][n]["eval"]["sample_statistics"]["all"][k]["distance"] for k in STATISTICS])
             for n in names]
    rows.append(["**mean**"] + [f"**{_f(m, 2)}**" for m in means])
    return _table(["distance of samples to real data"] + [f"`{n}`" for n in names], rows)


def table_style_statistics(c) -> str:
    r = c["runs"].get(STYLE)
    if not r:
        return "(no style run evaluated)"
    stats, names = r["eval"]["sample_statistics"], r["eval"]["styles"]
    region = r["eval"].get("sample_statistics_style_region")

    def cell(n, k):
        text = f"{_f(stats[n][k]['real_mean'], 2)} / {_f(stats[n][k]['generated_mean'], 2)} ({_f(stats[n][k]['distance'], 2)})"
        if region:
            text += f" / {_f(region[n][k]['generated_mean'], 2)} ({_f(region[n][k]['distance'], 2)})"
        return text

    head = "statistic: real / samples (distance)" + (" / from the style's region (distance)" if region else "")
    return _table([head] + names, [[label] + [cell(n, k) for n in names] for k, label in STATISTICS.items()])


def table_style(c) -> str:
    r = c["runs"].get(STYLE)
    if not r or "style" not in r["eval"]:
        return "(no style run evaluated)"
    e, s = r["eval"], r["eval"]["style"]
    names = e["styles"]
    rows = [["judge's accuracy on real test segments"] + [_f(s["judge_real_accuracy"][n]) for n in names]
            + [_f(s["judge_real_accuracy"]["all"])],
            [f"samples generated in the style, called that style ({e['samples_per_group']} per style)"]
            + [_f(s["generated_accuracy"][n]) for n in names]
            + [_f(np.mean([s["generated_accuracy"][n] for n in names]))]]
    if "generated_accuracy_style_region" in s:
        region = s["generated_accuracy_style_region"]
        rows.append(["samples drawn from the style's region of z, called that style"]
                    + [_f(region[n]) for n in names] + [_f(np.mean([region[n] for n in names]))])
    main = _table(["figure"] + names + ["all"], rows)
    ways = [s["transfer_accuracy"]] + [s.get(k, {}) for k in ("transfer_accuracy_shifted",
                                                              "transfer_accuracy_shifted_drawn")]
    transfer = _table(["from \\ to"] + names,
                      [[a] + [" / ".join(_f(way.get(a, {}).get(b), 2) for way in ways) if a != b else ""
                              for b in names] for a in names])
    curves = s["interpolation"]
    first = next(iter(curves.values()))
    interp = _table(["path"] + [f"t={t:.2f}" for t in first["t"]],
                    [[k] + [_f(p, 2) for p in v["p_target_mean"]] for k, v in curves.items()])
    return (f"{main}\n\nLatent classifier (z -> style) accuracy on the test segments: "
            f"{_f(e['latent_classifier_accuracy'])}.\n\nTest segments of the row's style encoded with their "
            f"style and decoded with the column's, called the column's style by the judge (up to 100 each); "
            f"first by the decoder's style embedding alone, then with z also moved by the difference of the two "
            f"styles' mean codes, decoded by the threshold chosen for reconstructions; last, the moved codes "
            f"drawn as samples are:\n\n"
            f"{transfer}\n\nJudge's probability of the target style along a style interpolation with one z "
            f"(mean over {first['paths']} z):\n\n{interp}")


def _ours_files_per_s(data: dict) -> float:
    """Our conversion speed with all the cores the data benchmark had."""
    conv = data["conversion"]
    workers = max(int(k.split("_")[1]) for k in conv if k.startswith("ours_"))
    return conv[f"ours_{workers}_workers_files_per_s"]


def _worst_group_stat(distances) -> str:
    """The largest distance of any style's statistic, named: ``palestrina empty beats 4.5``."""
    worst = max(((d, group, stat) for group, table in distances.items() if group != "all"
                 for stat, d in table.items() if d is not None), default=None)
    return f"{worst[1]} {worst[2].replace('_', ' ')} {_f(worst[0], 1)}" if worst else "-"


KEPT_WAYS = {"transfer_accuracy": "embedding only", "transfer_accuracy_shifted": "code moved",
             "transfer_accuracy_shifted_drawn": "code moved, drawn"}


def _kept_text(kept) -> str:
    """``embedding only 0.41 (0.22), ...``: each way's transfers against their own source and (in brackets) another
    source; empty for evaluations made before they were measured."""
    return ", ".join(f"{label} {_kept_pair(kept[k])}" for k, label in KEPT_WAYS.items() if k in (kept or {}))


def _kept_pair(pair) -> str:
    """``0.41 (0.22)``: kept of the own source, and (in brackets) of another; ``-`` where not measured."""
    return f"{_f(pair['own'], 2)} ({_f(pair['other'], 2)})" if pair else "-"


def _checkpoint_text(row) -> str:
    """Which checkpoint of a run an ablation row measures: ``, best.pt (epoch 6)``, ``, last.pt (epoch 40)``;
    nothing for rows gathered before the files said; and ``, first step held`` where the evaluation decoded
    with notes held into the first step (the rows before did not)."""
    if "epoch" not in row:
        return ""
    held = ", first step held" if (row.get("evaluation") or 0) >= FIRST_STEP_HELD else ""
    return f", {row.get('checkpoint', 'best')}.pt (epoch {row['epoch']}){held}"


def _table_style_runs(a, judge: bool = False) -> str:
    """One row per style run of an ablation file: samples recognised and transfers (and the judge on real music);
    samples from each style's region where the file's runs were evaluated for them."""
    rows = []
    regions = any("generated_style_region" in r.get("style", {}) for r in a["runs"])
    drawn = any("transfer_accuracy_shifted_drawn" in r.get("style", {}).get("transfer", {}) for r in a["runs"])
    kept = any(r.get("style", {}).get("kept") for r in a["runs"])
    floored = any("sample_distances_floored" in r for r in a["runs"])  # evaluation version 6 on
    for r in a["runs"]:
        if "style" not in r:
            continue
        s = r["style"]
        transfer = s["transfer"]
        row = [f"{a['designs'][r['design']]['label']}, seed {r['seed']}{_checkpoint_text(r)}", f"{r['steps']:,}"]
        if judge:
            row.append(", ".join(f"{k} {_f(v, 2)}" for k, v in s["judge_real"].items() if k != "all"))
        row.append(_worst_group_stat(r["sample_distances"]))
        row += [", ".join(f"{k} {_f(v, 2)}" for k, v in s["generated"].items())]
        if floored:
            row += [f"{_worst_group_stat(r['sample_distances_floored'])} (floor {r['floor']}); recognised "
                    + ", ".join(f"{k} {_f(v, 2)}" for k, v in s["generated_floored"].items())
                    if "sample_distances_floored" in r else "-"]
        if regions:
            row += [_worst_group_stat(r["sample_distances_style_region"]) if "sample_distances_style_region" in r
                    else "-", ", ".join(f"{k} {_f(v, 2)}" for k, v in s["generated_style_region"].items())
                    if "generated_style_region" in s else "-"]
        moved = [f"{_f(transfer[k], 2)} (min {_f(s['transfer_min'][k], 2)})" if k in transfer else "-"
                 for k in ("transfer_accuracy_shifted", "transfer_accuracy_swapped")
                 + (("transfer_accuracy_shifted_drawn",) if drawn else ())]
        rows.append(row + [_f(transfer.get("transfer_accuracy"), 2)] + moved
                    + ([_kept_pair((s.get("kept") or {}).get("transfer_accuracy_shifted_drawn"))] if kept else []))
    header = ["style run", "steps"] + (["judge on real test segments"] if judge else []) + [
        "worst sample stat (sd)", "samples recognised"] + (
        ["the same drawn with the onset floor chosen on validation"] if floored else []) + (
        ["worst sample stat, from the style's region", "recognised, from the style's region"] if regions else []) + [
        "transfer, embedding only", "transfer, z shifted (mean codes)", "transfer, style code swapped"] + (
        ["transfer, z shifted, drawn"] if drawn else []) + (
        ["drawn transfer keeps of its source (another source)"] if kept else [])
    return _table(header, rows) if rows else ""


def table_style_vocal(c) -> str:
    """A style run on the vocal trio (``bench/results/style_vocal.json``, from ``bench.bench_decoders``)."""
    a = c["bench"].get("style_vocal")
    if not a or not a.get("runs"):
        return "(not measured: run `python -m bench.bench_decoders --only style-vocal --seeds 0`)"
    runs = a["runs"]
    return (_table_style_runs(a, judge=True) + f"\n\n{runs[0]['device']}, at most "
            f"{_minutes(max(r['train_seconds'] for r in runs))} of training and "
            f"{max(r['epochs_done'] for r in runs)} epochs per run; each run's own judge; transfers are means over "
            "the six directions, with the weakest.")


def table_ablation(c, key: str = "ablation") -> str:
    """A decoder ablation (``python -m bench.bench_decoders``, ``bench/results/<key>.json``), one row per design,
    means over seeds, then one row per style run."""
    a = c["bench"].get(key)
    if not a or not a.get("designs"):
        return "(not measured: run `python -m bench.bench_decoders`)"
    rows = []
    elbo = all("elbo" in d for d in a["designs"].values())  # measured by the later ablations
    for name, d in a["designs"].items():
        if name.startswith("style"):
            continue
        per_seed = " / ".join(_f(v) for v in d["frame_f1_per_seed"])
        rows.append([d["label"], str(len(d["seeds"])), f"{min(d['steps']):,}-{max(d['steps']):,}",
                     f"{_f(d['frame_f1'])} ({per_seed})", _f(d["onset_f1"]), _f(d["note_f1"]),
                     _f(d["teacher_forced_f1"]), _f(d["shuffled_f1"]), _f(d["onset_p_median"], 2),
                     _f(d["worst_sample_distance"], 2)] + ([_f(d["elbo"], 0)] if elbo else []))
    table = _table(["design", "seeds", "steps", "free-running frame F1 (per seed)", "onset F1", "note F1",
                    "teacher-forced frame F1", "shuffled codes", "P(onset) at real onsets", "worst sample stat (sd)"]
                   + (["test -ELBO (nats)"] if elbo else []), rows) if rows else ""
    style = _table_style_runs(a, judge=key != "ablation")
    if style:
        table = (table + "\n\n" if table else "") + style
    if "conditions" in a:
        return table + f"\n\nThe runs: {a['conditions'].rstrip('.')}. Held-out segments of each run's own styles."
    trained = [r for r in a["runs"] if r.get("checkpoint", "best") == "best"]  # one row per run trained
    device = trained[0]["device"] if trained else "?"
    minutes = max(r["train_seconds"] for r in trained) / 60
    stopped = sum(r["stopped_by_time"] for r in trained)
    return (table + f"\n\nAll runs on one {device}, side by side ({len(trained)} processes sharing it), "
            f"{stopped} of them stopped by the time limit, at most {minutes:.1f} minutes of training each; "
            "held-out Bach segments (style runs: the default trio).")


def table_long_run(c) -> str:
    """The default design trained long on the CPU (``bench/results/ablation_long.json``): its probe against steps."""
    a = c["bench"].get("ablation_long")
    if not a or not a.get("runs"):
        return "(not measured: run `python -m bench.bench_decoders --only autoregressive --seeds 0 --epochs 150`)"
    r = a["runs"][0]
    curve = r["diagnostics"]["free_f1_by_step"]
    marks = sorted({min(len(curve) - 1, round(i * (len(curve) - 1) / 7)) for i in range(8)})
    probe = _table(["optimiser steps"] + [f"{curve[i]['step']:,}" for i in marks],
                   [["free-running frame F1, 64 validation segments (threshold 0.5)"]
                    + [_f(curve[i]["free_f1"]) for i in marks]])
    d, rec = r["diagnostics"], r["reconstruction"]
    test = _table(["held-out Bach", "frame F1", "onset F1", "note F1", "teacher-forced frame F1",
                   "P(onset) at real onsets", "KL (nats)", "worst sample stat (sd)"],
                  [[f"epoch {r['epochs_done']} of {r['epochs_planned']}, {r['steps']:,} steps (threshold "
                    f"{r['threshold']})", _f(rec["frame_f1"]), _f(rec["onset_f1"]), _f(rec["note_f1"]),
                    _f(d["teacher_forced"]["frame_f1"]), _f(d["onset_probability"]["median"], 2), _f(r["kl"], 1),
                    _f(r["worst_sample_distance"], 2)]])
    return (probe + "\n\n" + test + f"\n\nOne run, {r['device']}, {_minutes(r['train_seconds'])} of training; "
            "best.pt is the epoch with the best probe.")


def _worst_stat(table) -> tuple[float, str]:
    """``(distance, statistic)`` of one group's furthest measured statistic."""
    return max((d, stat) for stat, d in table.items() if d is not None)


def _span(values, digits=2) -> str:
    """``0.55`` or ``0.42-0.55``: the range of figures of several seeds, as one figure where they agree."""
    low, high = min(values), max(values)
    return _f(low, digits) if round(low, digits) == round(high, digits) else f"{_f(low, digits)}-{_f(high, digits)}"


def _worst_spans(rows, key: str, digits: int = 2) -> str:
    """``0.55-0.58 / 0.42-0.61``: each group's furthest statistic of ``r[key]``, as a range over the runs ``rows``."""
    return " / ".join(_span([_worst_stat(r[key][n])[0] for r in rows], digits) for n in rows[0][key])


def _worst_each(distances) -> str:
    """``1.10 / 1.30 / 1.75``: each group's furthest statistic, in the order of ``distances``."""
    return " / ".join(_f(_worst_stat(table)[0], 2) for table in distances.values())


def _worst_per_style(distances) -> str:
    """``bach in scale 1.10, folk pitch range 1.30``: each style's furthest statistic, named."""
    return ", ".join(f"{group} {stat.replace('_', ' ')} {_f(d, 2)}" for group, (d, stat) in
                     ((g, _worst_stat(table)) for g, table in distances.items() if g != "all"))


def table_style_long(c) -> str:
    """The style notebook's default trained for the 150 epochs of a GPU runtime
    (``bench/results/ablation_cpu_150.json``) beside its 40-epoch run of the same seed (``ablation_cpu_whole``),
    and after more epochs at its final learning rate (``ablation_cpu_extended``)."""
    long, short = c["bench"].get("ablation_cpu_150"), c["bench"].get("ablation_cpu_whole")
    extended = c["bench"].get("ablation_cpu_extended") or {}
    if not long or not long.get("runs"):
        return (f"(not measured: `python -m bench.bench_decoders --only {STYLE_DEFAULT_DESIGN} --seeds 0 --epochs "
                "150 --jobs 1 --threads 2 --runs-dir runs/ablation-150 --out bench/results/ablation_cpu_150.json`)")
    seeds = {r["seed"] for r in long["runs"]}
    runs = [r for r in (short or {}).get("runs", []) if r["design"] == STYLE_DEFAULT_DESIGN and r["seed"] in seeds]
    runs += [r for r in long["runs"] if r["design"] == STYLE_DEFAULT_DESIGN]
    runs += [r for r in extended.get("runs", []) if r["design"] == STYLE_DEFAULT_DESIGN]
    rows = []
    for r in runs:
        s = r["style"]
        t, t_min = s["transfer"], s["transfer_min"]
        floored = r.get("sample_distances_floored")
        rows.append([f"{r['epochs_done']} epochs, seed {r['seed']}{_checkpoint_text(r)}", f"{r['steps']:,}",
                     _minutes(r["train_seconds"]), _f(r["reconstruction"]["frame_f1"]),
                     _worst_per_style(r["sample_distances"]),
                     f"{_worst_per_style(floored)} (floor {r['floor']})" if floored else "-",
                     ", ".join(f"{k} {_f(v, 2)}" for k, v in s["generated"].items()),
                     f"{_f(t['transfer_accuracy_shifted_drawn'], 2)} (min "
                     f"{_f(t_min['transfer_accuracy_shifted_drawn'], 2)})"
                     if "transfer_accuracy_shifted_drawn" in t else "-"])
    table = _table(["run", "steps", "training", "frame F1", "worst statistic of each style (sd)",
                    "the same with the onset floor chosen on validation", "samples recognised",
                    "transfers recognised, drawn (weakest direction)"], rows)
    devices = "; ".join(sorted({f"{r['epochs_done']} epochs: {r['device']}" for r in runs}))
    return table + f"\n\n{devices}. Held-out segments of the default trio; each run's own judge."


def table_decoding(c) -> str:
    """Free-running decoding by threshold, by one draw, and by rescoring candidates (``bench.bench_decoding``)."""
    d = c["bench"].get("decoding")
    if not d:
        return "(not measured: run `python -m bench.bench_decoding`)"
    rows = [[f"threshold {th}", _f(v["frame_f1"]), _f(v["onset_f1"]), _f(v["notes_per_step"], 1)]
            for th, v in d["threshold"].items()]
    rows.append(["one Bernoulli draw", _f(d["bernoulli"]["frame_f1"]), _f(d["bernoulli"]["onset_f1"]),
                 _f(d["bernoulli"]["notes_per_step"], 1)])
    words = {"likelihood": "kept by the model's likelihood", "re_encoding": "kept by re-encoding closest to z",
             "both": "kept by likelihood and re-encoding", "oracle": "kept by F1 against the original (oracle)"}
    for rule, v in d["rescored"].items():
        rows.append([f"best of {d['candidates']} draws + the thresholds, {words.get(rule, rule)}",
                     _f(v["frame_f1"]), _f(v["onset_f1"]), _f(v["notes_per_step"], 1)])
    ll = d["log_likelihood"]
    return (_table(["decoding", "frame F1", "onset F1", "notes per step"], rows)
            + f"\n\nReal segments: {_f(d['real']['notes_per_step'], 1)} notes per step. Log-likelihood under the "
            f"decoder given the code (nats per segment, mean): the real segments {_f(ll['real'], 0)}, the best "
            f"threshold's decodes {_f(ll['best_threshold'], 0)}, threshold 0.5 {_f(ll['threshold_0.5'], 0)}, "
            f"Bernoulli draws {_f(ll['bernoulli'], 0)}. Model: {d['model']} ({d['decoder']}, {d['chords']} cells, "
            f"{d['steps'] or 0:,} steps), {d['segments']} held-out segments; `{d['command']}`.")


def table_judge(c) -> str:
    """The judge's accuracy on real held-out segments, per trio of styles (``bench.bench_judge``)."""
    j = c["bench"].get("judge")
    if not j:
        return "(not measured: run `python -m bench.bench_judge`)"
    def judges(r):
        members = r.get("members", 1)
        return (f"{r['judge']}: {r['layers']} convolutions of {r['channels']}, {r['epochs']} epochs"
                + (f", {members} judges" if members > 1 else ""))

    def alone(r):  # the weakest style of each member judging alone
        worst = [min(m[k] for k in r["styles"]) for m in r.get("member_accuracy", [])]
        return f"{_f(min(worst), 2)}-{_f(max(worst), 2)}" if worst else "-"

    def weakest_piece(r):
        if "pieces" not in r:
            return "-"
        style = min(r["styles"], key=lambda k: r["accuracy"][k])
        name, piece = min(r["pieces"][style].items(), key=lambda item: item[1]["accuracy"])
        return (f"{style}: {name} {_f(piece['accuracy'], 2)} of {piece['segments']} segments "
                f"({len(r['pieces'][style])} pieces)")

    rows = [[", ".join(r["styles"]), judges(r), str(r["seed"]),
             ", ".join(f"{k} {_f(r['accuracy'][k], 2)}" for k in r["styles"]), _f(r["worst"], 2), alone(r),
             weakest_piece(r)] for r in j["trios"]]
    return (_table(["styles", "judge", "seed", "accuracy on real test segments", "worst", "worst, each judge alone",
                    "its weakest held-out piece"], rows)
            + f"\n\n`{j['command']}`; {j['machine']['cpu']}; seeds S, S+1, ... of a row's judges.")


def table_judge_splits(c) -> str:
    """The judge over several splits of the corpus: each trio's worst style per split (``bench.bench_judge
    --split-seeds``)."""
    j = c["bench"].get("judge_splits")
    if not j:
        return "(not measured: run `python -m bench.bench_judge --split-seeds 0 1 2 --out bench/results/judge_splits.json`)"
    rows = []
    for summary in j["summary"]:
        mine = [r for r in j["trios"] if r["styles"] == summary["styles"] and r["judge"] == summary["judge"]]
        weakest = {}
        for r in mine:  # which style is the weakest on each split
            weakest.setdefault(str(r["split_seed"]), min(r["styles"], key=lambda k: r["accuracy"][k]))
        rows.append([", ".join(summary["styles"]), summary["judge"],
                     " / ".join(f"{_f(w, 2)} ({weakest[split]})" for split, w in summary["worst_by_split"].items()),
                     _f(summary["mean_worst"], 2), _f(summary["least_worst"], 2)])
    splits = list(j["summary"][0]["worst_by_split"]) if j["summary"] else []
    members, seeds = ({str(r[key]) for r in j["trios"]} for key in ("members", "seed"))  # each row's own
    return (_table(["styles", "judge", "worst style on splits " + " / ".join(splits), "mean", "least"], rows)
            + f"\n\n`{j['command']}`; {j['machine']['cpu']}; segments in 4/4, as the notebooks now cut them; "
            f"{' or '.join(sorted(members))} judges per row, seeds {' or '.join(sorted(seeds))}, ... .")


def table_attributes(c) -> str:
    """Attribute vectors added to held-out pieces' codes: the statistic at each amount (``bench.bench_attributes``)."""
    a = c["bench"].get("attributes")
    if not a:
        return "(not measured: run `python -m bench.bench_attributes`)"
    amounts = a["amounts"]
    rows = [[f"{key} ({m['decoder']}, {m['steps']:,} steps)", name.replace("_", " "),
             " / ".join(_f(v, 2) for v in r["means"]), f"{_f(r['real_mean'], 2)} ({_f(r['real_std'], 2)})",
             "yes" if r["rises"] else "no", f"{r['change_sd']:+.2f}",
             f"{r['largest_other'].replace('_', ' ')} {r['largest_other_sd']:+.2f}"]
            for key, m in a["models"].items() for name, r in m["attributes"].items()]
    return (_table(["model", "attribute", "its mean at amounts " + " / ".join(f"{x:+g}" for x in amounts),
                    "real test segments: mean (sd)", "rises at every step", "change from -1 to +1 (real sd)",
                    "the other statistic it moves most (real sd)"], rows)
            + f"\n\n`{a['command']}`: {next(iter(a['models'].values()))['segments']} held-out segments per model, "
            f"drawn with each model's onset floor, the amounts of a segment with the same dice; "
            f"{a['machine']['cpu']}.")


def table_metre(c) -> str:
    """Models trained on segments of every metre or in the grid's, scored on both (``bench.bench_metre``)."""
    m = c["bench"].get("metre")
    if not m:
        return "(not measured: run `python -m bench.bench_metre RUN ...`)"
    rows = []
    for key, r in m["models"].items():
        for test, label in (("grid_metre", "in the grid's metre"), ("every_metre", "every metre")):
            t = r["test"][test]
            rows.append([f"{key} (trained on {'every metre' if r['trained_any_metre'] else 'the grid metre'})",
                         f"{label} ({t['segments']:,})", _f(t["reconstruction"]["frame_f1"]),
                         _f(t["reconstruction"]["onset_f1"]), _f(t["reconstruction"]["note_f1"]),
                         ", ".join(("" if group == "all" else f"{group} ")
                                   + f"{w['statistic'].replace('_', ' ')} {_f(w['distance'], 2)}"
                                   for group, w in t["worst"].items())])
    return (_table(["model", "test segments", "frame F1", "onset F1", "note F1",
                    "samples' worst statistic (real sd)"], rows)
            + f"\n\n`{m['command']}`; free-running reconstructions from the posterior mean at the threshold chosen "
            f"on the matching validation segments; prior samples drawn without a floor; {m['machine']['cpu']}.")


def table_voices(c) -> str:
    """Notes per step and where their number falls or rises, real against samples (``bench.bench_voices``)."""
    v = c["bench"].get("voices")
    if not v:
        return "(not measured: run `python -m bench.bench_voices MODEL ...`)"
    rows = []
    for key, m in v["models"].items():
        for style, f in m["styles"].items():
            real, drawn = f["real"], f["samples"]
            common = max(range(len(real["share"])), key=real["share"].__getitem__)  # the style's commonest count
            rows.append([f"{key} ({m['note_ends']}, {m['steps']:,} steps)", style,
                         f"{_f(real['mean'], 2)} / {_f(drawn['mean'], 2)}",
                         f"{common + 1}: {_f(real['share'][common], 2)} / {_f(drawn['share'][common], 2)}",
                         f"{_f(real['falls'], 3)} / {_f(drawn['falls'], 3)}",
                         f"{_f(real['rises'], 3)} / {_f(drawn['rises'], 3)}",
                         f"{_f(drawn['ended_where_falling'], 1)} / {_f(drawn['started_where_falling'], 1)}"])
    return (_table(["model (note ends, steps)", "style", "notes at sounding steps: real / drawn",
                    "steps at the commonest count: real / drawn", "steps where fewer sound: real / drawn",
                    "steps where more sound: real / drawn", "drawn, where fewer sound: notes ended / started"], rows)
            + f"\n\n`{v['command']}`: prior samples per style drawn with each model's onset floor chosen on "
            f"validation segments; real: the test segments; steps where fewer (more) sound: of two consecutive "
            f"sounding steps, the share where the second has fewer (more) notes; {v['machine']['cpu']}.")


def table_lines(c) -> str:
    """How the samples' lines hold together, per model and style, real against samples (``bench.bench_lines``)."""
    lines = c["bench"].get("lines")
    if not lines:
        return "(not measured: run `python -m bench.bench_lines`)"
    figures = (("sounding", "steps sounding"), ("polyphony", "notes at sounding steps"),
               ("two_onsets", "sounding steps where notes start together"),
               ("held_into_onset", "sounding steps where a note is held into a new one"))
    rows = [[f"`{name}` ({m['decoder']}, {m['note_ends']}, {m['chords']}, {m['steps']:,} steps)", style]
            + [f"{_f(f['real'][key], 2)} / {_f(f['samples'][key], 2)}" for key, _ in figures]
            + [f"{_f(f['one_onset_steps']['p_onset'], 2)} / {_f(f['one_onset_steps']['other_onsets'], 2)}"]
            for name, m in lines["models"].items() for style, f in m["styles"].items()]
    return (_table(["model (decoder, note ends, chords, steps)", "style"]
                   + [f"{label}: real / samples" for _, label in figures]
                   + ["where the music starts one note: P(that onset) / other onsets"], rows)
            + f"\n\n`{lines['command']}`: {lines['samples']} samples per style from the prior; real: the test "
            f"segments; {lines['machine']['cpu']}. The last column: at the test segments' steps with exactly one "
            "onset, teacher-forced from their posterior means, the median probability of that onset and the "
            "probabilities of onsets at the other pitches, summed.")


def _machine_words(m: dict) -> str:
    """Where a benchmark ran, in words: what ``--conditions`` said, else its GPU and torch, else its CPU."""
    if m.get("conditions"):
        return m["conditions"]
    if m.get("gpu"):
        return f"one {m['gpu']}, torch {m['torch']}"
    return f"{m['cpu']}, {m['cores']} cores"


def table_speed(c) -> str:
    d, g = c["bench"]["data"], c["bench"]["generate"]
    trainings = [b for b in (c["bench"].get(n) for n in TRAININGS) if b]
    rows = []
    if d:
        conv, corp = d["conversion"], d["corpus"]
        rows += [["MIDI file -> cached grids", f"{_ours_files_per_s(d):,.0f} files/s",
                  f"one process {conv['ours_1_workers_files_per_s']:,.0f} files/s; "
                  f"plain pretty_midi loop {conv['pretty_midi_loop_files_per_s']:,.0f} files/s "
                  f"({conv['ratio']}x), {conv['files']} files", "`python -m bench.bench_data`"],
                 ["default corpus, cold build / warm load", f"{corp['cold_build_s']:.0f} s / {corp['warm_load_s']} s",
                  f"{corp['pieces']} pieces, {len(corp['styles'])} styles", "`python -m bench.bench_data`"]]
    for b in trainings:
        model = b.get("model", {})
        device = b["machine"]["gpu"] if b["device"] == "cuda" else b["device"]
        epoch = (f"; one of the notebook's epochs ({b['epoch_segments']:,} segments) {b['epoch_s']} s"
                 if "epoch_s" in b else "")
        rows.append([f"training, {b.get('notebook', 'basic')} notebook's model ({device}, "
                     f"{b.get('precision', 'float32')}), batch {b['batch_size']}"
                     + (f", {model['decoder']} decoder, {model.get('notes', 'frames')}" if model else ""),
                     f"{b['train_function_segments_per_s']:,.1f} segments/s",
                     f"bare loop {b['bare_loop_segments_per_s']:,.1f} segments/s, ratio {b['overhead_ratio']:.2f}"
                     + epoch, "`python -m bench.bench_train" + (" --notebook style" if b.get("notebook") == "style"
                                                               else "") + "`"])
    for b in (c["bench"].get(n) for n in ("notebooks", "notebooks_gpu")):
        for f in (b or {}).get("notebooks", []):
            low, high = f["default_notebook_min"]
            where = _machine_words(b["machine"])
            rows.append([f"the {f['notebook']} notebook with its defaults but {f['epochs']} epochs ({where})",
                         f"{f['notebook_s']:.0f} s", f"training {f['train_s']:.0f} s (an epoch's steps "
                         f"{f['epoch_steps_s']} s, with validation, probe and checkpoint {f['epoch_rest_s']} s more); "
                         f"its default {f['default_epochs']} epochs ({f['default_probes']} probed): about "
                         f"{bench_notebooks.minutes(low, high)} min", "`python -m bench.bench_notebooks`"])
    if g:
        rows.append([f"sample and write {g['pieces']} MIDI files ({g['device']})", f"{g['total_s']:.2f} s",
                     f"sampling {g['sample_s']:.2f} s, writing {g['write_midi_s']:.2f} s",
                     "`python -m bench.bench_generate`"])
    first = c["bench"].get("first_audio")
    for name, f in (first or {}).get("notebooks", {}).items():
        rows.append([f"first audio from the shipped model, `{name}` with `PRETRAINED` (new kernel)",
                     f"{f['first_audio_s']} s", f"kernel start {f['kernel_start_s']} s included; whole notebook {f['notebook_s'] / 60:.1f} min, with a cold "
                     "build of the model's data", "`python -m bench.bench_first_audio`"])
    scale = c["bench"].get("scale")
    for n, r in (scale or {}).get("sizes", {}).items():
        rows.append([f"build a generated corpus of {int(n):,} files ({r['workers']} processes)",
                     f"{r['files_per_s']:,.0f} files/s",
                     f"peak memory {r['build_rss_peak_mb']:.0f} MB (largest worker {r['build_worker_rss_peak_mb']:.0f} "
                     f"MB); cache {r['cache_mb']:.0f} MB, warm load {r['warm_load_s']} s, reading all "
                     f"{r['segments_read']:,} segments {r['read_heap_peak_mb']:.1f} MB of heap",
                     "`python -m bench.bench_scale`"])
    dist = c["bench"].get("distributed")
    for r in (dist or {}).get("runs", []):
        rows.append([f"training with {r['processes']} process(es) ({dist['device']}), batch "
                     f"{r['batch_per_process']} each", f"{r['segments_per_s']:,.1f} segments/s",
                     f"bare loop {dist['bare_loop_segments_per_s']:,.1f} segments/s, ratio {r['ratio_to_bare_loop']}",
                     "`python -m bench.bench_distributed`"])
    machines = {}  # one line per machine, naming the benchmarks that ran on it
    for name, b in (("data", d), *(("training", t) for t in trainings), ("generation", g), ("first audio", first),
                    ("large corpora", scale), ("processes", dist), ("notebooks", c["bench"].get("notebooks"))):
        if b:
            m = b["machine"]
            key = f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, GPU: {m['gpu'] or 'none'}; " \
                  f"torch {m.get('torch')}"
            if name not in machines.setdefault(key, []):
                machines[key].append(name)
    where = "".join(f"\n\nMachine ({', '.join(names)}): {key}." for key, names in machines.items())
    return _table(["what", "figure", "against", "command"], rows, ["---", "---:", "---", "---"]) + where


def _mean_transfer(style: dict, key: str) -> float:
    return float(np.mean([v for row in style.get(key, {}).values() for v in row.values()] or [np.nan]))


# ------------------------------------------------------------------ findings: the numbers the prose talks about

BETA_RUNS = (EARLIER_BASIC, "basic-fb0", "basic-beta1", "basic-beta1-fb0")  # all autoregressive, frames


def _epochs(r) -> int:
    """Epochs a run trained: its summary, its history, or the report's setting."""
    if r.get("epochs"):
        return r["epochs"]
    if (r.get("summary") or {}).get("epochs"):
        return r["summary"]["epochs"]
    return r["history"][-1]["epoch"] if r.get("history") else EPOCHS


def _format_of(e):
    return VAEConfig.from_dict(e["model_config"]).format


def _missing(*names) -> str:
    return "(not measured: train and evaluate the runs " + ", ".join(f"`{n}`" for n in names) + ")"


def finding_timing(c) -> str:
    runs = {n: r for n, r in c["runs"].items() if r["machine"]}
    if not runs:
        return _missing(*[r.name for r in RUNS])
    m = next(iter(runs.values()))["machine"]["machine"]
    basic = [r["machine"]["wall_seconds"] for r in runs.values() if r["run"].notebook == "01_basic_vae"]
    style = [r["machine"]["wall_seconds"] for r in runs.values() if r["run"].notebook == "02_style_vae"]
    evals = {n: r["eval"]["seconds"] for n, r in runs.items()}
    lines = [f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, GPU: {m.get('gpu') or 'none'}; "
             f"{_epochs(next(iter(runs.values())))} epochs per run."]
    if basic:
        lines.append(f"- Whole notebook, basic runs: {min(basic) / 60:.0f} to {max(basic) / 60:.0f} minutes.")
    if style:
        lines.append(f"- Whole notebook, style run: {style[0] / 60:.0f} minutes.")
    lines.append(f"- All {len(runs)} runs: {sum(r['machine']['wall_seconds'] for r in runs.values()) / 3600:.1f} hours.")
    b = [evals[n] for n, r in runs.items() if r["run"].notebook == "01_basic_vae"]
    st = [evals[n] for n, r in runs.items() if r["run"].notebook == "02_style_vae"]
    lines.append(f"- Evaluation (`eval.json`): {np.mean(b):.0f} s per basic run" if b else "- Evaluation:")
    lines[-1] += f", {st[0] / 60:.1f} minutes for the style run." if st else "."
    return "\n".join(lines)


def finding_model_size(c) -> str:
    r = c["runs"].get(BASIC_DEFAULT)
    if not r:
        return _missing(BASIC_DEFAULT)
    config = VAEConfig.from_dict(r["eval"]["model_config"])
    fmt = config.format
    return (f"The default run's pitch window: {fmt.n_pitches} pitches, {render.pitch_name(fmt.low)} to "
            f"{render.pitch_name(fmt.high)}; its model: {count_parameters(GridVAE(config)) / 1e6:.1f} M parameters.")


def finding_seed(c) -> str:
    """The default (seed decoder, whole notes) beside the seed decoder with frames and the earlier default."""
    r = c["runs"]
    names = [n for n in (BASIC_DEFAULT, SEED, EARLIER_BASIC) if n in r]
    if BASIC_DEFAULT not in r or len(names) < 2:
        return _missing(BASIC_DEFAULT, SEED, EARLIER_BASIC)
    rows = []
    for n in names:
        e = r[n]["eval"]
        rec, stats = e["reconstruction"], e["sample_statistics"]["all"]
        worst = max(stats, key=lambda k: stats[k]["distance"] or 0)
        rows.append([f"`{n}`: {r[n]['run'].label}", f"{e['test_nll']['elbo']:.0f}", _f(rec["frame_f1"]), _f(rec["onset_f1"]),
                     _f(rec["note_f1"]), f"{_f(stats['polyphony']['generated_mean'], 2)} "
                     f"({_f(stats['polyphony']['real_mean'], 2)} real)",
                     f"{_f(stats['note_length']['generated_mean'], 2)} ({_f(stats['note_length']['real_mean'], 2)} real)",
                     f"{STATISTICS[worst]} {_f(stats[worst]['distance'], 2)}"])
    return _table(["run", "test -ELBO (nats)", "frame F1", "onset F1", "note F1", "sample polyphony",
                   "sample note length (quarters)", "worst sample statistic (sd)"], rows)


def finding_beta(c) -> str:
    got = {n: c["runs"][n]["eval"] for n in BETA_RUNS if n in c["runs"]}
    if len(got) < 2:
        return _missing(*BETA_RUNS)
    f1 = {n: e["reconstruction"]["frame_f1"] for n, e in got.items()}
    elbo = {n: e["test_nll"]["elbo"] for n, e in got.items()}
    best = min(elbo, key=elbo.get)
    epochs = ", ".join(f"`{n}` {e['epoch']}" for n, e in got.items())
    return (f"- Frame F1 of the {len(got)} settings: {min(f1.values()):.3f} to {max(f1.values()):.3f}.\n"
            f"- Test -ELBO: {min(elbo.values()):.1f} to {max(elbo.values()):.1f} nats per segment; the lowest, "
            f"`{best}`.\n"
            f"- The epoch of each `best.pt` (the best free-running probe), whose figures these are: {epochs}.")


def _close_and_far(stats: dict, limit: float = 0.5) -> tuple[list, list]:
    close = [STATISTICS[k] for k, v in stats.items() if v["distance"] is not None and v["distance"] < limit]
    far = [f"{STATISTICS[k]} ({_f(v['real_mean'], 2)} real, {_f(v['generated_mean'], 2)} samples)"
           for k, v in stats.items() if v["distance"] is not None and v["distance"] >= limit]
    return close, far


def finding_samples(c) -> str:
    r = c["runs"].get(BASIC_DEFAULT)
    if not r:
        return _missing(BASIC_DEFAULT)
    close, far = _close_and_far(r["eval"]["sample_statistics"]["all"])
    return (f"- Within half a real standard deviation: {', '.join(close) or 'none'}.\n"
            f"- Further: {'; '.join(far) or 'none'}.")


def finding_distances(c) -> str:
    means = {n: np.mean([s["distance"] for s in r["eval"]["sample_statistics"]["all"].values()])
             for n, r in c["runs"].items() if "all" in r["eval"]["sample_statistics"]}
    if not means:
        return _missing(BASIC_DEFAULT)
    order = sorted(means, key=means.get)
    return "Mean distance, closest first: " + ", ".join(f"`{n}` {means[n]:.2f}" for n in order) + "."


def finding_interpolation(c) -> str:
    r = c["runs"].get(BASIC_DEFAULT)
    if not r:
        return _missing(BASIC_DEFAULT)
    v = r["eval"]["interpolation"]
    a, b, t = np.array(v["frame_f1_to_a"]), np.array(v["frame_f1_to_b"]), np.array(v["t"])
    cross = t[np.argmax(b >= a)] if (b >= a).any() else None
    return (f"- Default run, {v['pairs']} pairs: frame F1 against A from {a[0]:.2f} to {a[-1]:.2f}; against B from "
            f"{b[0]:.2f} to {b[-1]:.2f}.\n- The curves cross at t = " + (f"{cross:.2f}." if cross is not None
                                                                            else "(they do not cross)."))


def finding_style(c) -> str:
    r = c["runs"].get(STYLE)
    if not r or "style" not in r["eval"]:
        return _missing(STYLE)
    s, names = r["eval"]["style"], r["eval"]["styles"]
    generated = [s["generated_accuracy"][n] for n in names]
    shifted = {(a, b): v for a, row in s["transfer_accuracy_shifted"].items() for b, v in row.items()}
    weakest = min(shifted, key=shifted.get)
    lines = [f"- Samples called their requested style: {min(generated):.2f} to {max(generated):.2f}; real test "
             f"segments: {s['judge_real_accuracy']['all']:.3f}.",
             f"- Transfer, mean over the {len(shifted)} directions: {_mean_transfer(s, 'transfer_accuracy'):.2f} by "
             f"the embedding alone, {_mean_transfer(s, 'transfer_accuracy_shifted'):.2f} with the code moved; the "
             f"weakest with the code moved: {weakest[0]} -> {weakest[1]} ({shifted[weakest]:.2f})."]
    drawn = {(a, b): v for a, row in s.get("transfer_accuracy_shifted_drawn", {}).items() for b, v in row.items()}
    if drawn:
        weakest = min(drawn, key=drawn.get)
        lines.append(f"- Transfer with the code moved, drawn as samples are: {np.mean(list(drawn.values())):.2f} on "
                     f"average, the weakest {weakest[0]} -> {weakest[1]} ({drawn[weakest]:.2f}).")
    kept = _kept_text(s.get("transfer_kept"))
    if kept:
        lines.append(f"- What a transfer keeps of its own source (F1 of the pitch classes at each step), against "
                     f"what it shares with another source of the same style: {kept}.")
    for path, v in s["interpolation"].items():
        p, t = np.array(v["p_target_mean"]), np.array(v["t"])
        half = f"passes 0.5 at t = {t[np.argmax(p >= 0.5)]:.2f}" if (p >= 0.5).any() else "never passes 0.5"
        lines.append(f"- Style path {path}: the judge's mean probability of the target {half}, ends at {p[-1]:.2f}.")
    return "\n".join(lines)


def finding_style_statistics(c) -> str:
    r = c["runs"].get(STYLE)
    if not r:
        return _missing(STYLE)
    lines = []
    for key, what in (("sample_statistics", "Samples from the prior"),
                      ("sample_statistics_style_region", "Samples from each style's region"),
                      ("sample_statistics_floored", "Samples drawn with the onset floor chosen on validation")):
        stats = r["eval"].get(key)
        if not stats:
            continue
        rows = sorted(((v["distance"], n, k, v) for n, group in stats.items() for k, v in group.items()
                       if v["distance"] is not None), reverse=True)[:3]
        lines.append(f"{what}, largest distances: " + "; ".join(
            f"{n} {STATISTICS[k]}: real {v['real_mean']:.2f} (sd {v['real_std']:.2f}), samples "
            f"{v['generated_mean']:.2f}, distance {d:.1f}" for d, n, k, v in rows) + ".")
    return "\n\n".join(lines)


def finding_pretrained(c) -> str:
    """What the shipped models were trained on and how they score, from their own cards."""
    from helpers import pretrained

    shipped = [n for n in pretrained.NAMES if pretrained.path(n).is_file()]
    if not shipped:
        return "(not shipped: `python -m helpers.pretrained train`)"
    return "\n".join("- " + "; ".join(pretrained.describe(pretrained.load(n)[2]).splitlines()[:-1]) + "."
                       for n in shipped)


def finding_floor(c) -> str:
    """What the onset floor chosen on validation does to the samples of each ablation run evaluated with it
    (evaluation version 6): the worst statistic of each group, drawn without and with it."""
    lines = []
    for key in ("ablation_cpu_whole",):
        for r in (c["bench"].get(key) or {}).get("runs", []):
            if "sample_distances_floored" not in r:
                continue

            recognised = ""
            if "generated_floored" in r.get("style", {}):
                recognised = (f"; recognised {_f(min(r['style']['generated'].values()), 2)} -> "
                              f"{_f(min(r['style']['generated_floored'].values()), 2)} at worst")
            lines.append(f"- {r['design']}, seed {r['seed']}{_checkpoint_text(r)}: floor {r['floor']}; worst "
                         f"statistic per group ({' / '.join(r['sample_distances'])}) "
                         f"{_worst_each(r['sample_distances'])} -> {_worst_each(r['sample_distances_floored'])} "
                         f"sd{recognised}.")
    return "\n".join(lines) or "(not measured: the ablation's runs were evaluated before the floor)"


FINDINGS = {"pretrained": finding_pretrained, "timing": finding_timing, "model_size": finding_model_size,
            "seed": finding_seed, "beta": finding_beta, "samples": finding_samples, "sample_distances": finding_distances,
            "interpolation": finding_interpolation, "style_findings": finding_style,
            "style_statistics_findings": finding_style_statistics, "floor": finding_floor}


def style_default_text(c) -> str:
    """One line on the style notebook's default design from the decoder ablation's runs of it (their best.pt):
    empty where they were not measured."""
    a = c["bench"].get(STYLE_DEFAULT_ABLATION) or {}
    rows = [r for r in a.get("runs", []) if r["design"] == STYLE_DEFAULT_DESIGN
            and r.get("checkpoint", "best") == "best" and "style" in r]
    if not rows:
        return ""

    names = list(rows[0]["sample_distances"])
    worst = _worst_spans(rows, "sample_distances", 1)
    transfer = {k: ([r["style"]["transfer"][k] for r in rows], [r["style"]["transfer_min"][k] for r in rows])
                for k in ("transfer_accuracy_shifted", "transfer_accuracy_shifted_drawn")}
    floored = ""
    if all("sample_distances_floored" in r for r in rows):  # evaluation version 6 on
        floored = (f" ({_worst_spans(rows, 'sample_distances_floored', 1)} with the onset floor chosen on "
                   f"validation segments, {_span([r['floor'] for r in rows])}, recognised "
                   f"{_span([v for r in rows for v in r['style']['generated_floored'].values()])})")
    return (f"- Style VAE, the style notebook's default ({', '.join(names)}; autoregressive decoder, chords with "
            f"their voices, `best.pt` chosen by its samples; {len(rows)} seeds, {rows[0]['epochs_done']} epochs on "
            f"the CPU): samples recognised as their requested style by an independent classifier "
            f"{_span([v for r in rows for v in r['style']['generated'].values()])}; the worst sample statistic of "
            f"each style {worst} real standard deviations{floored}; transfers recognised as their target "
            f"{_span(transfer['transfer_accuracy_shifted'][0])} on average (at worst "
            f"{_span(transfer['transfer_accuracy_shifted'][1])}) with the code moved, "
            f"{_span(transfer['transfer_accuracy_shifted_drawn'][0])} (at worst "
            f"{_span(transfer['transfer_accuracy_shifted_drawn'][1])}) drawn as samples are." + style_long_text(c))


def style_long_text(c) -> str:
    """`` Trained for 150 epochs ...``: the style default's longer run (``ablation_cpu_150``), its best.pt, in one
    sentence; empty where it was not measured."""
    rows = [r for r in (c["bench"].get("ablation_cpu_150") or {}).get("runs", [])
            if r["design"] == STYLE_DEFAULT_DESIGN and r.get("checkpoint", "best") == "best" and "style" in r]
    if not rows:
        return ""
    names = list(rows[0]["sample_distances"])
    floored = (f" ({_worst_spans(rows, 'sample_distances_floored')} with the onset floor, "
               f"{_span([r['floor'] for r in rows])})" if all("sample_distances_floored" in r for r in rows) else "")
    seeds = (f"seed {rows[0]['seed']}, {_minutes(rows[0]['train_seconds'])}" if len(rows) == 1
             else f"{len(rows)} seeds, {_span([r['train_seconds'] / 60 for r in rows], 1)} min each")
    return (f" Trained for {rows[0]['epochs_done']} epochs ({rows[0]['steps']:,} steps, {seeds} on the CPU): "
            f"worst statistic {_worst_spans(rows, 'sample_distances')}{floored}, recognised "
            f"{', '.join(_span([r['style']['generated'][n] for r in rows]) for n in names)}.")


def headline(c) -> str:
    r, lines = c["runs"], []
    if BASIC_DEFAULT in r:
        e = r[BASIC_DEFAULT]["eval"]
        rec = e["reconstruction"]
        epochs = _epochs(r[BASIC_DEFAULT])
        lines.append(f"- Basic VAE (Bach chorales, {epochs} epochs on {_where(r[BASIC_DEFAULT])}): test -ELBO "
                     f"{e['test_nll']['elbo']:.1f} nats per 4-bar segment, "
                     f"{e['active_dims']}/{e['model_config']['latent']} active latent dimensions, "
                     f"reconstruction frame F1 {rec['frame_f1']:.2f} (accuracy {rec['frame_accuracy']:.2f}), "
                     f"note-onset F1 {rec['onset_f1']:.2f}.")
    if BASIC_DEFAULT in r and SEED in r:
        a, b = r[BASIC_DEFAULT]["eval"]["test_nll"]["elbo"], r[SEED]["eval"]["test_nll"]["elbo"]
        lines.append(f"- Whole notes against frames chosen step by step (the seed decoder, same epochs): test -ELBO "
                     f"{a:.1f} against {b:.1f} nats per segment.")
    default = style_default_text(c)
    if default:
        lines.append(default)
    if STYLE in r and "style" in r[STYLE]["eval"]:
        s = r[STYLE]["eval"]["style"]
        names = r[STYLE]["eval"]["styles"]
        lines.append("- The earlier style VAE (seed decoder; " + ", ".join(names) + "): samples recognised as their "
                     "requested style by an "
                     "independent classifier " + ", ".join(f"{s['generated_accuracy'][n]:.2f}" for n in names)
                     + "; transfers between every pair of styles recognised as their target style "
                     + f"{_mean_transfer(s, 'transfer_accuracy'):.2f} on average by the style embedding alone, "
                     + f"{_mean_transfer(s, 'transfer_accuracy_shifted'):.2f} with the code moved too (decoded by "
                     + "the reconstructions' threshold), "
                     + f"{_mean_transfer(s, 'transfer_accuracy_shifted_drawn'):.2f} with the code moved and drawn "
                     + "as samples are.")
    d, t, g = c["bench"]["data"], c["bench"]["train"], c["bench"]["generate"]
    if d:
        lines.append(f"- Data: MIDI to cached grids at {_ours_files_per_s(d):,.0f} files/s, "
                     f"{d['conversion']['ratio']}x a plain pretty_midi loop; the default corpus "
                     f"({d['corpus']['pieces']:,} pieces) builds cold in {d['corpus']['cold_build_s']:.0f} s and "
                     f"loads warm in {d['corpus']['warm_load_s']} s.")
    if t:
        lines.append(f"- Training on {t['device']}: {t['train_function_segments_per_s']:.0f} segments/s, "
                     f"{t['overhead_ratio']:.2f}x the time of a bare forward/backward loop.")
    timed = c["bench"].get("notebooks_gpu")
    if timed:
        parts = [f"the {f['notebook']} notebook {f['epochs']} epochs at full size in {f['notebook_s']:.0f} s, so its "
                 f"default {f['default_epochs']} epochs in about {bench_notebooks.minutes(*f['default_notebook_min'])}"
                 " min" for f in timed["notebooks"]]
        lines.append(f"- On a GPU ({_machine_words(timed['machine'])}): " + "; ".join(parts) + ".")
    if g:
        lines.append(f"- Sampling and writing {g['pieces']} MIDI files: {g['total_s']:.2f} s ({g['device']}).")
    bench_first = c["bench"].get("first_audio")
    if bench_first:
        m = bench_first["machine"]
        lines.append("- Music in a minute: with `PRETRAINED`, the first audio plays "
                     + ", ".join(f"{f['first_audio_s']} s ({name})" for name, f in bench_first["notebooks"].items())
                     + f" after a new kernel starts ({m['cpu']}, {m['cores']} cores, GPU: {m.get('gpu') or 'none'}).")
    return "\n".join(lines)


# ------------------------------------------------------------------ figures

def _save(fig, name) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / name, dpi=110, bbox_inches="tight")
    plt.close(fig)


def figure_curves(c) -> None:
    basic = {n: r for n, r in c["runs"].items() if r["run"].notebook == "01_basic_vae" and r["history"]}
    if not basic:
        return
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for ax, key, title in zip(axes, ("valid_elbo", "valid_recon", "valid_kl"),
                              ("validation -ELBO", "validation reconstruction", "validation KL")):
        for name, r in basic.items():
            ax.plot([h["epoch"] for h in r["history"]], [h[key] for h in r["history"]], label=name)
        ax.set(title=title, xlabel="epoch", ylabel="nats per segment")
        if key != "valid_kl":
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    _save(fig, "curves.png")


def figure_kl(c) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for name, r in c["runs"].items():
        ax.plot(sorted(r["eval"]["kl_per_dim"], reverse=True), marker=".", label=name)
    ax.set(title="KL per latent dimension on the test segments (sorted)", xlabel="dimension (sorted)",
           ylabel="nats")
    ax.legend(fontsize=8)
    _save(fig, "kl_per_dim.png")


def figure_reconstructions(c) -> None:
    shown = [n for n in (BASIC_DEFAULT, SEED) if n in c["runs"] and c["runs"][n]["examples"] is not None]
    if not shown:
        return
    ex = c["runs"][shown[0]]["examples"]
    grids, titles = [], []
    for k in range(2):
        grids.append(ex["originals"][k])
        titles.append(f"test segment {k + 1}")
        for n in shown:
            grids.append(c["runs"][n]["examples"]["reconstructions"][k])
            titles.append(f"reconstruction, {n}")
    _save(render.plot_grids(grids, GridFormat.from_dict(json.loads(str(ex["format"]))), titles), "reconstructions.png")


def figure_samples(c) -> None:
    if BASIC_DEFAULT in c["runs"] and c["runs"][BASIC_DEFAULT]["examples"] is not None:
        ex = c["runs"][BASIC_DEFAULT]["examples"]
        _save(render.plot_grids(ex["samples_all"][:3], GridFormat.from_dict(json.loads(str(ex["format"]))), [f"sample {k + 1}" for k in range(3)]),
              "samples.png")
    r = c["runs"].get(STYLE)
    if r and r["examples"] is not None:
        ex, names = r["examples"], r["eval"]["styles"]
        grids = [g for n in names for g in ex[f"samples_{n}"][:2]]
        titles = [f"{n}, sample {k + 1}" for n in names for k in range(2)]
        _save(render.plot_grids(grids, GridFormat.from_dict(json.loads(str(ex["format"]))), titles), "style_samples.png")
        _save(render.plot_latent_map(ex["mu"], ex["labels"], names, "test segments' posterior means (PCA)"),
              "latent_map.png")


def figure_statistics(c, run=BASIC_DEFAULT) -> None:
    r = c["runs"].get(run)
    if not r or r["examples"] is None:
        return
    real, fake = r["examples"]["stats_real_all"], r["examples"]["stats_samples_all"]
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(2.3 * len(STATISTICS), 2.8), layout="constrained")
    for k, (ax, label) in enumerate(zip(axes, STATISTICS.values())):
        a, b = real[:, k][~np.isnan(real[:, k])], fake[:, k][~np.isnan(fake[:, k])]
        bins = np.histogram_bin_edges(np.concatenate([a, b]), bins=20)
        ax.hist(a, bins, alpha=0.5, density=True, label="real")
        ax.hist(b, bins, alpha=0.5, density=True, label="samples")
        ax.set_title(textwrap.fill(label, 22), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    axes[0].legend(fontsize=7)
    _save(fig, "statistics.png")


def figure_interpolation(c) -> None:
    basic = {n: r for n, r in c["runs"].items() if r["run"].notebook == "01_basic_vae"}
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, r in basic.items():
        v = r["eval"]["interpolation"]
        line = ax.plot(v["t"], v["frame_f1_to_a"], marker="o", ms=3, label=f"{name}: to A")[0]
        ax.plot(v["t"], v["frame_f1_to_b"], marker="s", ms=3, ls="--", color=line.get_color(), label=f"{name}: to B")
    ax.set(xlabel="interpolation step (slerp from A's code to B's)", ylabel="frame F1 against the real segment",
           title="latent interpolation between two test segments")
    ax.legend(fontsize=6, ncol=2)
    _save(fig, "interpolation.png")


def figure_style_interpolation(c) -> None:
    r = c["runs"].get(STYLE)
    if not r or "style" not in r["eval"]:
        return
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for path, v in r["eval"]["style"]["interpolation"].items():
        mean, std = np.array(v["p_target_mean"]), np.array(v["p_target_std"])
        ax.plot(v["t"], mean, marker="o", label=path)
        ax.fill_between(v["t"], np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), alpha=0.15)
    ax.set(xlabel="weight of the target style's embedding", ylabel="judge's P(target style)",
           title="style interpolation with one z (mean ± sd over z)", ylim=(-0.02, 1.02))
    ax.legend(fontsize=8)
    _save(fig, "style_interpolation.png")


# ------------------------------------------------------------------ writing

def fill(text: str, blocks: dict, source: str) -> str:
    """Replace what lies between ``<!-- begin: NAME -->`` and ``<!-- end: NAME -->`` for each block."""
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- begin: {re.escape(name)} -->\n)(?:.*?\n)?(<!-- end: {re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{source}: no '<!-- begin: {name} -->' ... '<!-- end: {name} -->' block")
        text = pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)
    return text


def results_json(c) -> dict:
    return {"runs": {n: {"label": r["run"].label, "parameters": r["run"].parameters, "eval": r["eval"],
                         "train_seconds": r["train_seconds"], "epochs": _epochs(r),
                         "machine": r["machine"]} for n, r in c["runs"].items()},
            "bench": c["bench"]}


def build_pdf(markdown: Path, pdf: Path) -> None:
    """``report.md`` -> ``report.pdf`` with markdown-pdf (PyMuPDF), figures included."""
    from markdown_pdf import MarkdownPdf, Section

    doc = MarkdownPdf(toc_level=2, optimize=True)  # CommonMark with tables; images compressed
    css = ("body {font-size: 10pt} table {border-collapse: collapse} th, td {border: 0.5px solid #999; "
           "padding: 2px 4px; font-size: 7pt} code {font-size: 8pt} img {width: 100%}")
    doc.add_section(Section(markdown.read_text(), root=str(markdown.parent)), user_css=css)
    doc.meta["title"] = "gridvae: report"
    doc.save(str(pdf))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reevaluate", action="store_true", help="evaluate every run again")
    parser.add_argument("--data-dir", help="data folder of the dataset cache (default: data/ of the repository)")
    parser.add_argument("--pdf", action="store_true", help="also write report/report.pdf")
    parser.add_argument("--from-results", action="store_true",
                        help="rebuild the text from report/results.json instead of the runs")
    args = parser.parse_args(argv)
    c = collect_saved(HERE / "results.json") if args.from_results else collect(args.reevaluate, args.data_dir)
    if not c["runs"]:
        print("no trained runs found: python -m report.train_runs", file=sys.stderr)
        return 1
    for draw in (figure_curves, figure_kl, figure_reconstructions, figure_samples, figure_statistics,
                 figure_interpolation, figure_style_interpolation):
        draw(c)
    report = HERE / "report.md"
    blocks = {"data": table_data(c), "runs": table_runs(c), "reconstruction": table_reconstruction(c),
              "posterior": table_posterior(c), "statistics": table_statistics(c), "distances": table_distances(c),
              "style": table_style(c), "style_statistics": table_style_statistics(c), "speed": table_speed(c),
              "ablation": table_ablation(c), "ablation_gpu": table_ablation(c, "ablation_gpu"),
              "ablation_cpu_whole": table_ablation(c, "ablation_cpu_whole"), "long_run": table_long_run(c),
              "ablation_cpu_joint": table_ablation(c, "ablation_cpu_joint"),
              "ablation_cpu_plan": table_ablation(c, "ablation_cpu_plan"),
              "style_long": table_style_long(c),
              "decoding": table_decoding(c),
              "judge": table_judge(c), "style_vocal": table_style_vocal(c), "lines": table_lines(c),
              "attributes": table_attributes(c), "metre": table_metre(c), "judge_splits": table_judge_splits(c),
              "voices": table_voices(c)}
    blocks.update({name: write(c) for name, write in FINDINGS.items()})
    report.write_text(fill(report.read_text(), blocks, "report/report.md"))
    readme = ROOT / "README.md"
    readme.write_text(fill(readme.read_text(), {"headline": headline(c)}, "README.md"))
    (HERE / "results.json").write_text(json.dumps(results_json(c), indent=1) + "\n")
    if args.pdf:
        build_pdf(report, HERE / "report.pdf")
    print(f"written: {report.relative_to(ROOT)}, {readme.name}, report/results.json, "
          f"{len(list(FIGURES.glob('*.png')))} figures" + (", report/report.pdf" if args.pdf else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
