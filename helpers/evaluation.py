"""Evaluate a trained run on held-out data, into one JSON file.

    python -m helpers.evaluation runs/basic [--data-dir data] [--samples 500]

For a run folder (``best.pt``, or ``vae/best.pt`` for a style run) this rebuilds
the run's dataset (its settings are in the checkpoint) and measures:

- the negative ELBO on the test segments, per segment and per step, with its
  reconstruction and KL parts;
- posterior health: the KL of each latent dimension and the active dimensions;
- reconstructions of the test segments: the decoding threshold is chosen on the
  validation segments (best frame F1), then frame precision / recall / F1 /
  accuracy and note-onset F1 are measured on the test segments
  (:func:`helpers.metrics.reconstruction_scores`);
- samples from the prior against the real test segments, statistic by
  statistic (:mod:`helpers.musicstats`), per style for a style model;
- latent interpolations between pairs of test segments: the frame F1 of
  each step against either end;
- for a style run with its independent judge (``judge/best.pt``): the judge's
  accuracy on real test segments; the share of samples it recognises as
  their requested style; the share of transferred test segments it
  recognises as their target style, for every pair of styles, by the
  decoder's style embedding alone and also with ``z`` moved by the difference
  of the two styles' mean codes (:func:`helpers.generate.style_vectors`); the
  latent classifier's accuracy; and the judge's probability of the target
  style along style interpolations with one ``z``, averaged over many ``z``.

It writes ``eval.json`` and ``examples.npz`` (a few originals, their
reconstructions and samples, for figures) in the run folder.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import generate, metrics, musicstats
from .colab import repo_root
from .data import build
from .losses import LossConfig, active_dimensions, kl_per_dim, make_step
from .segments import SegmentDataset, make_loader
from .train import CheckpointError, evaluate, load_checkpoint, load_model, pick_device

EVAL_VERSION = 1  # raised whenever eval.json changes what it holds
THRESHOLDS = (0.2, 0.3, 0.4, 0.5)
INTERPOLATION_STEPS = 9
VECTOR_SEGMENTS = 300  # training segments per style whose mean code is that style's vector


def find_checkpoint(run_dir) -> Path:
    """The VAE checkpoint of a run folder: ``best.pt``, or ``vae/best.pt`` (style runs)."""
    run_dir = Path(run_dir)
    for candidate in (run_dir / "best.pt", run_dir / "vae" / "best.pt"):
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"{run_dir}: no best.pt or vae/best.pt (is this a run folder of a finished run?)")


def load_judge(run_dir):
    """The style run's independent classifier (``judge/best.pt``), or ``None`` if it has none."""
    path = Path(run_dir) / "judge" / "best.pt"
    if not path.is_file():
        return None
    payload = load_checkpoint(path)
    judge = metrics.StyleClassifier(metrics.ClassifierConfig(**payload["model_config"]))
    judge.load_state_dict(payload["model"])
    return judge.eval()


def _grids(dataset, limit=None) -> np.ndarray:
    n = len(dataset) if limit is None else min(limit, len(dataset))
    return np.stack([dataset.grid(i) for i in range(n)])


def _round(value, digits=4):
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v, digits) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits)
    return value


