"""One onset floor for every style, or a floor per style, and samples from the prior or from where the
training pieces lie: which brings each style's samples closer?

    python -m bench.bench_floor MODEL [MODEL ...] [--samples 100] [--out bench/results/floors.json]

``MODEL`` is a run folder or a shipped model's name. The onset floor
(:func:`helpers.generate.sample`) is chosen on validation segments by
:func:`helpers.evaluation.choose_floor` (the notebooks' and the evaluation's
choice at onset temperature 1): one floor for all of a model's styles. Here
it is also chosen for each style alone, by the same function and rule given
only that style's validation segments. Both choices draw with the run's
own training seed, as its notebook and the evaluation choose. At every floor of
:data:`helpers.evaluation.FLOORS`, ``--samples`` prior samples per style
(drawn as the evaluation draws them) are compared with the style's real test
segments, statistic by statistic, in real standard deviations; each style's
worst statistic is then read at the floor of each choice. The same is
measured of samples drawn from the style's region of the latent space (a
model without styles: that of its training pieces;
:func:`helpers.generate.style_regions`) instead of the whole prior.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.machine import models_bench
from helpers import evaluation, experiment, musicstats, pretrained

ROOT = Path(__file__).resolve().parents[1]


def measure(name: str, samples: int, seed: int = 0, data_dir=None) -> dict:
    model, spec, _, _ = pretrained.load(name)
    fmt = model.config.format
    splits = experiment.build_splits(spec.data, data_dir or ROOT / "data", progress=False)
    valid, test = splits.valid.grids(), splits.test.grids()
    styled = bool(model.config.n_styles)
    labels = (splits.valid.style, splits.test.style) if styled else (None, None)
    chooser = spec.train.seed  # floors are chosen with the run's own seed, as its notebook and evaluation do
    one, one_distance = evaluation.choose_floor(model, valid, labels[0], seed=chooser, unit=splits.train)
    row = {"floors": list(evaluation.FLOORS), "one_floor": one, "styles": {}}
    groups = evaluation.sample_groups(model, splits.styles if styled else [], test, labels[1])
    regions = evaluation.style_regions(model, splits, seed)
    for group, (k, real) in groups.items():
        if k is None:  # a model without styles: its own floor is the one floor
            own, valid_distance = one, one_distance
        else:
            mine = labels[0] == k
            if not mine.any() or not len(real):
                continue  # a style without validation or test segments has nothing to choose or compare
            own, valid_distance = evaluation.choose_floor(model, valid[mine], labels[0][mine], seed=chooser,
                                                          unit=splits.train)
        real_stats, at_floor, in_region = musicstats.statistics(real, fmt), {}, {}
        for floor in evaluation.FLOORS:
            for where, table in ((None, at_floor), (regions, in_region)):
                drawn = evaluation.prior_samples(model, samples, k, seed, floor, where)
                compared = musicstats.compare(real_stats, musicstats.statistics(drawn, fmt))
                worst, distance = musicstats.worst(compared)
                table[str(floor)] = {"mean": float(np.mean(list(musicstats.measured(compared).values()))),
                                     "worst": {"statistic": worst, "distance": distance}}
        chosen = {"one": at_floor[str(one)]["worst"], "own": at_floor[str(own)]["worst"],
                  "region": in_region[str(one)]["worst"]}
        row["styles"][group] = {"valid_distance": {str(f): d for f, d in valid_distance.items()}, "own_floor": own,
                                "test": at_floor, "test_region": in_region, "worst_one_floor": chosen["one"],
                                "worst_own_floor": chosen["own"], "worst_region_one_floor": chosen["region"]}
        print(f"{name} {group}: one floor {one} -> worst {chosen['one']['statistic']} {chosen['one']['distance']:.2f} "
              f"sd; its own floor {own} -> worst {chosen['own']['statistic']} {chosen['own']['distance']:.2f} sd; "
              f"from its region at the one floor -> worst {chosen['region']['statistic']} "
              f"{chosen['region']['distance']:.2f} sd")
    return row


def main(argv=None) -> dict:
    return models_bench("bench_floor", __doc__, argv, measure, 100,
                        "prior samples per style at each floor, as the evaluation's 300 over three styles",
                        "floors.json")


if __name__ == "__main__":
    main()
