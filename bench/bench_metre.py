"""Segments in the grid's metre, or of every metre cut into its bars: how a model trained on each
scores on each.

    python -m bench.bench_metre MODEL [MODEL ...] [--samples 300] [--out bench/results/metre.json]

``MODEL`` is a run folder or a shipped model's name. Its data settings are
rebuilt twice: test and validation segments in the grid's metre
(``DataConfig.any_metre`` False, the default since segments keep their
metre) and of every metre (True, as every model before was trained). On each:
free-running reconstruction from the posterior mean at the threshold chosen
on the matching validation segments (as :mod:`helpers.evaluation` does), and
``--samples`` prior samples per style (Bernoulli draws, as the evaluation
draws them) against the real test segments, statistic by statistic, in real
standard deviations. Each model's own setting is recorded, so one table says
what training on segments in the grid's metre changes.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.machine import models_bench
from helpers import evaluation, experiment, musicstats, pretrained

ROOT = Path(__file__).resolve().parents[1]


def measure(name: str, samples: int, seed: int = 0, data_dir=None) -> dict:
    model, spec, _, _ = pretrained.load(name)
    names_of = lambda splits: splits.styles if model.config.n_styles else []  # noqa: E731
    row = {"trained_any_metre": spec.data.any_metre, "test": {}}
    for any_metre in (False, True):
        splits = experiment.build_splits(replace(spec.data, any_metre=any_metre), data_dir or ROOT / "data",
                                         progress=False)
        test, valid = splits.test.grids(), splits.valid.grids()
        labels = (splits.valid.style, splits.test.style) if model.config.n_styles else (None, None)
        rec = evaluation.reconstruction(model, valid, test, *labels)
        groups = evaluation.sample_groups(model, names_of(splits), test, splits.test.style)
        distances, worst = {}, {}
        for group, (k, real) in groups.items():
            drawn = evaluation.prior_samples(model, samples, k, seed)
            compared = musicstats.compare(musicstats.statistics(real, model.config.format),
                                          musicstats.statistics(drawn, model.config.format))
            distances[group] = {stat: v["distance"] for stat, v in compared.items()}
            worst[group] = dict(zip(("statistic", "distance"), musicstats.worst(compared)))
        scores = row["test"]["every_metre" if any_metre else "grid_metre"] = {
            "segments": len(test), "threshold": rec["threshold"],
            "reconstruction": {k: rec["scores"][k] for k in ("frame_f1", "onset_f1", "note_f1")},
            "sample_distances": distances,
            "worst": worst}
        said = ", ".join(f"{group} {w['statistic']} {w['distance']:.2f}" for group, w in scores["worst"].items())
        print(f"{name} (trained {'every metre' if spec.data.any_metre else 'in the grid metre'}) on "
              f"{'every metre' if any_metre else 'the grid metre'}: {len(test)} test segments, frame F1 "
              f"{scores['reconstruction']['frame_f1']:.3f}, onset F1 {scores['reconstruction']['onset_f1']:.3f}, "
              f"worst statistic {said}")
    return row


def main(argv=None) -> dict:
    return models_bench("bench_metre", __doc__, argv, measure, 300, "prior samples per style", "metre.json")


if __name__ == "__main__":
    main()