def evaluate_run(run_dir, data_dir=None, n_samples: int = 500, thresholds=THRESHOLDS, seed: int = 0,
                 device=None, transfers: int = 100, paths: int = 20) -> dict:
    """Measure a run (see the module's description); returns the figures and writes ``eval.json``."""
    run_dir = Path(run_dir)
    start = time.time()
    checkpoint = find_checkpoint(run_dir)
    device = device or pick_device(verbose=False)
    model, payload = load_model(checkpoint, map_location=device)
    model.to(device)
    cfg, extra = model.config, payload.get("extra", {})
    names = list(extra.get("styles") or [])
    data = extra.get("data", {})
    if cfg.n_styles and len(names) != cfg.n_styles:
        raise CheckpointError(f"{checkpoint}: a model of {cfg.n_styles} styles, but the run names {names}")
    pieces = build(data.get("source", "music21"), data_dir or repo_root() / "data", styles=names or None,
                   steps_per_quarter=cfg.steps_per_quarter, max_per_style=data.get("max_per_style"),
                   progress=False)
    window = (cfg.low, cfg.low + cfg.n_pitches - 1)
    sets = {split: SegmentDataset(pieces, split, cfg.seq_len, window=window, styles=names or None)
            for split in ("valid", "test")}
    for split, dataset in sets.items():
        if not len(dataset):
            raise ValueError(f"{run_dir}: the {split} split has no segments")
    # Style labels as the model's indices (names), whatever the order of pieces.styles.
    to_model = np.array([names.index(s) if s in names else -1 for s in pieces.styles])
    labels = {split: to_model[d.style] for split, d in sets.items()}
    style_of = (lambda split: labels[split]) if cfg.n_styles else (lambda split: None)
    real = {split: _grids(d) for split, d in sets.items()}
    result = {"version": EVAL_VERSION, "run": run_dir.name, "checkpoint": checkpoint.name,
              "epoch": payload.get("epoch"), "model_config": cfg.to_dict(), "loss_config": extra.get("loss_config"),
              "styles": names, "device": str(device), "test_segments": len(real["test"]),
              "valid_segments": len(real["valid"])}

    # The ELBO on the test set: a seeded draw of z per segment, as in training.
    torch.manual_seed(seed)
    loss_config = LossConfig(**(extra.get("loss_config") or {}))
    test_batches = [(torch.as_tensor(real["test"][i:i + 256], dtype=torch.float32),
                     torch.as_tensor(labels["test"][i:i + 256])) for i in range(0, len(real["test"]), 256)]
    parts = evaluate(model, make_step(loss_config), test_batches, device)
    result["test_nll"] = {"elbo": parts["elbo"], "recon": parts["recon"], "kl": parts["kl"],
                          "elbo_per_step": parts["elbo"] / cfg.seq_len}

    # Posterior health on the test set.
    with torch.no_grad():
        x = torch.as_tensor(real["test"], dtype=torch.float32, device=device)
        style = torch.as_tensor(labels["test"], device=device) if cfg.n_styles else None
        mu, logvar = model.encode(x, style)
    kl_dims = kl_per_dim(mu.float(), logvar.float()).mean(0).cpu().numpy()
    result["kl_per_dim"] = kl_dims.tolist()
    result["active_dims"] = active_dimensions(mu)

    # Reconstructions: threshold chosen on validation, scores on test.
    valid_f1 = {}
    for th in thresholds:
        rebuilt = generate.reconstruct(model, real["valid"], style_of("valid"), mode="threshold", threshold=th)
        valid_f1[th] = metrics.frame_scores(real["valid"], rebuilt, cfg.steps_per_quarter, cfg.low)["f1"]
    threshold = max(valid_f1, key=valid_f1.get)
    rebuilt = generate.reconstruct(model, real["test"], style_of("test"), mode="threshold", threshold=threshold)
    result["threshold"] = {"chosen": threshold, "valid_frame_f1": {str(k): v for k, v in valid_f1.items()}}
    result["reconstruction"] = metrics.reconstruction_scores(real["test"], rebuilt, cfg.steps_per_quarter, cfg.low)

    result["interpolation"] = _interpolation_curve(model, real["test"], labels["test"] if cfg.n_styles else None,
                                                   threshold, paths, seed)

    # Samples from the prior against real test segments (per style for a style model).
    stats = lambda grids: musicstats.statistics(grids, cfg.low, cfg.steps_per_quarter)  # noqa: E731
    groups = {name: k for k, name in enumerate(names)} if cfg.n_styles else {"all": None}
    result["sample_statistics"], result["samples_per_group"], samples = {}, n_samples // len(groups), {}
    for name, k in groups.items():
        samples[name] = generate.sample(model, result["samples_per_group"], style=k, mode="bernoulli",
                                        seed=seed + (k or 0))
        real_group = real["test"] if k is None else real["test"][labels["test"] == k]
        result["sample_statistics"][name] = musicstats.compare(stats(real_group), stats(samples[name]))

    judge = load_judge(run_dir) if cfg.n_styles else None
    if cfg.n_styles:
        latent_guess = model.classify(mu).argmax(1).cpu().numpy()
        result["latent_classifier_accuracy"] = float((latent_guess == labels["test"]).mean())
    if judge is not None:
        judge.to(device)
        train_set = SegmentDataset(pieces, "train", cfg.seq_len, window=window, styles=names)
        picks = train_set.per_style(VECTOR_SEGMENTS, seed)
        vectors = generate.style_vectors(model, np.stack([train_set.grid(i) for i in picks]),
                                         to_model[train_set.style[picks]])
        result["style"] = _judge_style_model(model, judge, names, real["test"], labels["test"], samples,
                                             threshold, transfers, paths, seed, vectors)

    picks = np.random.default_rng(seed).choice(len(real["test"]), size=min(4, len(real["test"])), replace=False)
    examples = {"originals": real["test"][picks], "reconstructions": rebuilt[picks], "low": cfg.low,
                "steps_per_quarter": cfg.steps_per_quarter}
    examples.update({f"samples_{name}": g[:4] for name, g in samples.items()})
    for name, k in groups.items():  # per-segment statistics, for histograms
        real_group = real["test"] if k is None else real["test"][labels["test"] == k]
        examples[f"stats_real_{name}"] = np.stack(list(stats(real_group).values()), 1)
        examples[f"stats_samples_{name}"] = np.stack(list(stats(samples[name]).values()), 1)
    if cfg.n_styles:
        examples.update(mu=mu.cpu().numpy(), labels=labels["test"])
    np.savez_compressed(run_dir / "examples.npz", **examples)
    result["seconds"] = time.time() - start
    result = _round(result)
    (run_dir / "eval.json").write_text(json.dumps(result, indent=1))
    return result


