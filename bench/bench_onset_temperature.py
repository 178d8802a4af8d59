"""Onset temperature and onset floor together: do tempered draws bring a model's samples, thinner than its
music, closer to it?

    python -m bench.bench_onset_temperature MODEL [MODEL ...] [--samples 300] [--out FILE]

``MODEL`` is a run folder or a shipped model's name. At every pair of
:data:`TEMPERATURES` and :data:`FLOORS`, ``--samples`` prior samples per
style are drawn as the evaluation draws them
(:func:`helpers.evaluation.prior_samples`: the floor reads the model's own
onset probabilities, the temperature then divides the logits of the onsets
it lets through) and compared, statistic by statistic, with the style's
validation segments and its test segments (the same draws against both):
on validation in standard deviations of the style's training segments, as
:func:`helpers.evaluation.choose_drawing` measures them
(:func:`helpers.evaluation.unit_statistics`), on test in those of the test
segments, as the targets are set. For each pair: each style's mean distance
and its worst statistic on each split (None where the unit's segments of
the style do not spread), and the real segments' mean and standard
deviation of every statistic on each split and in the unit (``real``).
``chosen_on_valid`` is the pair with the lowest mean distance on validation
(averaged over statistics and styles, as
:func:`helpers.evaluation.choose_drawing` measures them, here without its
tolerance), with its test figures: what a choice made without the test
segments gives.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.machine import models_bench
from helpers import evaluation, experiment, musicstats, pretrained

ROOT = Path(__file__).resolve().parents[1]
TEMPERATURES = (1.0, 1.15, 1.3, 1.5)
FLOORS = evaluation.FLOORS  # the floors the notebooks choose from


def measure(name: str, samples: int, seed: int = 0, data_dir=None) -> dict:
    model, spec, _, _ = pretrained.load(name)
    fmt = model.config.format
    splits = experiment.build_splits(spec.data, data_dir or ROOT / "data", progress=False)
    styled = bool(model.config.n_styles)
    real = {}  # split -> group -> (style index, statistics of its real segments)
    for split in ("valid", "test"):
        part = getattr(splits, split)
        groups = evaluation.sample_groups(model, splits.styles if styled else [], part.grids(),
                                          part.style if styled else None)
        real[split] = {g: (k, musicstats.statistics(grids, fmt)) for g, (k, grids) in groups.items() if len(grids)}
    names = [g for g in real["test"] if g in real["valid"]]
    units = evaluation.unit_statistics(model, splits.train, seed=seed)  # style index (None: all) -> statistics
    unit = {"valid": {g: units[real["valid"][g][0]] for g in names}, "test": {g: None for g in names}}
    pairs = {}  # "t{temperature}-f{floor}" -> its figures
    described = {split: {g: real[split][g][1] for g in names} for split in real}
    described["unit"] = unit["valid"]
    row = {"temperatures": list(TEMPERATURES), "floors": list(FLOORS), "pairs": pairs,
           # each statistic's mean and standard deviation over the real segments of each split and of the unit
           "real": {split: {g: {stat: {"mean": float(np.nanmean(v)), "std": float(np.nanstd(v))}
                                for stat, v in described[split][g].items()} for g in names}
                    for split in described}}
    for temperature in TEMPERATURES:
        for floor in FLOORS:
            key = f"t{temperature}-f{floor}"
            figures = {}
            for group in names:
                k = real["test"][group][0]
                drawn = musicstats.statistics(
                    evaluation.prior_samples(model, samples, k, seed, floor, onset_temperature=temperature), fmt)
                figures[group] = {}
                for split in ("valid", "test"):
                    stats, scale = real[split][group][1], unit[split][group]
                    compared = musicstats.compare(stats, drawn, scale)
                    worst, distance = musicstats.worst(compared)  # None: the unit does not spread
                    figures[group][split] = None if worst is None else {
                        "mean": float(np.mean(list(musicstats.measured(compared).values()))),
                        "worst": {"statistic": worst, "distance": distance}}
            pair = pairs[key] = {"temperature": temperature, "floor": floor, "styles": figures}
            for split in ("valid", "test"):
                measured = [figures[g][split] for g in names if figures[g][split] is not None]
                pair[f"{split}_mean"] = float(np.mean([f["mean"] for f in measured])) if measured else None
                pair[f"{split}_worst"] = max(f["worst"]["distance"] for f in measured) if measured else None
            print(f"{name} {key}: " + "; ".join(
                f"{split} mean {pair[f'{split}_mean']:.2f}, worst {pair[f'{split}_worst']:.2f}"
                for split in ("valid", "test") if pair[f"{split}_mean"] is not None) + " (" + ", ".join(
                f"{g} {figures[g]['test']['worst']['statistic']} {figures[g]['test']['worst']['distance']:.2f}"
                for g in names if figures[g]["test"] is not None) + ")", flush=True)
    on_valid = [key for key in pairs if pairs[key]["valid_mean"] is not None]
    chosen = min(on_valid, key=lambda key: pairs[key]["valid_mean"]) if on_valid else None
    row["chosen_on_valid"] = {"pair": chosen, **pairs[chosen]} if chosen else None
    return row


def main(argv=None) -> dict:
    return models_bench("bench_onset_temperature", __doc__, argv, measure, 300,
                        "prior samples per style at each pair of temperature and floor", "onset_temperature.json")


if __name__ == "__main__":
    main()
