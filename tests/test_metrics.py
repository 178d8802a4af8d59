"""Reconstruction scores (mir_eval) and musical statistics, on grids small enough to count by hand."""
import numpy as np
import pytest

from helpers import metrics, musicstats
from helpers.pianoroll import GridFormat, notes_to_grid

FMT = GridFormat(low=60, high=71)
WIDE = GridFormat(low=48, high=84)


def grids(*note_lists, steps=8):
    return np.stack([notes_to_grid(np.array(n).reshape(-1, 3), steps, FMT) for n in note_lists])


def test_reconstruction_scores_counted_by_hand():
    real = grids([[60, 0, 4], [64, 0, 4], [67, 4, 8]])  # 12 sounding cells, 3 notes
    decoded = grids([[60, 0, 4], [65, 0, 4], [67, 4, 6]])  # 10 cells, 6 of them right
    scores = metrics.reconstruction_scores(real, decoded, FMT)
    assert scores["frame_precision"] == pytest.approx(6 / 10)
    assert scores["frame_recall"] == pytest.approx(6 / 12)
    assert scores["frame_f1"] == pytest.approx(2 * 6 / 22)
    assert scores["frame_accuracy"] == pytest.approx(6 / (6 + 4 + 6))  # Bay et al.: TP / (TP + FP + FN)
    # notes: 60 and 67 start right (65 is a wrong pitch); 67 ends 2 steps early, beyond 20% of its length
    assert scores["onset_precision"] == scores["onset_recall"] == pytest.approx(2 / 3)
    assert scores["note_f1"] == pytest.approx(1 / 3)


def test_onset_one_step_late_does_not_match():
    real, late = grids([[60, 0, 4]]), grids([[60, 1, 4]])
    assert metrics.note_scores(real, late, FMT)["f1"] == 0.0
    assert metrics.reconstruction_scores(real, real, FMT) == pytest.approx(
        {k: 1.0 for k in metrics.reconstruction_scores(real, real, FMT)})


def test_scores_sum_counts_over_segments():
    real = grids([[60, 0, 8]], [[62, 0, 2], [64, 2, 4], [65, 4, 6], [67, 6, 8]])
    decoded = grids([[61, 0, 8]], [[62, 0, 2], [64, 2, 4], [65, 4, 6], [67, 6, 8]])
    # micro average: 4 of 5 notes, not the mean of 0 and 1
    assert metrics.note_scores(real, decoded, FMT)["f1"] == pytest.approx(0.8)
    assert metrics.frame_scores(real, decoded, FMT)["recall"] == pytest.approx(8 / 16)


def test_empty_and_mismatched_inputs():
    empty = np.zeros((2, 8, 2, 12), bool)
    assert metrics.reconstruction_scores(empty, empty, FMT) == {k: 0.0 for k in (
        "frame_precision", "frame_recall", "frame_f1", "frame_accuracy", "onset_precision", "onset_recall",
        "onset_f1", "note_f1")}
    with pytest.raises(ValueError, match="shape"):
        metrics.frame_scores(empty, empty[:, :4], FMT)


def test_segment_statistics_by_hand():
    # a C major triad for two beats, D for one beat, one silent beat: one bar of 4/4
    g = notes_to_grid(np.array([[60, 0, 8], [64, 0, 8], [67, 0, 8], [62, 8, 12]]), 16, WIDE)
    s = musicstats.segment_statistics(g, WIDE)
    shares = np.array([2, 2, 2, 1]) / 7  # pitch classes C, E, G over 8 steps each, D over 4
    assert s == pytest.approx({"pitch_range": 7, "pitch_class_entropy": -(shares * np.log2(shares)).sum(),
                               "polyphony": 28 / 12, "in_scale": 1.0, "empty_beats": 0.25, "notes_per_bar": 4,
                               "note_length": 1.75})