def _interpolation_curve(model, held_out, labels, threshold, pairs, seed) -> dict:
    """Frame F1 of each step of a latent interpolation against its two real ends, averaged over pairs.

    Pairs of test segments are drawn at random (of one style for a style model);
    each pair is encoded, its codes joined by a slerp of ``INTERPOLATION_STEPS``
    steps, each step decoded (threshold), and compared with both originals.
    """
    rng = np.random.default_rng(seed)
    cfg = model.config
    ends = []
    for _ in range(pairs):
        i = int(rng.integers(len(held_out)))
        pool = np.flatnonzero(labels == labels[i]) if labels is not None else np.arange(len(held_out))
        ends.append((i, int(rng.choice(pool[pool != i])) if len(pool) > 1 else i))
    a, b = (np.array(e) for e in zip(*ends))
    style = labels[a] if labels is not None else None
    mu_a = generate.encode(model, held_out[a], style).cpu()
    mu_b = generate.encode(model, held_out[b], style).cpu()
    t = np.linspace(0, 1, INTERPOLATION_STEPS)
    z = torch.stack([generate.slerp(mu_a[k], mu_b[k], s) for k in range(pairs) for s in t])  # one batch
    path_style = None if style is None else np.repeat(style, len(t))
    paths = generate.decode(model, z, path_style, "threshold", threshold).reshape(pairs, len(t), *held_out.shape[1:])

    def score(real, grid):
        return metrics.frame_scores(real[None], grid[None], cfg.steps_per_quarter, cfg.low)["f1"]

    to_a = [[score(held_out[a[k]], g) for g in paths[k]] for k in range(pairs)]
    to_b = [[score(held_out[b[k]], g) for g in paths[k]] for k in range(pairs)]
    return {"t": t.tolist(), "frame_f1_to_a": np.mean(to_a, 0).tolist(),
            "frame_f1_to_b": np.mean(to_b, 0).tolist(), "pairs": pairs}


def _judge_style_model(model, judge, names, held_out, labels, samples, threshold, transfers, paths, seed,
                       vectors) -> dict:
    """What the independent judge says of the real test segments, samples, transfers and style paths."""
    k_of = {name: k for k, name in enumerate(names)}
    out = {"judge_real_accuracy": metrics.per_style_accuracy(metrics.predict(judge, held_out), labels, names),
           "generated_accuracy": {}, "transfer_accuracy": {}, "transfer_accuracy_shifted": {}, "interpolation": {}}
    for name, grids in samples.items():
        out["generated_accuracy"][name] = float((metrics.predict(judge, grids).argmax(1) == k_of[name]).mean())
    for a, name_a in enumerate(names):
        source = held_out[labels == a][:transfers]
        for key, shift in (("transfer_accuracy", None), ("transfer_accuracy_shifted", vectors)):
            row = {}
            for b, name_b in enumerate(names):
                if a != b and len(source):
                    moved = generate.transfer(model, source, a, b, "threshold", threshold, vectors=shift)
                    row[name_b] = float((metrics.predict(judge, moved).argmax(1) == b).mean())
            out[key][name_a] = row
    generator = torch.Generator().manual_seed(seed)
    for a, name_a in enumerate(names):
        for b, name_b in enumerate(names):
            if a >= b:
                continue
            z = torch.randn(paths, model.config.latent, generator=generator)
            grids = generate.style_path(model, z, a, b, INTERPOLATION_STEPS, mode="bernoulli", seed=seed)
            curves = metrics.predict(judge, grids.reshape(-1, *grids.shape[2:]))[:, b].reshape(paths, -1)
            out["interpolation"][f"{name_a}->{name_b}"] = {
                "t": np.linspace(0, 1, INTERPOLATION_STEPS).tolist(),
                "p_target_mean": curves.mean(0).tolist(), "p_target_std": curves.std(0).tolist(), "paths": paths}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.evaluation", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders (holding best.pt or vae/best.pt)")
    parser.add_argument("--data-dir", help="data folder of the dataset cache (default: data/ of the repository)")
    parser.add_argument("--samples", type=int, default=500, help="samples drawn from the prior (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error(f"--samples must be positive, got {args.samples}")
    for run in args.runs:
        try:
            result = evaluate_run(run, args.data_dir, n_samples=args.samples, seed=args.seed)
        except (CheckpointError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        r = result["reconstruction"]
        print(f"{run}: -ELBO {result['test_nll']['elbo']:.1f} nats/segment, {result['active_dims']} active dims, "
              f"frame F1 {r['frame_f1']:.3f}, accuracy {r['frame_accuracy']:.3f}, onset F1 {r['onset_f1']:.3f} "
              f"(threshold {result['threshold']['chosen']}); {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
