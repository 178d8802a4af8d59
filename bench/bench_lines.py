"""How the lines of samples hold together, per style: which steps sound, where notes start together, where a
note is held into a new one; real test segments against samples from the prior.

    python -m bench.bench_lines MODEL [MODEL ...] [--samples 300] [--out bench/results/lines.json]

``MODEL`` is a shipped model's name (``basic``, ``style``) or a run folder.
For a one-voice repertoire (the folk tunes) the real music sounds at nearly
every step, almost never starts two notes at once and never holds a note
into the next; a decoder that draws each note's length at its onset, knowing
nothing of when the next will start, leaves gaps and overlaps that the
per-segment statistics of :mod:`helpers.musicstats` only see as empty beats
and extra voices. Samples are drawn as the evaluation draws them (Bernoulli,
seed ``seed + style``).

Beside them, what the decoder knows where the real music starts one note:
at the test segments' steps with exactly one onset, teacher-forced from each
segment's posterior mean (:func:`helpers.evaluation.teacher_forced`), the
median probability of that onset and the probabilities of onsets at every
other pitch, summed (each given the true cells before it, with a chord
model). A decoder unsure of the pitch spreads it, and independent draws then
start two notes where the music has one.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench.machine import describe, measure_models, write_results
from helpers import evaluation, experiment, pretrained
from helpers.pianoroll import FRAME, ONSET

ROOT = Path(__file__).resolve().parents[1]


def lines(grids) -> dict:
    """Figures over grids ``(N, T, 2, P)``: shares of steps (``sounding``) and of sounding steps."""
    grids = np.asarray(grids) != 0
    frame, onset = grids[:, :, FRAME], grids[:, :, ONSET]
    before = np.concatenate([np.zeros_like(frame[:, :1]), frame[:, :-1]], axis=1)
    voices, starts = frame.sum(-1), onset.sum(-1)
    sounding = voices > 0
    if not sounding.any():
        return {"sounding": 0.0, "polyphony": float("nan"), "two_onsets": float("nan"),
                "held_into_onset": float("nan")}
    held = (frame & before & ~onset).any(-1) & (starts > 0)
    return {"sounding": float(sounding.mean()), "polyphony": float(voices[sounding].mean()),
            "two_onsets": float((starts > 1)[sounding].mean()), "held_into_onset": float(held[sounding].mean())}


def one_onset_steps(grids, probs) -> dict:
    """At the steps of grids ``(N, T, 2, P)`` with exactly one onset: the median probability ``probs`` (same shape)
    gives that onset, and the mean of the probabilities of onsets at the other pitches, summed."""
    onset = np.asarray(grids)[:, :, ONSET] != 0
    p = np.asarray(probs)[:, :, ONSET]
    one = onset.sum(-1) == 1
    if not one.any():
        return {"steps": 0, "p_onset": float("nan"), "other_onsets": float("nan")}
    return {"steps": int(one.sum()), "p_onset": float(np.median(p[one][onset[one]])),
            "other_onsets": float((p[one] * ~onset[one]).sum(-1).mean())}


def measure(name: str, n_samples: int, seed: int = 0, data_dir=None, forced: int = 200) -> dict:
    model, spec, card, _ = pretrained.load(name)
    splits = experiment.build_splits(spec.data, data_dir or ROOT / "data", progress=False)
    groups = evaluation.sample_groups(model, splits.styles, splits.test.grids(), splits.test.style)
    result = {}
    for style, (k, real) in groups.items():
        probed = real[:forced]
        probs = evaluation.teacher_forced(model, probed, None if k is None else np.full(len(probed), k))
        result[style] = {"real": lines(real), "samples": lines(evaluation.prior_samples(model, n_samples, k, seed)),
                         "one_onset_steps": one_onset_steps(probed, probs)}
    c = model.config
    return {"model": card.get("name", str(name)), "steps": card.get("steps"), "decoder": c.decoder,
            "note_ends": c.note_ends, "chords": c.chords + (" with voices" if c.chord_voices else ""),
            "styles": result}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="shipped model names or run folders")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "lines.json"))
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be positive")
    rows = measure_models(parser, args.models, lambda name: measure(name, args.samples, data_dir=args.data_dir))
    for key, row in rows.items():
        for style, figures in row["styles"].items():
            known = figures["one_onset_steps"]
            print(f"{key} {style}: " + ", ".join(
                f"{figure} {figures['real'][figure]:.3f} real / {figures['samples'][figure]:.3f} samples"
                for figure in figures["real"])
                + f"; at {known['steps']} steps of one onset, P(it) {known['p_onset']:.3f}, "
                  f"other onsets {known['other_onsets']:.2f}")
    return write_results({"machine": describe(), "samples": args.samples, "models": rows,
                          "command": "python -m bench.bench_lines " + " ".join(argv or sys.argv[1:])}, args.out)


if __name__ == "__main__":
    main()
