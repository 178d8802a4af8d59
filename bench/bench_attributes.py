"""Attribute vectors (MusicVAE's latent arithmetic): does adding one to a piece's code give more of its
statistic, and how much else changes with it?

    python -m bench.bench_attributes [MODEL ...] [--segments 100] [--out bench/results/attributes.json]

``MODEL`` is a shipped model's name (default: ``basic`` and ``style``) or a
run folder. For each statistic of :mod:`helpers.musicstats`, the model's
attribute vector (:func:`helpers.generate.attribute_vectors`: the mean code
of the training segments in the statistic's top quarter minus that of its
bottom quarter, at most 2,000 segments, each with its own style) is added,
times each of :data:`AMOUNTS`, to the codes of ``--segments`` held-out test
segments (:func:`helpers.generate.shift_attribute`), decoded as the
notebooks draw samples (Bernoulli draws with the model's onset floor and
temperature; the amounts of one segment share their dice). Per statistic: its
mean over the decoded segments at each amount; whether that rises with the
amount at every step; its change from amount -1 to +1 in real standard
deviations (of the real test segments); and the largest change of any
*other* statistic over the same span, in the same unit (what the vector also
moves).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench.machine import describe, measure_models, write_results
from helpers import experiment, generate, musicstats, pretrained

ROOT = Path(__file__).resolve().parents[1]
AMOUNTS = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)


def measure(name: str, segments: int, seed: int = 0, data_dir=None) -> dict:
    model, spec, card, _ = pretrained.load(name)
    _, floor, onset_temperature = pretrained.drawing(card)
    splits = experiment.build_splits(spec.data, data_dir or ROOT / "data", progress=False)
    styled = bool(model.config.n_styles)
    train = splits.train.grids()
    vectors = generate.attribute_vectors(model, train, splits.train.style if styled else None, seed=seed)
    test = splits.test
    picks = np.sort(np.random.default_rng(seed).choice(len(test), min(segments, len(test)), replace=False))
    grids = test.grids(picks)
    labels = test.style[picks] if styled else None
    fmt = model.config.format
    real = musicstats.statistics(test.grids(), fmt)
    spread = {k: float(np.nanstd(v)) for k, v in real.items()}
    low, high = AMOUNTS.index(-1.0), AMOUNTS.index(1.0)
    rows = {}
    for attribute, vector in vectors.items():
        moved = generate.shift_attribute(model, grids, vector, AMOUNTS, labels, mode="bernoulli", seed=seed,
                                         floor=floor, onset_temperature=onset_temperature)
        means = musicstats.means_along(moved, fmt)
        change = {k: (m[high] - m[low]) / spread[k] if spread[k] else None for k, m in means.items()}
        others = {k: abs(v) for k, v in change.items() if k != attribute and v is not None}
        side = max(others, key=others.get)
        rows[attribute] = {"means": means[attribute], "real_mean": float(np.nanmean(real[attribute])),
                           "real_std": spread[attribute],
                           "rises": bool(np.all(np.diff(means[attribute]) > 0)),
                           "change_sd": change[attribute], "largest_other": side, "largest_other_sd": change[side],
                           "vector_norm": float(vector.norm())}
        print(f"{name} {attribute}: " + " ".join(f"{m:.2f}" for m in means[attribute])
              + f"; -1 to +1: {change[attribute]:+.2f} sd; most else: {side} {change[side]:+.2f} sd", flush=True)
    c = model.config
    return {"model": card.get("name", str(name)), "steps": card.get("steps"), "decoder": c.decoder,
            "styles": list(splits.styles), "segments": len(picks), "floor": floor,
            "onset_temperature": onset_temperature, "attributes": rows}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=list(pretrained.NAMES),
                        help="shipped model names or run folders (default: %(default)s)")
    parser.add_argument("--segments", type=int, default=100, help="held-out segments moved (default: %(default)s)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "attributes.json"))
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if args.segments < 1:
        parser.error("--segments must be positive")
    rows = measure_models(parser, args.models, lambda name: measure(name, args.segments, data_dir=args.data_dir))
    return write_results({"machine": describe(), "amounts": list(AMOUNTS), "models": rows,
                          "command": " ".join(["python -m bench.bench_attributes",
                                               *(sys.argv[1:] if argv is None else argv)])}, args.out)


if __name__ == "__main__":
    main()
