"""One set of samples against the test segments of each split: how much of a model's distance from the real
music is its split's?

    python -m bench.bench_splits MODEL [MODEL ...] [--samples 300] [--out bench/results/splits.json]

``MODEL`` is a run folder or a shipped model's name. The seed of a run also
draws its split (``DataConfig.split_seed``), so two seeds' test segments are
other pieces, and a few dozen chorales can be narrower or more in key than
the style. Here ``--samples`` prior samples per style (Bernoulli draws at
floor 0 and onset temperature 1, as the evaluation draws them) are drawn
once, and compared with the test segments of each split of
:data:`SPLIT_SEEDS` (the model's data settings otherwise), statistic by
statistic, in the real segments' standard deviations. The same samples read
against two splits say what the split adds; two models read against one
split say what the run adds.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.machine import models_bench
from helpers import evaluation, experiment, musicstats, pretrained

ROOT = Path(__file__).resolve().parents[1]
SPLIT_SEEDS = (0, 1)


def measure(name: str, samples: int, seed: int = 0, data_dir=None) -> dict:
    model, spec, _, _ = pretrained.load(name)
    fmt, styled = model.config.format, bool(model.config.n_styles)
    row = {"own_split_seed": spec.data.split_seed, "splits": {}}
    drawn = {}  # each style's samples, drawn once and read against every split
    for split_seed in SPLIT_SEEDS:
        splits = experiment.build_splits(replace(spec.data, split_seed=split_seed), data_dir or ROOT / "data",
                                         progress=False)
        test = splits.test.grids()
        groups = evaluation.sample_groups(model, splits.styles if styled else [], test, splits.test.style)
        found = row["splits"][str(split_seed)] = {}
        for group, (k, real) in groups.items():
            if group not in drawn:
                drawn[group] = musicstats.statistics(evaluation.prior_samples(model, samples, k, seed), fmt)
            real_stats = musicstats.statistics(real, fmt)
            statistic, distance = musicstats.furthest(real_stats, drawn[group])
            compared = musicstats.compare(real_stats, drawn[group])
            measured = statistic is not None  # not where the test segments spread over no statistic
            found[group] = {"segments": len(real), "statistics": compared,
                            "worst": {"statistic": statistic, "distance": distance if measured else None}}
            print(f"{name} {group} against split {split_seed}'s {len(real)} test segments"
                  f"{' (its own)' if split_seed == spec.data.split_seed else ''}: "
                  + (f"worst {statistic} {distance:.2f} sd" if measured else "nothing to measure by"))
    return row


def main(argv=None) -> dict:
    return models_bench("bench_splits", __doc__, argv, measure, 300, "prior samples per style", "splits.json")


if __name__ == "__main__":
    main()
