"""Musical statistics of a set of grids, to put samples beside real music.

Each statistic is computed per segment (``(T, 2, P)`` grid), so a set gives a
distribution; two sets are compared by their means and by the 1-D Wasserstein
distance between the two distributions (``scipy.stats``), divided by the real data's standard
deviation (0: the same distribution; 1: as far as one typical spread). Where
the real segments are a few pieces that spread less than their music does
(a validation split whose Bach chorales all sound four strict voices), the
unit can be taken from a larger sample of the same music instead (``unit``:
its training segments), so that one narrow statistic does not outweigh the
others.

Statistics (segments without a note give NaN where a statistic needs notes,
and are left out of that statistic):

- ``pitch_range``: highest minus lowest pitch, in semitones;
- ``pitch_class_entropy``: entropy, in bits, of the pitch classes of the
  sounding steps (0: one pitch class; 3.58: all twelve equally);
- ``polyphony``: mean number of notes sounding at the steps where any sounds;
- ``in_scale``: share of notes whose pitch class is in the best-fitting
  diatonic scale (the one of the 12 transpositions of the major scale, and so
  of its modes, that holds the most notes);
- ``empty_beats``: share of beats where nothing sounds;
- ``notes_per_bar``: notes starting per bar;
- ``note_length``: mean note length, in quarter notes.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from .pianoroll import DEFAULT_FORMAT, FRAME, GridFormat, grid_to_notes

STATISTICS = {
    "pitch_range": "pitch range (semitones)",
    "pitch_class_entropy": "pitch-class entropy (bits)",
    "polyphony": "polyphony (notes at sounding steps)",
    "in_scale": "notes in best-fitting scale (share)",
    "empty_beats": "empty beats (share)",
    "notes_per_bar": "notes per bar",
    "note_length": "mean note length (quarters)",
}
MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
SCALES = np.zeros((12, 12), bool)  # SCALES[k, pc]: pitch class pc is in the major scale on k
for _k in range(12):
    SCALES[_k, (MAJOR + _k) % 12] = True


def segment_statistics(grid, fmt: GridFormat = DEFAULT_FORMAT) -> dict:
    """Every statistic of one ``(T, 2, P)`` grid of format ``fmt`` (its window, resolution and metre)."""
    low, steps_per_quarter = fmt.low, fmt.steps_per_quarter
    grid = np.asarray(grid) != 0
    if grid.ndim != 3 or grid.shape[1] != 2:
        raise ValueError(f"grid must have shape (T, 2, P), got {grid.shape}")
    frames = grid[:, FRAME]
    n_steps = len(frames)
    notes = grid_to_notes(grid, fmt)
    beats = frames[: n_steps - n_steps % steps_per_quarter].reshape(-1, steps_per_quarter, frames.shape[1])
    sounding = frames.sum(1)
    stats = {"empty_beats": float(1 - beats.any(axis=(1, 2)).mean()) if len(beats) else np.nan,
             "notes_per_bar": len(notes) * fmt.steps_per_bar / n_steps}
    if not len(notes):
        return {name: stats.get(name, np.nan) for name in STATISTICS}
    pitches = notes[:, 0]
    per_class = np.bincount((np.arange(frames.shape[1]) + low) % 12, weights=frames.sum(0), minlength=12)
    share = per_class / per_class.sum() if per_class.sum() else np.full(12, np.nan)
    share = share[share > 0]
    note_classes = np.bincount(pitches % 12, minlength=12)
    stats.update({
        "pitch_range": float(pitches.max() - pitches.min()),
        "pitch_class_entropy": float(-(share * np.log2(share)).sum()),
        "polyphony": float(sounding[sounding > 0].mean()) if sounding.any() else np.nan,
        "in_scale": float((SCALES @ note_classes).max() / len(notes)),
        "note_length": float((notes[:, 2] - notes[:, 1]).mean() / steps_per_quarter),
    })
    return {name: stats[name] for name in STATISTICS}


def statistics(grids, fmt: GridFormat = DEFAULT_FORMAT) -> dict:
    """Per-segment values of every statistic over grids ``(N, T, 2, P)``: ``{name: (N,) array}``."""
    rows = [segment_statistics(g, fmt) for g in grids]
    return {name: np.array([row[name] for row in rows], float) for name in STATISTICS}


def means_along(moved, fmt: GridFormat = DEFAULT_FORMAT, names=None) -> dict:
    """Grids moved along a path, ``(N, A, T, 2, P)`` (each of ``N`` pieces at ``A`` amounts of an attribute
    vector, :func:`helpers.generate.shift_attribute`): each statistic's mean over the pieces at every amount,
    ``{name: [A floats]}`` (``names``, default all; NaN where no piece gives the statistic)."""
    moved = np.asarray(moved)
    if moved.ndim != 5:
        raise ValueError(f"moved grids must have shape (N, A, T, 2, P), got {moved.shape}")
    names = list(STATISTICS) if names is None else list(names)
    at = [statistics(moved[:, a], fmt) for a in range(moved.shape[1])]
    return {name: [float(np.nanmean(s[name])) if np.isfinite(s[name]).any() else float("nan") for s in at]
            for name in names}


UNMEASURED = 10.0  # real sd: how far a statistic the samples cannot give at all (no notes) counts as


def distances(real: dict, generated: dict, unit: dict | None = None) -> list[float]:
    """The :func:`measured` distances of :func:`compare`'s table, as a list."""
    return list(measured(compare(real, generated, unit)).values())


def measured(compared: dict) -> dict:
    """``{name: distance}`` of a :func:`compare` table, for every statistic its unit segments spread over (one
    they all share has no scale to measure by), each at most :data:`UNMEASURED`, which a statistic the samples
    lack counts as."""
    return {name: UNMEASURED if v["distance"] is None else min(v["distance"], UNMEASURED)
            for name, v in compared.items() if v["unit_std"]}


def compare(real: dict, generated: dict, unit: dict | None = None) -> dict:
    """Side by side: for each statistic, ``real`` and ``generated`` mean and standard deviation, and
    ``distance``, the Wasserstein distance between the two distributions over ``unit_std``, the standard
    deviation of the ``unit`` segments (default the ``real`` ones themselves).

    ``real``, ``generated`` and ``unit`` are outputs of :func:`statistics`; NaNs are left out.
    """
    unit = real if unit is None else unit
    result = {}
    for name in STATISTICS:
        a, b = real[name][~np.isnan(real[name])], generated[name][~np.isnan(generated[name])]
        u = unit[name][~np.isnan(unit[name])]
        spread = float(u.std()) if len(u) else None
        result[name] = {
            "real_mean": float(a.mean()) if len(a) else None, "real_std": float(a.std()) if len(a) else None,
            "generated_mean": float(b.mean()) if len(b) else None,
            "generated_std": float(b.std()) if len(b) else None, "unit_std": spread,
            "distance": float(wasserstein_distance(a, b) / spread) if len(a) and len(b) and spread else None,
        }
    return result


def furthest(real: dict, generated: dict, unit: dict | None = None) -> tuple[str, float]:
    """The :func:`worst` statistic of :func:`compare`'s table."""
    return worst(compare(real, generated, unit))


def worst(compared: dict) -> tuple[str, float]:
    """``(name, distance)``: the statistic of a :func:`compare` table furthest from the real segments, in
    standard deviations of its unit segments (:func:`measured`); ``(None, nan)`` where those segments spread
    over none (a single one)."""
    found = measured(compared)
    if not found:
        return None, float("nan")
    name = max(found, key=found.get)
    return name, found[name]
