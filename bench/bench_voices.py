"""Does a texture keep its voices from step to step? Samples against real segments, per style.

    python -m bench.bench_voices MODEL [MODEL ...] [--samples 300] [--out bench/results/voices.json]

``MODEL`` is a run folder or a shipped model's name. ``--samples`` prior
samples per style, drawn with the onset floor chosen on validation segments
(:func:`helpers.evaluation.choose_floor`: the notebooks' and the evaluation's
choice at onset temperature 1, the model's own probabilities, with the run's
own training seed), beside the
style's real test segments. Of every step where anything sounds, how many
notes sound (1 to 6, the last "6 or more"); of every two consecutive steps
that both sound, the share where that number falls and where it rises; and,
where it falls, how many notes went on into the step ending and how many
started. The polyphony of :mod:`helpers.musicstats` is one mean per segment;
these say whether a texture's voices hold or drop out between one chord and
the next.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.machine import models_bench
from helpers import evaluation, experiment, pretrained
from helpers.pianoroll import FRAME, ONSET

ROOT = Path(__file__).resolve().parents[1]
MOST = 6  # the last count of the distribution: this many notes or more


def voices(grids) -> dict:
    """The voice counts of grids ``(N, T, 2, P)`` and how they change between consecutive steps."""
    grids = np.asarray(grids) != 0
    frame, onset = grids[:, :, FRAME], grids[:, :, ONSET]
    count = frame.sum(-1)
    sounding = count[count > 0]
    share = np.bincount(np.minimum(sounding, MOST), minlength=MOST + 1)[1:] / max(len(sounding), 1)
    before, after = count[:, :-1], count[:, 1:]
    both = (before > 0) & (after > 0)
    falls, rises = both & (after < before), both & (after > before)
    # sounding before and not going on into the step (no longer sounding, or struck again)
    ended = (frame[:, :-1] & ~(frame[:, 1:] & ~onset[:, 1:])).sum(-1)
    started = onset[:, 1:].sum(-1)
    pairs = max(int(both.sum()), 1)
    return {"share": [round(float(s), 4) for s in share],
            "mean": round(float(sounding.mean()), 3) if len(sounding) else None,
            "falls": round(float(falls.sum() / pairs), 4), "rises": round(float(rises.sum() / pairs), 4),
            "ended_where_falling": round(float(ended[falls].mean()), 2) if falls.any() else None,
            "started_where_falling": round(float(started[falls].mean()), 2) if falls.any() else None}


def measure(name: str, samples: int, seed: int = 0, data_dir=None) -> dict:
    model, spec, card, _ = pretrained.load(name)
    splits = experiment.build_splits(spec.data, data_dir or ROOT / "data", progress=False)
    styled = bool(model.config.n_styles)
    valid, test = splits.valid.grids(), splits.test.grids()
    labels = (splits.valid.style, splits.test.style) if styled else (None, None)
    floor, _ = evaluation.choose_floor(model, valid, labels[0], seed=spec.train.seed, unit=splits.train)  # as its run
    row = {"note_ends": model.config.note_ends, "steps": card["steps"], "floor": floor, "samples": samples,
           "styles": {}}
    for group, (k, real) in evaluation.sample_groups(model, splits.styles if styled else [], test, labels[1]).items():
        if not len(real):
            continue
        mine = {"real": voices(real), "samples": voices(evaluation.prior_samples(model, samples, k, seed, floor))}
        row["styles"][group] = mine
        print(f"{name} {group}: voices {mine['real']['mean']} real, {mine['samples']['mean']} drawn; falls at "
              f"{mine['real']['falls']:.3f} of real steps, {mine['samples']['falls']:.3f} of drawn; rises "
              f"{mine['real']['rises']:.3f} / {mine['samples']['rises']:.3f}")
    return row


def main(argv=None) -> dict:
    return models_bench("bench_voices", __doc__, argv, measure, 300, "prior samples per style", "voices.json")


if __name__ == "__main__":
    main()