def test_in_scale_picks_the_best_scale():
    # C D E F# G: 4 of 5 in C major, 5 of 5 in G major
    g = notes_to_grid(np.array([[60, 0, 1], [62, 1, 2], [64, 2, 3], [66, 3, 4], [67, 4, 5]]), 16, WIDE)
    assert musicstats.segment_statistics(g, WIDE)["in_scale"] == 1.0
    # all twelve pitch classes: 7 of 12 in any scale
    g = notes_to_grid(np.array([[60 + k, k, k + 1] for k in range(12)]), 16, WIDE)
    assert musicstats.segment_statistics(g, WIDE)["in_scale"] == pytest.approx(7 / 12)


def test_empty_segment_and_comparison():
    empty = np.zeros((16, 2, 37), bool)
    s = musicstats.segment_statistics(empty, WIDE)
    assert s["empty_beats"] == 1.0 and s["notes_per_bar"] == 0 and np.isnan(s["pitch_range"])
    g = notes_to_grid(np.array([[60, 0, 4]]), 16, WIDE)
    real = musicstats.statistics([g, g, empty], WIDE)
    same = musicstats.compare(real, real)
    assert same["pitch_range"]["distance"] is None  # no spread in the real data: no scale to measure by
    assert same["empty_beats"]["distance"] == 0.0
    shifted = musicstats.compare(real, {k: v + 1 for k, v in real.items()})
    spread = real["notes_per_bar"].std()
    assert shifted["notes_per_bar"]["distance"] == pytest.approx(1 / spread)
    assert shifted["notes_per_bar"]["generated_mean"] == pytest.approx(real["notes_per_bar"].mean() + 1)
    # the furthest statistic: of those the real segments spread over, the one the shift moved most
    distances = {k: v["distance"] for k, v in shifted.items() if v["real_std"]}
    assert musicstats.furthest(real, {k: v + 1 for k, v in real.items()}) == (
        max(distances, key=distances.get), pytest.approx(max(distances.values())))
    assert musicstats.worst(shifted) == musicstats.furthest(real, {k: v + 1 for k, v in real.items()})
    assert musicstats.furthest(musicstats.statistics([g], WIDE), real)[0] is None  # one real segment: no spread
    # samples without a note give no pitch range at all: the furthest possible, not left out
    silent = musicstats.compare(real, musicstats.statistics([empty, empty], WIDE))
    assert silent["pitch_range"]["distance"] is None
    moved = {k: v + np.arange(3) for k, v in real.items()}  # now the real pitch ranges spread
    assert musicstats.worst(musicstats.compare(moved, musicstats.statistics([empty, empty], WIDE))) == (
        "pitch_range", musicstats.UNMEASURED)
    assert musicstats.measured(silent) == {k: v["distance"] for k, v in silent.items() if v["unit_std"]}


def test_distances_can_be_measured_in_another_sets_spread():
    """``unit``: the distances are divided by another set's standard deviation (a larger sample of the same
    music), which also measures real segments too few to spread."""
    empty = np.zeros((16, 2, 37), bool)
    grids = [notes_to_grid(np.array([[60 + k, 0, 4]] * (k > 0) + [[64, 4, 8]]), 16, WIDE) for k in range(4)]
    real, more = musicstats.statistics(grids[:2], WIDE), musicstats.statistics(grids + [empty], WIDE)
    shifted = {k: v + 1 for k, v in real.items()}
    own, other = musicstats.compare(real, shifted), musicstats.compare(real, shifted, unit=more)
    for name in musicstats.STATISTICS:
        unit = np.nanstd(more[name])
        assert other[name]["unit_std"] == pytest.approx(unit) and other[name]["real_std"] == own[name]["real_std"]
        assert own[name]["unit_std"] == own[name]["real_std"]  # by default, the real segments' own
        if unit:
            assert other[name]["distance"] == pytest.approx(1 / unit)
    assert musicstats.distances(real, shifted, more) == pytest.approx(
        [1 / np.nanstd(more[n]) for n in musicstats.STATISTICS if np.nanstd(more[n])])
    one = musicstats.statistics(grids[:1], WIDE)  # a single segment: measurable only in another's spread
    assert musicstats.furthest(one, shifted)[0] is None and musicstats.distances(one, shifted) == []
    name, distance = musicstats.furthest(one, shifted, more)
    assert name is not None and distance == max(musicstats.distances(one, shifted, more))


