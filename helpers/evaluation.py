"""Evaluate a trained run on held-out data, into one JSON file.

    python -m helpers.evaluation runs/basic [--data-dir data] [--samples 500] [--checkpoint last]

For a run folder (:class:`helpers.experiment.RunFolder`) this rebuilds the
run's model and its dataset from the checkpoint alone (the experiment spec
is in it) and measures:

- the negative ELBO on the test segments, per segment and per step, with its
  reconstruction and KL parts;
- posterior health: the KL of each latent dimension and the active dimensions;
- reconstructions of the test segments: the decoding threshold is chosen on the
  validation segments (best frame F1), then frame precision / recall / F1 /
  accuracy and note-onset F1 are measured on the test segments
  (:func:`helpers.metrics.reconstruction_scores`);
- samples from the prior against the real test segments, statistic by
  statistic (:mod:`helpers.musicstats`), per style for a style model; also
  samples drawn from each style's region of the latent space (a model
  without styles: the region of its training pieces,
  :func:`helpers.generate.style_regions`); and the prior's samples drawn
  with the onset floor and onset temperature chosen on the validation
  segments (:func:`choose_drawing`), as the notebooks draw them;
- diagnostics of the decoder (:func:`diagnostics`): teacher-forced against
  free-running scores, own codes against shuffled ones, the probability of
  the real onsets, and the free-running F1 after every epoch of training;
- latent interpolations between pairs of test segments: the frame F1 of
  each step against either end;
- for a style run with its independent judge (``judge/``): the judge's
  accuracy on real test segments; the share of samples it recognises as
  their requested style; the share of transferred test segments it
  recognises as their target style, for every pair of styles, by the
  decoder's style embedding alone and also with ``z`` moved by the difference
  of the two styles' mean codes (:func:`helpers.generate.style_regions`),
  each decoded by the threshold chosen for reconstructions, and the moved
  codes also decoded by seeded draws, as samples are (with the notes
  sounding per step of each way's transfers into each style, and of its
  real segments, and what each way's transfers keep of their own source:
  the F1 of the pitch classes sounding at each step, against that of
  another source's transfer, :func:`helpers.metrics.chroma_f1`); the
  latent classifier's accuracy; and the judge's probability of the target
  style along style interpolations from one ``z`` (the embedding mixed, the
  code moved by the mean codes as a transfer moves it), averaged over many
  ``z``. The drawn transfers and the style interpolations are drawn with the
  onset floor chosen on the validation segments, as the notebooks draw them
  (from version 6). From version 7 everything is decoded letting the first
  step hold notes from before the segment (:mod:`helpers.generate`), as real
  segments begin. From version 8 the floor is chosen with the distances in
  standard deviations of the training segments (:func:`unit_statistics`),
  not of the few validation pieces', and every statistic compared says its
  unit (``unit_std``); the onset temperature is chosen with it, and what is
  drawn with the chosen floor is drawn at that temperature too. From
  version 9 the floor and the temperature are chosen with the run's training
  seed (``TrainConfig.seed``), as the notebooks and
  ``python -m helpers.cli train`` choose them; ``--seed`` seeds what the
  evaluation itself draws.

It measures the run's ``best.pt`` (the epoch its training monitor chose) into
``eval.json`` and ``examples.npz`` (a few originals, their reconstructions and
samples, for figures) in the run folder; ``--checkpoint last`` measures its
``last.pt`` (the latest epoch) into ``eval-last.json`` and
``examples-last.npz`` instead, so the two can be compared. Each file names its
checkpoint and epoch.

The notebooks call the same public functions (:func:`choose_threshold`, :func:`choose_drawing`, :func:`reconstruction`,
:func:`style_regions`, :func:`interpolation_curve`, :func:`judge_style`), so
a notebook and this module report one figure per metric.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from . import generate, metrics, musicstats
from .colab import repo_root
from .experiment import CHECKPOINTS, RunFolder, assert_same_styles, build_splits, load_judge, load_run
from .losses import active_dimensions, bar_pitches, kl_per_dim, make_step
from .pianoroll import FRAME
from .train import CheckpointError, evaluate, pick_device

EVAL_VERSION = 9  # raised whenever eval.json changes what it holds
FIRST_STEP_HELD = 7  # the version from which decoding lets a segment's first step hold notes from before it
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)  # the low ones for cautious (barely trained) models
INTERPOLATION_STEPS = 9
THRESHOLD_SEGMENTS = 300  # validation segments the decoding threshold is chosen on
VECTOR_SEGMENTS = 300  # training segments per style whose codes give its region (mean code and spread)
FLOORS = (0.0, 0.01, 0.02, 0.03, 0.05)  # the onset floors choose_drawing tries
# the onset temperatures it tries (bench/results/onset_temperature.json: 1.5 brought no model closest on test)
ONSET_TEMPERATURES = (1.0, 1.15, 1.3)
FLOOR_SAMPLES = 64  # prior samples per style drawn at each floor (and temperature)
FLOOR_TOLERANCE = 0.02  # sd: choose_drawing keeps the lowest temperature and floor within this of the best (noise)


def _round(value, digits=4):
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v, digits) for v in value]
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits)
    return value


def choose_threshold(model, valid, valid_labels=None, thresholds=THRESHOLDS, limit: int = THRESHOLD_SEGMENTS,
                     seed: int = 0) -> tuple[float, dict]:
    """The decoding threshold with the best frame F1 when ``valid`` grids ``(N, T, 2, P)`` are reconstructed
    (at most ``limit`` of them, drawn with ``seed``).

    Returns the threshold and ``{threshold: frame F1}``.
    """
    fmt = model.config.format
    if len(valid) > limit:
        picks = np.sort(np.random.default_rng(seed).choice(len(valid), limit, replace=False))
        valid = np.asarray(valid)[picks]
        valid_labels = None if valid_labels is None else np.asarray(valid_labels)[picks]
    codes = generate.encode(model, valid, valid_labels)
    rebuilt = generate.decode_thresholds(model, codes, valid_labels, thresholds)
    valid_f1 = {th: metrics.frame_scores(valid, grids, fmt)["f1"] for th, grids in zip(thresholds, rebuilt)}
    return max(valid_f1, key=valid_f1.get), valid_f1


def unit_statistics(model, part, limit: int = THRESHOLD_SEGMENTS, seed: int = 0) -> dict:
    """The statistics (:func:`helpers.musicstats.statistics`) whose spread is the unit of the distances
    :func:`sample_distance` measures, from a split of the data (``splits.train``, the largest sample of each
    style): up to ``limit`` of each style's segments, drawn with ``seed`` (``{style index: statistics}``), or
    for a model without styles up to ``limit`` of all of them, its styles in their own proportions
    (``{None: statistics}``)."""
    groups = (part.by_style(limit, seed) if model.config.n_styles
              else {None: np.random.default_rng(seed).permutation(len(part))[:limit]})
    return {k: musicstats.statistics(part.grids(np.sort(mine)), model.config.format) for k, mine in groups.items()}


def sample_distance(model, real: dict, samples: int, seed: int = 0, floor: float = 0.0,
                    unit: dict | None = None, onset_temperature: float = 1.0) -> float:
    """How far samples from the prior lie from real segments: for each group of ``real`` (style index, or None for
    a model without styles -> the statistics of its real segments, :func:`helpers.musicstats.statistics`),
    ``samples`` draws (every group's in one pass, seeded by ``seed``), onsets below ``floor`` held back and the
    others tempered by ``onset_temperature``; the distance of every statistic in standard deviations of the
    group's ``unit`` segments (the same keys, :func:`unit_statistics`; default, and for a group it lacks, the
    real segments' own; :func:`helpers.musicstats.distances`), averaged over statistics and groups
    (:data:`helpers.musicstats.UNMEASURED` where nothing could be measured)."""
    groups, unit = list(real), unit or {}
    if not groups:
        return musicstats.UNMEASURED
    styles = None if groups == [None] else np.repeat(groups, samples)
    drawn = generate.sample(model, samples * len(groups), style=styles, mode="bernoulli", seed=seed, floor=floor,
                            onset_temperature=onset_temperature)
    found = []
    for i, k in enumerate(groups):
        mine = drawn[i * samples:(i + 1) * samples]
        found += musicstats.distances(real[k], musicstats.statistics(mine, model.config.format), unit.get(k))
    return float(np.mean(found)) if found else musicstats.UNMEASURED


def choose_drawing(model, valid, valid_labels=None, floor: float | None = None,
                   onset_temperature: float | None = None, seed: int = 0, unit=None, floors=FLOORS,
                   temperatures=ONSET_TEMPERATURES, samples: int = FLOOR_SAMPLES,
                   limit: int = THRESHOLD_SEGMENTS) -> tuple[float, float, dict]:
    """How samples are drawn (:func:`helpers.generate.sample`): the onset floor and the onset temperature
    whose samples from the prior come closest to the ``valid`` grids ``(N, T, 2, P)``, statistic by statistic.
    A ``floor`` or ``onset_temperature`` given is kept; one that is None is chosen among ``floors`` or
    ``temperatures``.

    At each pair, ``samples`` draws per style (the same codes and dice at every pair, seeded by ``seed``)
    are compared with up to ``limit`` of the style's validation segments (``valid_labels``; every segment for
    a model without styles) by :func:`sample_distance`, as the training probe measures samples, in standard
    deviations of up to ``limit`` of the style's segments of ``unit``, a split of the data (the notebooks and
    the evaluation pass ``splits.train``: a few validation pieces can spread far less than their style does;
    :func:`unit_statistics`), or of the validation segments' own where ``unit`` is None. Of the pairs within
    :data:`FLOOR_TOLERANCE` of the best, the one of the lowest temperature, then of the lowest floor, is
    chosen: a well trained model keeps floor 0 and temperature 1, a briefly trained one drops the stray notes
    its spread-out probabilities draw, and one whose samples are thinner than its music is tempered only
    where that brings them measurably closer.

    Returns the floor, the onset temperature and ``{(floor, temperature): distance}``.
    """
    floors = list(floors) if floor is None else [floor]
    temperatures = list(temperatures) if onset_temperature is None else [onset_temperature]
    if not floors:
        raise ValueError("floors must name at least one floor")
    if not temperatures:
        raise ValueError("temperatures must name at least one onset temperature")
    for value in floors:
        generate.check_floor(value, "every one of floors" if floor is None else "floor")
    for value in temperatures:
        generate.check_positive(value, "every one of temperatures" if onset_temperature is None
                                else "onset_temperature")
    fmt, valid = model.config.format, np.asarray(valid)
    rng = np.random.default_rng(seed)
    groups = {}  # style (None: the model has none) -> its validation segments' statistics
    for k in (range(model.config.n_styles) if model.config.n_styles else [None]):
        mine = np.arange(len(valid)) if k is None else np.flatnonzero(np.asarray(valid_labels) == k)
        if len(mine):
            picks = np.sort(rng.permutation(mine)[:limit])
            groups[k] = musicstats.statistics(valid[picks], fmt)
    if not groups:
        raise ValueError("choosing how to draw needs validation segments")
    units = None if unit is None else unit_statistics(model, unit, limit, seed)
    distance = {(f, t): sample_distance(model, groups, samples, seed, f, units, t)
                for t in temperatures for f in floors}
    best = min(distance.values())
    chosen = min((t, f) for (f, t), d in distance.items() if d <= best + FLOOR_TOLERANCE)
    return chosen[1], chosen[0], distance


def choose_floor(model, valid, valid_labels=None, floors=FLOORS, samples: int = FLOOR_SAMPLES,
                 limit: int = THRESHOLD_SEGMENTS, seed: int = 0, unit=None) -> tuple[float, dict]:
    """The onset floor of :func:`choose_drawing` at onset temperature 1 (the model's own probabilities): the
    lowest of ``floors`` within :data:`FLOOR_TOLERANCE` of the closest samples. Returns the floor and
    ``{floor: distance}``."""
    floor, _, distance = choose_drawing(model, valid, valid_labels, onset_temperature=1.0, seed=seed, unit=unit,
                                        floors=floors, samples=samples, limit=limit)
    return floor, {f: d for (f, _), d in distance.items()}


def reconstruction(model, valid, test, valid_labels=None, test_labels=None, thresholds=THRESHOLDS) -> dict:
    """Reconstruction scores of ``test`` grids, the decoding threshold chosen on ``valid`` grids.

    Each grid ``(N, T, 2, P)`` is encoded to its posterior mean and decoded
    (:func:`helpers.generate.reconstruct`) at every threshold; the one with
    the best validation frame F1 decodes the test grids, scored by
    :func:`helpers.metrics.reconstruction_scores`.

    Returns
    -------
    dict
        ``threshold`` (chosen), ``valid_frame_f1`` (per threshold), ``scores``
        (test), ``rebuilt`` (the test reconstructions, ``(N, T, 2, P)``).
    """
    threshold, valid_f1 = choose_threshold(model, valid, valid_labels, thresholds)
    rebuilt = generate.reconstruct(model, test, test_labels, mode="threshold", threshold=threshold)
    return {"threshold": threshold, "valid_frame_f1": {str(k): v for k, v in valid_f1.items()},
            "scores": metrics.reconstruction_scores(test, rebuilt, model.config.format), "rebuilt": rebuilt}


def style_regions(model, splits, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Each style's mean code and spread over up to :data:`VECTOR_SEGMENTS` training segments of it (see
    :func:`helpers.generate.style_regions`; a model without styles: one region, of all its styles' segments)."""
    picks = splits.train.per_style(VECTOR_SEGMENTS, seed)
    return generate.style_regions(model, splits.train.grids(picks), splits.train.style[picks])


def sample_groups(model, names, test, labels) -> dict:
    """The groups samples are compared in, ``{name: (style index, its real test segments)}``: each style of a
    style model (``names[k]`` for label ``k``), or ``{"all": (None, test)}`` for a model without styles."""
    if not model.config.n_styles:
        return {"all": (None, test)}
    return {name: (k, test[labels == k]) for k, name in enumerate(names)}


def prior_samples(model, n: int, style, seed: int = 0, floor: float = 0.0, regions=None,
                  onset_temperature: float = 1.0) -> np.ndarray:
    """``n`` samples of one group from the prior (or from its region of ``regions``, :func:`style_regions`), as
    the evaluation draws them: Bernoulli, seeded by ``seed + style`` (``style`` None for a model without
    styles), onsets below ``floor`` held back and the others tempered by ``onset_temperature``."""
    return generate.sample(model, n, style=style, mode="bernoulli", seed=seed + (style or 0), floor=floor,
                           regions=regions, onset_temperature=onset_temperature)


def evaluate_run(run_dir, data_dir=None, n_samples: int = 500, thresholds=THRESHOLDS, seed: int = 0,
                 device=None, transfers: int = 100, paths: int = 20, checkpoint: str = "best") -> dict:
    """Measure a run's checkpoint ``checkpoint`` (``"best"`` or ``"last"``; see the module's description);
    returns the figures and writes them to ``eval.json`` (``eval-last.json`` for the last)."""
    which = checkpoint  # checkpoint becomes its file below, which refuses a name none of CHECKPOINTS
    for name, value in (("n_samples", n_samples), ("transfers", transfers), ("paths", paths)):
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    run = RunFolder(run_dir)
    start = time.time()
    checkpoint = run.checkpoint_of(which)
    device = device or pick_device(verbose=False)
    model, spec, payload = load_run(checkpoint, map_location=device)
    cfg, fmt = model.config, model.config.format
    splits = build_splits(spec.data, data_dir or repo_root() / "data", progress=False)
    assert_same_styles(splits, spec, str(checkpoint))
    if splits.format != fmt:
        raise CheckpointError(f"{checkpoint}: a model of format {fmt}, but its data settings give {splits.format}")
    names = splits.styles if cfg.n_styles else []
    real = {"valid": splits.valid.grids(), "test": splits.test.grids()}
    labels = {"valid": splits.valid.style, "test": splits.test.style}
    style_of = (lambda split: labels[split]) if cfg.n_styles else (lambda split: None)
    result = {"version": EVAL_VERSION, "run": run.root.name, "checkpoint": checkpoint.name,
              "epoch": payload.get("epoch"), "experiment": spec.to_dict(), "model_config": cfg.to_dict(),
              "styles": names, "device": str(device), "test_segments": len(real["test"]),
              "valid_segments": len(real["valid"])}

    # The ELBO on the test set: a seeded draw of z per segment, as in training.
    torch.manual_seed(seed)
    test_batches = [(torch.as_tensor(real["test"][i:i + 256], dtype=torch.float32),
                     torch.as_tensor(labels["test"][i:i + 256])) for i in range(0, len(real["test"]), 256)]
    parts = evaluate(model, make_step(spec.loss), test_batches, device)
    result["test_nll"] = {"elbo": parts["elbo"], "recon": parts["recon"], "kl": parts["kl"],
                          "elbo_per_step": parts["elbo"] / cfg.seq_len}

    # Posterior health on the test set.
    with torch.no_grad():
        x = torch.as_tensor(real["test"], dtype=torch.float32, device=device)
        style = torch.as_tensor(labels["test"], device=device) if cfg.n_styles else None
        mu, logvar = model.encode(x, style)
    result["kl_per_dim"] = kl_per_dim(mu.float(), logvar.float()).mean(0).cpu().numpy().tolist()
    result["active_dims"] = active_dimensions(mu)

    rec = reconstruction(model, real["valid"], real["test"], style_of("valid"), style_of("test"), thresholds)
    threshold, rebuilt = rec["threshold"], rec["rebuilt"]
    result["threshold"] = {"chosen": threshold, "valid_frame_f1": rec["valid_frame_f1"]}
    result["reconstruction"] = rec["scores"]
    result["diagnostics"] = diagnostics(model, real["test"], style_of("test"), threshold, payload.get("history"),
                                        seed=seed, codes=mu, rebuilt=rebuilt)
    result["interpolation"] = interpolation_curve(model, real["test"], style_of("test"), threshold, paths, seed)

    # Samples from the prior against real test segments (per style for a style model), and samples from each
    # style's region too (a model without styles: the region of all its training pieces).
    groups = sample_groups(model, names, real["test"], labels["test"])
    regions = style_regions(model, splits, seed)
    result["sample_statistics"], result["samples_per_group"], samples = {}, n_samples // len(groups), {}
    in_region, real_stats, sample_stats = {}, {}, {}  # per-segment statistics, also kept for histograms
    for name, (k, real_segments) in groups.items():
        real_stats[name] = real_group = musicstats.statistics(real_segments, fmt)
        samples[name] = prior_samples(model, result["samples_per_group"], k, seed)
        sample_stats[name] = musicstats.statistics(samples[name], fmt)
        result["sample_statistics"][name] = musicstats.compare(real_group, sample_stats[name])
        in_region[name] = prior_samples(model, result["samples_per_group"], k, seed, regions=regions)
        result.setdefault("sample_statistics_style_region", {})[name] = musicstats.compare(
            real_group, musicstats.statistics(in_region[name], fmt))
    # the same draws with the onset floor and temperature chosen on the validation segments, as the notebooks
    # and `cli train` choose them: with the run's own seed, so the evaluation names the drawing the run's card
    # names (the choice moves a little with the seed of its validation draws)
    floor, onset_temperature, pairs = choose_drawing(model, real["valid"], labels["valid"] if cfg.n_styles else None,
                                                     seed=spec.train.seed, unit=splits.train)
    result["floor"] = {"chosen": floor, "onset_temperature": onset_temperature, "valid_distance": {}}
    for (f, t), distance in pairs.items():  # {temperature: {floor: distance}}
        result["floor"]["valid_distance"].setdefault(str(t), {})[str(f)] = distance
    floored = {name: prior_samples(model, result["samples_per_group"], k, seed, floor,
                                   onset_temperature=onset_temperature)
               if floor or onset_temperature != 1 else samples[name] for name, (k, _) in groups.items()}
    result["sample_statistics_floored"] = {
        name: musicstats.compare(real_stats[name], musicstats.statistics(floored[name], fmt)) for name in groups}

    judge = load_judge(run, device) if cfg.n_styles else None
    if cfg.n_styles:
        latent_guess = model.classify(mu).argmax(1).cpu().numpy()
        result["latent_classifier_accuracy"] = float((latent_guess == labels["test"]).mean())
    if judge is not None:
        result["style"] = judge_style(model, judge, names, real["test"], labels["test"], samples, threshold,
                                      transfers, paths, seed, regions[0], in_region, floor, onset_temperature)
        result["style"]["generated_accuracy_floored"] = {
            name: metrics.recognised(judge, grids, names.index(name)) for name, grids in floored.items()}

    picks = np.random.default_rng(seed).choice(len(real["test"]), size=min(4, len(real["test"])), replace=False)
    examples = {"originals": real["test"][picks], "reconstructions": rebuilt[picks],
                "format": json.dumps(fmt.to_dict())}
    examples.update({f"samples_{name}": g[:4] for name, g in samples.items()})
    for name in groups:  # per-segment statistics, for histograms
        examples[f"stats_real_{name}"] = np.stack(list(real_stats[name].values()), 1)
        examples[f"stats_samples_{name}"] = np.stack(list(sample_stats[name].values()), 1)
    if cfg.n_styles:
        examples.update(mu=mu.cpu().numpy(), labels=labels["test"])
    np.savez_compressed(run.examples_of(which), **examples)
    result["seconds"] = time.time() - start
    result = _round(result)
    run.eval_of(which).write_text(json.dumps(result, indent=1))
    return result


# the ways a transfer is measured, by the key of its figures in eval.json's "style": how the code moves (None:
# only the decoder's style embedding changes; "shift" by the mean codes; "swap" the style code, for a model
# with one) and how the moved code is decoded
TRANSFER_WAYS = {"transfer_accuracy": (None, "threshold"),
                 "transfer_accuracy_shifted": ("shift", "threshold"),
                 "transfer_accuracy_swapped": ("swap", "threshold"),
                 "transfer_accuracy_shifted_drawn": ("shift", "bernoulli"),
                 "transfer_accuracy_swapped_drawn": ("swap", "bernoulli")}
ONSET_CONFIDENT = 0.3  # an onset probability above this counts as heard


@torch.no_grad()
def forced_logits(model, grids, labels=None, codes=None, batch_size: int = 256):
    """Batch by batch, ``(x, logits)``: grids ``(N, T, 2, P)`` as a float tensor and the decoder's logits for them,
    each grid encoded to its posterior mean (or given ``codes`` (N, latent)), with every previous step (and, for
    a chord model, every cell before) the true one."""
    model.eval()
    device = next(model.parameters()).device
    for i in range(0, len(grids), batch_size):
        x = torch.as_tensor(np.asarray(grids[i:i + batch_size]), dtype=torch.float32, device=device)
        style = None if labels is None else torch.as_tensor(labels[i:i + batch_size], device=device)
        mu = model.encode(x, style)[0] if codes is None else codes[i:i + batch_size].to(device)
        yield x, model.decode(mu, style, target=x, steps=x.shape[1]).float()


def teacher_forced(model, grids, labels=None, codes=None, batch_size: int = 256) -> np.ndarray:
    """The decoder's probabilities ``(N, T, 2, P)`` for grids ``(N, T, 2, P)``, teacher-forced
    (:func:`forced_logits`)."""
    return torch.cat([torch.sigmoid(logits).cpu()
                      for _, logits in forced_logits(model, grids, labels, codes, batch_size)]).numpy()


def diagnostics(model, grids, labels=None, threshold: float = 0.5, history=None, seed: int = 0, codes=None,
                rebuilt=None) -> dict:
    """Where the free-running reconstructions lose what the decoder knows, for grids ``(N, T, 2, P)``.

    - ``teacher_forced``: frame and onset F1 when every previous step is the
      true one (each cell above 0.5): what the decoder knows;
    - ``free_running``: the same decoded freely (``threshold``), as
      :func:`reconstruction` does: what it makes of its own choices;
    - ``shuffled_codes``: free-running with every segment decoded from another
      segment's code: how much of the reconstruction comes from ``z``;
    - ``onset_probability``: at the real onsets, teacher-forced, the median
      probability and the share above :data:`ONSET_CONFIDENT`;
    - ``free_f1_by_step``: the free-running frame F1 of the validation probe
      after every epoch, against optimiser steps (from the training history),
      with the probe's sample distance where the run measured it;
    - ``bar_plan`` (a model with a bar plan): the F1 of the pitches the plan
      gives each bar from the posterior mean (above 0.5) against the bar's
      real pitches: how much of each bar ``z`` carries.

    ``codes`` (the grids' posterior means) and ``rebuilt`` (their free-running
    reconstructions at ``threshold``), when the caller has them already, are
    not computed again.
    """
    fmt = model.config.format
    grids = np.asarray(grids)
    mu = generate.encode(model, grids, labels) if codes is None else codes
    probs = teacher_forced(model, grids, labels, mu)
    forced = probs > 0.5
    forced[:, :, 0] |= forced[:, :, 1]  # an onset sounds
    free = generate.decode(model, mu, labels, "threshold", threshold) if rebuilt is None else rebuilt
    order = np.random.default_rng(seed).permutation(len(grids))
    order = np.roll(order, 1)[np.argsort(order)]  # a derangement: every segment gets another one's code
    shuffled = generate.decode(model, mu[torch.as_tensor(order)], labels, "threshold", threshold)

    def scores(decoded):
        frame = metrics.frame_scores(grids, decoded, fmt)["f1"]
        return {"frame_f1": frame, "onset_f1": metrics.note_scores(grids, decoded, fmt)["f1"]}

    at_onsets = probs[:, :, 1][grids[:, :, 1]]
    curve = [{"step": row["step"], "epoch": row["epoch"], "free_f1": row["valid_free_f1"],
              **({"sample_distance": row["valid_sample_distance"]} if "valid_sample_distance" in row else {})}
             for row in history or [] if "valid_free_f1" in row]
    result = {"teacher_forced": scores(forced), "free_running": scores(free), "shuffled_codes": scores(shuffled),
              "onset_probability": {"median": float(np.median(at_onsets)) if len(at_onsets) else None,
                                    "share_confident": float((at_onsets > ONSET_CONFIDENT).mean())
                                    if len(at_onsets) else None},
              "free_f1_by_step": curve}
    if model.config.bar_plan:
        result["bar_plan"] = {"f1": plan_f1(model, grids, mu, labels)}
    return result


@torch.no_grad()
def plan_f1(model, grids, codes, labels=None) -> float:
    """The F1 of the pitches a bar plan gives each bar of grids ``(N, T, 2, P)`` from their ``codes``
    ``(N, latent)`` (each above 0.5) against the pitches that sound in it."""
    model.eval()
    style = None if labels is None else torch.as_tensor(labels, device=codes.device)
    planned = model.bar_plan(codes, style).float().cpu().numpy() > 0
    real = bar_pitches(torch.as_tensor(np.asarray(grids)), planned.shape[1]).numpy() > 0
    hits = (planned & real).sum()
    return float(2 * hits / max(planned.sum() + real.sum(), 1))


def interpolation_curve(model, held_out, labels, threshold, pairs, seed) -> dict:
    """Frame F1 of each step of a latent interpolation against its two real ends, averaged over pairs.

    Pairs of test segments are drawn at random (of one style for a style model);
    each pair is encoded, its codes joined by a slerp of ``INTERPOLATION_STEPS``
    steps, each step decoded (threshold), and compared with both originals.
    """
    rng = np.random.default_rng(seed)
    fmt = model.config.format
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
        return metrics.frame_scores(real[None], grid[None], fmt)["f1"]

    to_a = [[score(held_out[a[k]], g) for g in paths[k]] for k in range(pairs)]
    to_b = [[score(held_out[b[k]], g) for g in paths[k]] for k in range(pairs)]
    return {"t": t.tolist(), "frame_f1_to_a": np.mean(to_a, 0).tolist(),
            "frame_f1_to_b": np.mean(to_b, 0).tolist(), "pairs": pairs}


def judge_style(model, judge, names, held_out, labels, samples, threshold, transfers, paths, seed,
                vectors, in_region=None, floor: float = 0.0, onset_temperature: float = 1.0) -> dict:
    """What the independent judge says of the real test segments, samples, transfers and style paths.

    ``samples`` maps each style name to grids generated in it from the
    prior, ``in_region`` (optional) to grids drawn from its region of the
    latent space; ``vectors`` are the styles' mean codes (the means of
    :func:`style_regions`). Transfers take up to
    ``transfers`` held-out segments of each style to every other, by the
    style embedding alone and with ``z`` moved too (decoded by ``threshold``,
    and the moved codes also by draws seeded with ``seed``); style paths decode
    ``paths`` codes from the prior while the embedding and the code move
    (:func:`helpers.generate.style_path` with ``vectors``). Whatever is drawn (the drawn transfers, the style
    paths) holds back onsets below ``floor`` and tempers the others by ``onset_temperature``, as the notebooks
    draw them.
    """
    out = {"judge_real_accuracy": metrics.per_style_accuracy(metrics.predict(judge, held_out), labels, names),
           "generated_accuracy": {name: metrics.recognised(judge, grids, names.index(name))
                                  for name, grids in samples.items()},
           "transfer_accuracy": {}, "transfer_accuracy_shifted": {}, "interpolation": {}}
    if in_region:
        out["generated_accuracy_style_region"] = {name: metrics.recognised(judge, grids, names.index(name))
                                                  for name, grids in in_region.items()}
    ways = [(key, None if how is None else vectors, how, mode) for key, (how, mode) in TRANSFER_WAYS.items()
            if how != "swap" or model.config.style_latent]  # (key, vectors, how the code moves, decoding)
    out.update({key: {} for key, *_ in ways})
    # how many notes sound at a step, in the transfers into each style (each way) and in its real segments
    sounding = {key: {name: [] for name in names} for key, *_ in ways}
    # what a transfer keeps of its own source, against what it shares with another source of the same style
    kept = {key: {"own": [], "other": []} for key, *_ in ways}
    fmt = model.config.format
    for a, name_a in enumerate(names):
        source = held_out[labels == a][:transfers]
        for key, shift, how, mode in ways:
            out[key][name_a] = {}
            for b, name_b in enumerate(names):
                if a == b or not len(source):
                    continue
                moved = generate.transfer(model, source, a, b, mode, threshold, vectors=shift, how=how, seed=seed,
                                          floor=floor, onset_temperature=onset_temperature)
                out[key][name_a][name_b] = metrics.recognised(judge, moved, b)
                sounding[key][name_b].append(moved[:, :, FRAME].sum(-1).mean())
                if len(source) > 1:
                    kept[key]["own"] += metrics.chroma_f1(source, moved, fmt).tolist()
                    kept[key]["other"] += metrics.chroma_f1(source, np.roll(moved, 1, axis=0), fmt).tolist()
    out["transfer_notes_per_step"] = {
        "real": {name: _round(held_out[labels == k][:, :, FRAME].sum(-1).mean()) if (labels == k).any() else None
                 for k, name in enumerate(names)},
        **{key: {name: _round(np.mean(v)) if v else None for name, v in by_style.items()}
           for key, by_style in sounding.items()}}
    out["transfer_kept"] = {key: {k: _round(float(np.nanmean(v))) if np.isfinite(v).any() else None
                                  for k, v in ((k, np.asarray(v, float)) for k, v in pair.items())}
                            for key, pair in kept.items()}
    generator = torch.Generator().manual_seed(seed)
    for a, name_a in enumerate(names):
        for b, name_b in enumerate(names):
            if a >= b:
                continue
            z = torch.randn(paths, model.config.latent, generator=generator)
            grids = generate.style_path(model, z, a, b, INTERPOLATION_STEPS, mode="bernoulli", seed=seed,
                                        vectors=vectors, floor=floor, onset_temperature=onset_temperature)
            curves = metrics.predict(judge, grids.reshape(-1, *grids.shape[2:]))[:, b].reshape(paths, -1)
            out["interpolation"][f"{name_a}->{name_b}"] = {
                "t": np.linspace(0, 1, INTERPOLATION_STEPS).tolist(),
                "p_target_mean": curves.mean(0).tolist(), "p_target_std": curves.std(0).tolist(), "paths": paths}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.evaluation", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders (each holding best.pt)")
    parser.add_argument("--data-dir", help="data folder of the dataset cache (default: data/ of the repository)")
    parser.add_argument("--checkpoint", choices=CHECKPOINTS, default="best",
                        help="best.pt (into eval.json) or last.pt (into eval-last.json) (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=500, help="samples drawn from the prior (default: %(default)s)")
    parser.add_argument("--transfers", type=int, default=100,
                        help="test segments per style pair transferred, for a style run (default: %(default)s)")
    parser.add_argument("--paths", type=int, default=20,
                        help="codes per style interpolation and segment pairs per latent one (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the draws measured (default: %(default)s); the drawing is chosen with the "
                        "run's own training seed")
    args = parser.parse_args(argv)
    for name in ("samples", "transfers", "paths"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    for run in args.runs:
        try:
            result = evaluate_run(run, args.data_dir, n_samples=args.samples, seed=args.seed,
                                  transfers=args.transfers, paths=args.paths, checkpoint=args.checkpoint)
        except (CheckpointError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        r = result["reconstruction"]
        print(f"{run} ({result['checkpoint']}, epoch {result['epoch']}): -ELBO {result['test_nll']['elbo']:.1f} "
              f"nats/segment, {result['active_dims']} active dims, "
              f"frame F1 {r['frame_f1']:.3f}, accuracy {r['frame_accuracy']:.3f}, onset F1 {r['onset_f1']:.3f} "
              f"(threshold {result['threshold']['chosen']}; onset floor {result['floor']['chosen']}, onset "
              f"temperature {result['floor']['onset_temperature']}); "
              f"{result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
