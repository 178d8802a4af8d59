"""One set of samples against the test segments of each split: how much of a model's distance from the real
music is its split's?

    python -m bench.bench_splits MODEL [MODEL ...] [--samples 300] [--split-seeds 0 1 2]
                                 [--out bench/results/splits.json]

``MODEL`` is a run folder or a shipped model's name. The seed of a run also
draws its split (``DataConfig.split_seed``), so two seeds' test segments are
other pieces, and a few dozen chorales can be narrower or more in key than
the style. Here ``--samples`` prior samples per style (Bernoulli draws at
floor 0 and onset temperature 1, as the evaluation draws them) are drawn
once, and compared with the test segments of each split of
``--split-seeds`` (default :data:`SPLIT_SEEDS`; the model's data settings
otherwise), statistic by statistic, in the real segments' standard
deviations. The same samples read against two splits say what the split
adds; two models read against one split say what the run adds. Each style's
worst statistic is also summed up over the splits (``over_splits``: its
mean, its largest, and on how many splits it is within half a standard
deviation), a reading of the sample target that no one split decides.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.machine import models_bench
from helpers import evaluation, experiment, musicstats, pretrained

ROOT = Path(__file__).resolve().parents[1]
SPLIT_SEEDS = (0, 1, 2)
WITHIN = 0.5  # real sd: the sample target, every statistic within it


def split_seed(text: str) -> int:
    """A ``--split-seeds`` value: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a split seed is a whole number, 0 or more, not {text!r}")
    return value


def distinct(seeds) -> list[int]:
    """The split seeds, one or more, each once (``ValueError`` otherwise)."""
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"the split seeds name one split or more, each once, not {' '.join(map(str, seeds))!r}")
    return seeds


class Distinct(argparse.Action):
    """``--split-seeds``: each split once (:func:`distinct`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            setattr(namespace, self.dest, distinct(values))
        except ValueError as error:
            parser.error(f"{option_string}: {error}")


def measure(name: str, samples: int, seed: int = 0, data_dir=None, split_seeds=SPLIT_SEEDS) -> dict:
    split_seeds = distinct(split_seeds)
    model, spec, _, _ = pretrained.load(name)
    fmt, styled = model.config.format, bool(model.config.n_styles)
    row = {"own_split_seed": spec.data.split_seed, "splits": {}}
    drawn, worst = {}, {}  # each style's samples, drawn once and read against every split; its worst distances
    for split_seed in split_seeds:
        splits = experiment.build_splits(replace(spec.data, split_seed=split_seed), data_dir or ROOT / "data",
                                         progress=False)
        test = splits.test.grids()
        groups = evaluation.sample_groups(model, splits.styles if styled else [], test, splits.test.style)
        found = row["splits"][str(split_seed)] = {}
        for group, (k, real) in groups.items():
            if group not in drawn:
                drawn[group] = musicstats.statistics(evaluation.prior_samples(model, samples, k, seed), fmt)
            real_stats = musicstats.statistics(real, fmt)
            compared = musicstats.compare(real_stats, drawn[group])
            statistic, distance = musicstats.worst(compared)
            measured = statistic is not None  # not where the test segments spread over no statistic
            if measured:
                worst.setdefault(group, []).append(distance)
            found[group] = {"segments": len(real), "statistics": compared,
                            "worst": {"statistic": statistic, "distance": distance if measured else None}}
            print(f"{name} {group} against split {split_seed}'s {len(real)} test segments"
                  f"{' (its own)' if split_seed == spec.data.split_seed else ''}: "
                  + (f"worst {statistic} {distance:.2f} sd" if measured else "nothing to measure by"))
    row["over_splits"] = {}
    for group, distances in worst.items():  # the styles measured on one split or more
        summed = row["over_splits"][group] = {
            "splits": len(distances), "mean_worst": float(np.mean(distances)), "largest_worst": max(distances),
            "within": sum(d <= WITHIN for d in distances)}
        print(f"{name} {group} over {len(distances)} splits: worst statistic {summed['mean_worst']:.2f} sd on "
              f"average, {summed['largest_worst']:.2f} at most, within {WITHIN} sd on {summed['within']}")
    return row


def main(argv=None) -> dict:
    return models_bench("bench_splits", __doc__, argv, measure, 300, "prior samples per style", "splits.json",
                        {"--split-seeds": dict(type=split_seed, nargs="+", action=Distinct, default=list(SPLIT_SEEDS),
                                               help="the splits whose test segments the samples are read "
                                                    "against (default: %(default)s)")})


if __name__ == "__main__":
    main()