def test_notes_per_bar_follow_the_metre():
    g = notes_to_grid(np.array([[60, k, k + 1] for k in range(0, 24, 4)]), 24, WIDE)  # six quarter notes
    assert musicstats.segment_statistics(g, WIDE)["notes_per_bar"] == 4  # 24 steps: 1.5 bars of 4/4
    three = GridFormat(low=48, high=84, time_signature=(3, 4))
    assert musicstats.segment_statistics(g, three)["notes_per_bar"] == 3  # 2 bars of 3/4


def test_frame_scores_of_a_test_set_longer_than_mir_eval_takes_at_once(monkeypatch):
    # mir_eval refuses a sequence longer than its MAX_TIME (30,000 s: 3,750 segments of 64 steps at 125 ms). Here
    # it takes 300 s, so 120 segments (960 s) are scored in four pieces whose counts are summed.
    import mir_eval

    monkeypatch.setattr(mir_eval.multipitch, "MAX_TIME", 300.0)
    rng = np.random.default_rng(0)
    real = np.zeros((120, 64, 2, 12), bool)
    real[:, :, 0] = rng.random((120, 64, 12)) < 0.2
    decoded = real.copy()
    decoded[:, :, 0] ^= rng.random((120, 64, 12)) < 0.1
    times, silent = np.arange(120 * 64) * 0.125, [np.array([])] * (120 * 64)
    with pytest.raises(ValueError, match="maximum allowable time"):  # in one piece, refused
        mir_eval.multipitch.validate(times, silent, times, silent)
    tp = int((real[:, :, 0] & decoded[:, :, 0]).sum())
    n_real, n_decoded = int(real[:, :, 0].sum()), int(decoded[:, :, 0].sum())
    scores = metrics.frame_scores(real, decoded, FMT)
    assert scores["precision"] == pytest.approx(tp / n_decoded) and scores["recall"] == pytest.approx(tp / n_real)
    assert scores["accuracy"] == pytest.approx(tp / (n_real + n_decoded - tp))


def test_chroma_f1_folds_octaves_and_counts_steps():
    wide = GridFormat(low=48, high=71)
    a = np.zeros((4, 8, 2, wide.n_pitches), bool)
    a[:, :4, 0, 12] = True  # C4 for the first half
    a[:, 4:, 0, 16] = True  # E4 for the second
    b = a.copy()
    b[1] = np.roll(a[1], -12, axis=-1)  # an octave lower: the same pitch classes
    b[2, :, 0] = False
    b[2, :, 0, 14] = True  # D throughout: nothing shared
    b[3] = 0
    b[3, :4, 0, 12] = True  # only the first half kept
    a[0], b[0] = False, False  # neither sounds: no figure
    f1 = metrics.chroma_f1(a, b, wide)
    assert np.isnan(f1[0]) and f1[1] == 1.0 and f1[2] == 0.0 and f1[3] == pytest.approx(2 * 4 / (8 + 4))
    with pytest.raises(ValueError, match="one shape"):
        metrics.chroma_f1(a, b[:2], wide)


def test_an_ensemble_of_judges_gives_their_mean_probability():
    import torch

    torch.manual_seed(0)
    config = metrics.ClassifierConfig(n_pitches=6, n_styles=3, channels=4, layers=2)
    members = [metrics.StyleClassifier(config) for _ in range(3)]
    grids = np.random.default_rng(0).random((5, 16, 2, 6)) < 0.3
    ensemble = metrics.JudgeEnsemble(members)
    probs = metrics.predict(ensemble, grids)
    np.testing.assert_allclose(probs, np.mean([metrics.predict(m, grids) for m in members], axis=0), atol=1e-6)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    assert ensemble.config is config
    with pytest.raises(ValueError, match="at least one judge"):
        metrics.JudgeEnsemble([])
